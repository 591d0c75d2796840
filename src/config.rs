//! Settings, read once at start-up from the environment (and a `.env` file).
//!
//! Every variable is parsed here, so a bad value stops start-up with a message naming
//! the variable instead of failing later in the middle of a request.

mod database;
mod discord;
mod email;
mod http;
mod join;
mod observe;
mod secret;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use discord::{DiscordSettings, RoleRule, RuleField};
pub use email::{EmailRoute, EmailSettings, SendGridSettings, Sender, SmtpSettings};
pub use http::{ApiKeyThrottle, HttpSettings, TrustedProxies};
pub use join::JoinSettings;
pub use observe::{LogFormat, ObserveSettings};
pub use secret::{Secret, SecretSource};
pub use web::WebSettings;

/// Everything doorman needs to run, typed and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind_addr: SocketAddr,
    pub database_url: Secret<String>,
    pub data_dir: PathBuf,
    /// The admin API key (`SECRET_KEY`), compared in constant time against `x-api-key`.
    pub api_key: Secret<String>,
    pub api_key_source: SecretSource,
    /// Server-side secret that keys token hashes and token encryption; never the API key,
    /// so that leaking one does not give away the other.
    pub token_secret: Secret<Vec<u8>>,
    pub token_expiry: chrono::Duration,
    pub token_length: usize,
    pub throttle: ThrottleSettings,
    pub max_upload_bytes: u64,
    pub email: EmailSettings,
    /// The bot's settings, when `DISCORD_TOKEN` is set.
    pub discord: Option<DiscordSettings>,
    /// Peers whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// Wrong `x-api-key` attempts allowed per client address and window.
    pub api_key_throttle: ApiKeyThrottle,
    pub http: HttpSettings,
    /// How long an SQLite statement waits for another connection's write lock before it
    /// fails (`SQLITE_BUSY_TIMEOUT_MS`).
    pub sqlite_busy_timeout: Duration,
    /// The admin UI's (`PUBLIC_URL`, `SESSION_HOURS`).
    pub web: WebSettings,
    /// `/metrics` access and the shutdown's grace (`METRICS_TOKEN`, `SHUTDOWN_GRACE_SECONDS`).
    pub observe: ObserveSettings,
    /// One-click join through Discord's OAuth2, when `DISCORD_CLIENT_ID` is set.
    pub join: Option<JoinSettings>,
}

/// How guessing is slowed down, within `window`: `max_failures` per email and source (a
/// Discord account or a client address), `max_per_email` per email across sources, so many
/// guessers together are still stopped, and `max_per_source` per source across emails, so
/// one guesser cannot probe many invitations.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    pub max_failures: u32,
    pub window: Duration,
    pub max_per_email: u32,
    pub max_per_source: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self {
            var,
            problem: problem.into(),
        }
    }
}

pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8000";
pub const MIN_TOKEN_LENGTH: usize = 6;
pub const MAX_TOKEN_LENGTH: usize = 32;

impl Settings {
    /// Reads settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can build them without touching the
    /// process environment (which is shared by every test thread).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let bind_addr = bind_addr(var("BIND_ADDR"), var("PORT"))?;
        let database_url = Secret::new(database::url(&var, &data_dir)?);

        let (api_key, api_key_source) = match var("SECRET_KEY") {
            Some(key) => {
                match secret::check_admin_key(&key) {
                    Err(problem) => return Err(ConfigError::new("SECRET_KEY", problem)),
                    Ok(Some(warning)) => tracing::warn!("{warning}"),
                    Ok(None) => {}
                }
                (key, SecretSource::Environment)
            }
            None => secret::load_or_generate_text(&data_dir, "admin_api_key")
                .map_err(|e| ConfigError::new("SECRET_KEY", format!("unset, and {e}")))?,
        };
        let token_secret = match var("TOKEN_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(ConfigError::new(
                    "TOKEN_SECRET",
                    "must be at least 32 characters long",
                ));
            }
            Some(s) => s.into_bytes(),
            None => secret::load_or_generate_text(&data_dir, "token_secret")
                .map_err(|e| ConfigError::new("TOKEN_SECRET", format!("unset, and {e}")))?
                .0
                .into_bytes(),
        };

        let token_expiry_days: u32 = ranged(&var, "TOKEN_EXPIRY_DAYS", 7, 1, 365)?;
        let token_length: usize =
            ranged(&var, "TOKEN_LENGTH", 8, MIN_TOKEN_LENGTH, MAX_TOKEN_LENGTH)?;
        let max_failures = at_least_one(&var, "VERIFY_MAX_FAILURES", 5)?;
        let window_minutes: u64 = ranged(&var, "VERIFY_WINDOW_MINUTES", 15, 1, 24 * 60)?;
        let max_upload_mb: u64 = ranged(&var, "MAX_UPLOAD_MB", 50, 1, 512)?;

        let email = email::from_lookup(&var)?;
        let sqlite_busy_timeout_ms: u64 =
            ranged(&var, "SQLITE_BUSY_TIMEOUT_MS", 10_000, 1, 600_000)?;
        let discord = DiscordSettings::from_vars(&var)?;
        let web = web::from_lookup(&var)?;
        let join = join::from_lookup(&var, web.public_url.as_ref(), discord.as_ref())?;
        let mut email = email;
        email.join_link_base = join.as_ref().map(|j| j.link_base.clone());

        Ok(Self {
            bind_addr,
            database_url,
            data_dir,
            api_key: Secret::new(api_key),
            api_key_source,
            token_secret: Secret::new(token_secret),
            token_expiry: chrono::Duration::days(token_expiry_days.into()),
            token_length,
            throttle: ThrottleSettings {
                max_failures,
                window: Duration::from_secs(window_minutes * 60),
                max_per_email: at_least_one(&var, "VERIFY_MAX_FAILURES_PER_EMAIL", 500)?,
                max_per_source: at_least_one(&var, "VERIFY_MAX_FAILURES_PER_SOURCE", 20)?,
            },
            max_upload_bytes: max_upload_mb * 1024 * 1024,
            email,
            discord,
            trusted_proxies: TrustedProxies::parse(var("TRUSTED_PROXIES").as_deref())?,
            api_key_throttle: http::api_key_throttle(&var)?,
            http: http::from_lookup(&var)?,
            sqlite_busy_timeout: Duration::from_millis(sqlite_busy_timeout_ms),
            web,
            observe: observe::from_lookup(&var)?,
            join,
        })
    }

    /// Which database the URL points at, for logs and `/health` (never the URL itself:
    /// it may carry a password).
    pub fn database_backend(&self) -> &'static str {
        if self.database_url.expose().starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }
}

pub(super) fn parse<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|_| ConfigError::new(name, format!("'{raw}' is not a valid whole number"))),
    }
}

fn bind_addr(bind: Option<String>, port: Option<String>) -> Result<SocketAddr, ConfigError> {
    if let Some(bind) = bind {
        return bind.parse().map_err(|_| {
            ConfigError::new(
                "BIND_ADDR",
                format!("'{bind}' is not an address like 127.0.0.1:8000"),
            )
        });
    }
    if let Some(port) = port {
        let port: u16 = port
            .parse()
            .map_err(|_| ConfigError::new("PORT", format!("'{port}' is not a port number")))?;
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    Ok(DEFAULT_BIND_ADDR
        .parse()
        .expect("the default address parses"))
}

pub(super) fn at_least_one(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    let value: u32 = parse(var, name, default)?;
    if value == 0 {
        return Err(ConfigError::new(name, "must be at least 1"));
    }
    Ok(value)
}

/// `name` within `min..=max` (inclusive), `default` when unset.
pub(super) fn ranged<T>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let value = parse(var, name, default)?;
    if value < min || value > max {
        return Err(ConfigError::new(
            name,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

/// A yes-or-no setting: `true`/`1`/`yes` or `false`/`0`/`no` (any case), `default` when unset.
pub(super) fn flag(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError::new(
            name,
            format!("'{other}' is not true or false"),
        )),
    }
}

#[cfg(test)]
mod tests;
