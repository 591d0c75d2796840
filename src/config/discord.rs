//! The Discord bot's settings; present only when `DISCORD_TOKEN` is set.

use std::time::Duration;

use super::{ConfigError, Secret, parse};

/// How the bot reaches Discord and how it treats newcomers.
#[derive(Debug, Clone)]
pub struct DiscordSettings {
    pub token: Secret<String>,
    /// Restrict the bot to this server (and register its commands there, which is instant).
    pub guild_id: Option<u64>,
    pub member_role_name: String,
    pub unverified_role_name: String,
    pub verification_channel_name: String,
    pub log_channel_name: Option<String>,
    /// Default time a newcomer has to verify; `/set_timeout` overrides it per server.
    pub verification_timeout: Duration,
    pub max_verify_attempts: u32,
    /// More kicks than this due within a minute are held for an admin to confirm.
    pub kick_burst_limit: u32,
    /// REST base (host and port, and whether it is plain http), for HTTP proxies and tests.
    pub api_proxy: Option<(String, bool)>,
    pub gateway_url: Option<String>,
    pub role_rules: Vec<RoleRule>,
    pub community_name: String,
    /// With several replicas on one PostgreSQL: how soon another replica takes the
    /// gateway over when the one holding it dies or loses the database.
    pub leader_takeover: Duration,
}

/// "Invitees whose `field` is `value` also get the role `role`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    pub field: RuleField,
    pub value: String,
    pub role: String,
}

impl RoleRule {
    /// Whether this rule gives its role to an invitee with these roster fields.
    pub fn applies(&self, college: &str, branch: &str, year: &str) -> bool {
        let value = match self.field {
            RuleField::College => college,
            RuleField::Branch => branch,
            RuleField::Year => year,
        };
        value.eq_ignore_ascii_case(&self.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleField {
    College,
    Branch,
    Year,
}

impl DiscordSettings {
    pub(super) fn from_vars(
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(token) = var("DISCORD_TOKEN") else {
            return Ok(None);
        };
        let guild_id =
            match var("DISCORD_GUILD_ID") {
                None => None,
                Some(raw) => Some(raw.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(
                    || {
                        ConfigError::new(
                            "DISCORD_GUILD_ID",
                            format!("'{raw}' is not a Discord server id"),
                        )
                    },
                )?),
            };
        let timeout: u64 = parse(var, "VERIFICATION_TIMEOUT", 300)?;
        if !(1..=7 * 24 * 3600).contains(&timeout) {
            return Err(ConfigError::new(
                "VERIFICATION_TIMEOUT",
                "must be between 1 second and 7 days (in seconds)",
            ));
        }
        let max_verify_attempts: u32 = parse(var, "MAX_VERIFY_ATTEMPTS", 3)?;
        if max_verify_attempts == 0 {
            return Err(ConfigError::new(
                "MAX_VERIFY_ATTEMPTS",
                "must be at least 1",
            ));
        }
        let kick_burst_limit: u32 = parse(var, "KICK_BURST_LIMIT", 10)?;
        if kick_burst_limit == 0 {
            return Err(ConfigError::new("KICK_BURST_LIMIT", "must be at least 1"));
        }
        let takeover: u64 = parse(var, "LEADER_TAKEOVER_SECS", 15)?;
        if !(1..=3600).contains(&takeover) {
            return Err(ConfigError::new(
                "LEADER_TAKEOVER_SECS",
                "must be between 1 and 3600 seconds",
            ));
        }
        let api_proxy = var("DISCORD_API_URL")
            .map(|raw| api_proxy(&raw))
            .transpose()?;
        let gateway_url = var("DISCORD_GATEWAY_URL")
            .map(|raw| {
                let ok = raw.starts_with("ws://") || raw.starts_with("wss://");
                ok.then(|| raw.trim_end_matches('/').to_owned())
                    .ok_or_else(|| {
                        ConfigError::new("DISCORD_GATEWAY_URL", "must start with ws:// or wss://")
                    })
            })
            .transpose()?;
        let name =
            |var_name: &str, default: &str| var(var_name).unwrap_or_else(|| default.to_owned());
        Ok(Some(Self {
            token: Secret::new(token),
            guild_id,
            member_role_name: name("MEMBER_ROLE_NAME", "member"),
            unverified_role_name: name("UNVERIFIED_ROLE_NAME", "unverified"),
            verification_channel_name: name("VERIFICATION_CHANNEL_NAME", "verification"),
            log_channel_name: var("LOG_CHANNEL_NAME"),
            verification_timeout: Duration::from_secs(timeout),
            max_verify_attempts,
            kick_burst_limit,
            api_proxy,
            gateway_url,
            role_rules: var("ROLE_RULES")
                .map(|raw| role_rules(&raw))
                .transpose()?
                .unwrap_or_default(),
            community_name: name("COMMUNITY_NAME", "Our community"),
            leader_takeover: Duration::from_secs(takeover),
        }))
    }
}

/// twilight-http takes a proxy as `host:port` plus "is it plain http".
fn api_proxy(raw: &str) -> Result<(String, bool), ConfigError> {
    let url = url::Url::parse(raw)
        .map_err(|_| ConfigError::new("DISCORD_API_URL", format!("'{raw}' is not a URL")))?;
    let plain = match url.scheme() {
        "http" => true,
        "https" => false,
        _ => {
            return Err(ConfigError::new(
                "DISCORD_API_URL",
                "must start with http:// or https://",
            ));
        }
    };
    let host = url
        .host_str()
        .ok_or_else(|| ConfigError::new("DISCORD_API_URL", format!("'{raw}' has no host")))?;
    let host_port = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok((host_port, plain))
}

/// `year=2026:Class of 2026;branch=CSE:CSE`
fn role_rules(raw: &str) -> Result<Vec<RoleRule>, ConfigError> {
    let invalid = |rule: &str, why: &str| {
        ConfigError::new(
            "ROLE_RULES",
            format!("'{rule}': {why} (expected field=value:Role name)"),
        )
    };
    raw.split(';')
        .map(str::trim)
        .filter(|rule| !rule.is_empty())
        .map(|rule| {
            let (condition, role) = rule
                .split_once(':')
                .ok_or_else(|| invalid(rule, "no ':'"))?;
            let (field, value) = condition
                .split_once('=')
                .ok_or_else(|| invalid(rule, "no '='"))?;
            let field = match field.trim().to_ascii_lowercase().as_str() {
                "college" => RuleField::College,
                "branch" => RuleField::Branch,
                "year" => RuleField::Year,
                _ => return Err(invalid(rule, "the field must be college, branch or year")),
            };
            let (value, role) = (value.trim(), role.trim());
            if value.is_empty() || role.is_empty() {
                return Err(invalid(rule, "empty value or role"));
            }
            Ok(RoleRule {
                field,
                value: value.to_owned(),
                role: role.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_rules_parse_and_report_mistakes() {
        let rules = role_rules("year=2026:Class of 2026; branch = CSE : CSE ;").unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0],
            RoleRule {
                field: RuleField::Year,
                value: "2026".into(),
                role: "Class of 2026".into()
            }
        );
        assert_eq!(rules[1].field, RuleField::Branch);
        for bad in ["year2026:X", "year=2026", "colour=red:Red", "year=:X"] {
            assert_eq!(role_rules(bad).unwrap_err().var, "ROLE_RULES", "{bad}");
        }
    }

    #[test]
    fn the_api_url_becomes_a_proxy_host_and_scheme() {
        assert_eq!(
            api_proxy("http://127.0.0.1:5000").unwrap(),
            ("127.0.0.1:5000".into(), true)
        );
        assert_eq!(
            api_proxy("https://proxy.example.org/").unwrap(),
            ("proxy.example.org".into(), false)
        );
        assert!(api_proxy("ftp://x").is_err());
    }
}
