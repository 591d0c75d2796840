//! One-click join through Discord's OAuth2: present only when `DISCORD_CLIENT_ID` is set,
//! and then it needs the client secret, `PUBLIC_URL`, the bot and its server.

use super::{ConfigError, Secret};

/// Discord's authorization page, unless `DISCORD_OAUTH_URL` says otherwise.
pub const DEFAULT_OAUTH_URL: &str = "https://discord.com/oauth2/authorize";
/// Discord's REST base, unless `DISCORD_API_URL` says otherwise.
const DEFAULT_API_URL: &str = "https://discord.com";

/// How doorman signs invitees in with Discord and adds them to the server.
#[derive(Debug, Clone)]
pub struct JoinSettings {
    pub client_id: String,
    pub client_secret: Secret<String>,
    /// Where the browser is sent to consent (`DISCORD_OAUTH_URL`).
    pub authorize_url: url::Url,
    /// `PUBLIC_URL/join/callback`, the redirect URI registered with Discord.
    pub redirect_uri: url::Url,
    /// `PUBLIC_URL/join/`, the start of every invitee's personal link.
    pub link_base: String,
    /// REST base (`…/api/v10`) for the token exchange, `/users/@me` and Add Guild Member.
    pub api_base: String,
    pub bot_token: Secret<String>,
    pub guild_id: u64,
    pub member_role_name: String,
    pub unverified_role_name: String,
}

impl JoinSettings {
    /// An invitee's personal link for `token`.
    pub fn link(&self, token: &str) -> String {
        format!("{}{token}", self.link_base)
    }
}

pub(super) fn from_lookup(
    var: &impl Fn(&str) -> Option<String>,
    public_url: Option<&url::Url>,
    discord: Option<&super::DiscordSettings>,
) -> Result<Option<JoinSettings>, ConfigError> {
    let Some(client_id) = var("DISCORD_CLIENT_ID") else {
        return Ok(None);
    };
    if client_id.parse::<u64>().is_err() {
        return Err(ConfigError::new(
            "DISCORD_CLIENT_ID",
            format!("'{client_id}' is not an application id"),
        ));
    }
    let client_secret = var("DISCORD_CLIENT_SECRET").ok_or_else(|| {
        ConfigError::new(
            "DISCORD_CLIENT_SECRET",
            "must be set with DISCORD_CLIENT_ID (the Developer Portal's OAuth2 page)",
        )
    })?;
    let public_url = public_url.ok_or_else(|| {
        ConfigError::new(
            "PUBLIC_URL",
            "must be set with DISCORD_CLIENT_ID: Discord sends invitees back to it",
        )
    })?;
    let discord = discord.ok_or_else(|| {
        ConfigError::new(
            "DISCORD_TOKEN",
            "must be set with DISCORD_CLIENT_ID: the bot adds invitees to the server",
        )
    })?;
    let guild_id = discord.guild_id.ok_or_else(|| {
        ConfigError::new(
            "DISCORD_GUILD_ID",
            "must be set with DISCORD_CLIENT_ID: the server invitees join",
        )
    })?;
    let raw = var("DISCORD_OAUTH_URL").unwrap_or_else(|| DEFAULT_OAUTH_URL.to_owned());
    let authorize_url = url::Url::parse(&raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            ConfigError::new(
                "DISCORD_OAUTH_URL",
                format!("'{raw}' is not an http(s) URL"),
            )
        })?;
    let mut base = public_url.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let link_base = base
        .join("join/")
        .expect("a relative path joins")
        .to_string();
    let redirect_uri = base.join("join/callback").expect("a relative path joins");
    let api = var("DISCORD_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    Ok(Some(JoinSettings {
        client_id,
        client_secret: Secret::new(client_secret),
        authorize_url,
        redirect_uri,
        link_base,
        api_base: format!("{}/api/v10", api.trim_end_matches('/')),
        bot_token: discord.token.clone(),
        guild_id,
        member_role_name: discord.member_role_name.clone(),
        unverified_role_name: discord.unverified_role_name.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<JoinSettings>, ConfigError> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let discord = super::super::DiscordSettings::from_vars(&lookup)?;
        let public = lookup("PUBLIC_URL").map(|u| url::Url::parse(&u).unwrap());
        from_lookup(&lookup, public.as_ref(), discord.as_ref())
    }

    const ALL: [(&str, &str); 5] = [
        ("DISCORD_CLIENT_ID", "1234"),
        ("DISCORD_CLIENT_SECRET", "s3cret"),
        ("PUBLIC_URL", "https://doorman.example.org/base"),
        ("DISCORD_TOKEN", "bot"),
        ("DISCORD_GUILD_ID", "42"),
    ];

    #[test]
    fn off_without_a_client_id() {
        assert!(settings(&[]).unwrap().is_none());
    }

    #[test]
    fn builds_the_redirect_uri_and_links_from_the_public_address() {
        let join = settings(&ALL).unwrap().unwrap();
        assert_eq!(
            join.redirect_uri.as_str(),
            "https://doorman.example.org/base/join/callback"
        );
        assert_eq!(
            join.link("ABCD2345"),
            "https://doorman.example.org/base/join/ABCD2345"
        );
        assert_eq!(join.authorize_url.as_str(), DEFAULT_OAUTH_URL);
        assert_eq!(join.api_base, "https://discord.com/api/v10");
        assert_eq!(join.guild_id, 42);
    }

    #[test]
    fn names_what_is_missing() {
        for (i, (var, _)) in ALL.iter().enumerate().skip(1) {
            let mut vars = ALL.to_vec();
            vars.remove(i);
            let error = settings(&vars).unwrap_err();
            assert_eq!(error.var, *var);
        }
        let mut vars = ALL.to_vec();
        vars.push(("DISCORD_OAUTH_URL", "discord.com"));
        assert_eq!(settings(&vars).unwrap_err().var, "DISCORD_OAUTH_URL");
    }
}
