//! Settings, read once at start-up from the environment (and a `.env` file).
//!
//! Every variable is parsed here, so a bad value stops start-up with a message naming
//! the variable instead of failing later in the middle of a request.

mod discord;
mod email;
mod http;
mod secret;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use discord::{DiscordSettings, RoleRule, RuleField};
pub use email::{EmailRoute, EmailSettings, SendGridSettings, Sender, SmtpSettings};
pub use http::HttpSettings;
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
        let database_url = Secret::new(database_url(&var, &data_dir)?);

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

        let token_expiry_days: u32 = parse(&var, "TOKEN_EXPIRY_DAYS", 7)?;
        if !(1..=365).contains(&token_expiry_days) {
            return Err(ConfigError::new(
                "TOKEN_EXPIRY_DAYS",
                "must be between 1 and 365",
            ));
        }
        let token_length: usize = parse(&var, "TOKEN_LENGTH", 8)?;
        if !(MIN_TOKEN_LENGTH..=MAX_TOKEN_LENGTH).contains(&token_length) {
            return Err(ConfigError::new(
                "TOKEN_LENGTH",
                format!("must be between {MIN_TOKEN_LENGTH} and {MAX_TOKEN_LENGTH}"),
            ));
        }
        let max_failures: u32 = parse(&var, "VERIFY_MAX_FAILURES", 5)?;
        if max_failures == 0 {
            return Err(ConfigError::new(
                "VERIFY_MAX_FAILURES",
                "must be at least 1",
            ));
        }
        let window_minutes: u64 = parse(&var, "VERIFY_WINDOW_MINUTES", 15)?;
        if !(1..=24 * 60).contains(&window_minutes) {
            return Err(ConfigError::new(
                "VERIFY_WINDOW_MINUTES",
                "must be between 1 and 1440",
            ));
        }
        let max_upload_mb: u64 = parse(&var, "MAX_UPLOAD_MB", 50)?;
        if !(1..=1024).contains(&max_upload_mb) {
            return Err(ConfigError::new(
                "MAX_UPLOAD_MB",
                "must be between 1 and 1024",
            ));
        }

        let email = email::from_lookup(&var)?;
        let sqlite_busy_timeout_ms: u64 = parse(&var, "SQLITE_BUSY_TIMEOUT_MS", 10_000)?;
        if !(1..=600_000).contains(&sqlite_busy_timeout_ms) {
            return Err(ConfigError::new(
                "SQLITE_BUSY_TIMEOUT_MS",
                "must be between 1 and 600000",
            ));
        }

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
            discord: DiscordSettings::from_vars(&var)?,
            trusted_proxies: TrustedProxies::parse(var("TRUSTED_PROXIES").as_deref())?,
            api_key_throttle: ApiKeyThrottle::from_vars(&var)?,
            http: http::from_lookup(&var)?,
            sqlite_busy_timeout: Duration::from_millis(sqlite_busy_timeout_ms),
            web: web::from_lookup(&var)?,
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

fn parse<T: std::str::FromStr>(
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

/// `DATABASE_URL`, else the original system's `DB_*` variables, else an SQLite file.
fn database_url(
    var: &impl Fn(&str) -> Option<String>,
    data_dir: &std::path::Path,
) -> Result<String, ConfigError> {
    if let Some(url) = var("DATABASE_URL") {
        let scheme_ok = ["postgres://", "postgresql://", "sqlite:"]
            .iter()
            .any(|s| url.starts_with(s));
        if !scheme_ok {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
        // The URL's own sslmode and sslrootcert are the whole truth; a root left in
        // DB_SSL_ROOT_CERT would silently not apply, so it is refused instead.
        if var("DB_SSL_ROOT_CERT").is_some() {
            return Err(ConfigError::new(
                "DB_SSL_ROOT_CERT",
                "applies only with DB_HOST; with DATABASE_URL, add sslrootcert=<path> to the URL",
            ));
        }
        return Ok(url);
    }
    if let Some(host) = var("DB_HOST") {
        let port: u16 = parse(var, "DB_PORT", 5432)?;
        let name =
            var("DB_NAME").ok_or_else(|| ConfigError::new("DB_NAME", "required with DB_HOST"))?;
        let user =
            var("DB_USER").ok_or_else(|| ConfigError::new("DB_USER", "required with DB_HOST"))?;
        let mut url = url::Url::parse("postgres://localhost/").expect("static URL parses");
        url.set_host(Some(&host))
            .map_err(|_| ConfigError::new("DB_HOST", format!("'{host}' is not a host name")))?;
        url.set_port(Some(port)).expect("postgres URLs take a port");
        url.set_username(&user).expect("postgres URLs take a user");
        if let Some(password) = var("DB_PASSWORD") {
            url.set_password(Some(&password))
                .expect("postgres URLs take a password");
        }
        url.set_path(&name);
        let verify = match var("DB_SSL")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "DB_SSL",
                    format!("'{other}' is not true or false"),
                ));
            }
        };
        let root_cert = var("DB_SSL_ROOT_CERT");
        if root_cert.is_some() && !verify {
            return Err(ConfigError::new(
                "DB_SSL_ROOT_CERT",
                "needs DB_SSL=true; without it the server's certificate is not checked",
            ));
        }
        // `true` is libpq's verify-full: the chain must end at a trusted root and the
        // certificate must name DB_HOST; `require` would accept any certificate at all.
        url.query_pairs_mut()
            .append_pair("sslmode", if verify { "verify-full" } else { "prefer" });
        if let Some(path) = root_cert {
            check_root_cert(&path)?;
            url.query_pairs_mut().append_pair("sslrootcert", &path);
        }
        return Ok(url.into());
    }
    Ok(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("doorman.sqlite").display()
    ))
}

/// The addresses or networks (`TRUSTED_PROXIES`, comma-separated) of the reverse proxies in
/// front of doorman; only they may say who the client is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ConfigError> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        raw.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<ipnet::IpNet>()
                    .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::new(
                            "TRUSTED_PROXIES",
                            format!("'{part}' is not an IP address or a CIDR network"),
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, addr: std::net::IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.0.iter().any(|net| net.contains(&addr))
    }
}

/// Wrong `x-api-key` attempts: `max_failures` per client address within `window`.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyThrottle {
    pub max_failures: u32,
    pub window: Duration,
}

impl ApiKeyThrottle {
    fn from_vars(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let max_failures = at_least_one(var, "API_KEY_MAX_FAILURES", 10)?;
        let window_minutes: u64 = parse(var, "API_KEY_WINDOW_MINUTES", 15)?;
        if !(1..=24 * 60).contains(&window_minutes) {
            return Err(ConfigError::new(
                "API_KEY_WINDOW_MINUTES",
                "must be between 1 and 1440",
            ));
        }
        Ok(Self {
            max_failures,
            window: Duration::from_secs(window_minutes * 60),
        })
    }
}

fn at_least_one(
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

/// Reads `DB_SSL_ROOT_CERT` now, so that a wrong path stops start-up instead of failing
/// every connection later (the database driver reads it again for each connection).
fn check_root_cert(path: &str) -> Result<(), ConfigError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let problem = |p: String| ConfigError::new("DB_SSL_ROOT_CERT", p);
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot read '{path}': {e}")))?;
    let mut certs = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| problem(format!("'{path}' is not valid PEM: {e}")))?;
        certs += 1;
    }
    if certs == 0 {
        return Err(problem(format!("'{path}' holds no PEM certificate")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
