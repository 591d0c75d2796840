//! Limits that keep slow or greedy clients from tying up the HTTP server.

use std::time::Duration;

use super::{ConfigError, at_least_one, ranged};

#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// A request's headers must have arrived this long after the connection started
    /// waiting for them (HTTP/1.1, including the wait between keep-alive requests).
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Time from the request head to the response head, on routes that do not stream.
    pub request_timeout: Duration,
    /// The same for the CSV upload, which reads a large body from a possibly slow link.
    pub upload_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

pub(super) fn from_lookup(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<HttpSettings, ConfigError> {
    let seconds = |name: &'static str, default: u64, max: u64| {
        ranged(var, name, default, 1, max).map(Duration::from_secs)
    };
    let max_connections: usize = ranged(var, "HTTP_MAX_CONNECTIONS", 512, 1, 100_000)?;
    Ok(HttpSettings {
        header_timeout: seconds("HTTP_HEADER_TIMEOUT_SECONDS", 10, 300)?,
        idle_timeout: seconds("HTTP_IDLE_TIMEOUT_SECONDS", 60, 3600)?,
        request_timeout: seconds("HTTP_REQUEST_TIMEOUT_SECONDS", 30, 3600)?,
        upload_timeout: seconds("HTTP_UPLOAD_TIMEOUT_SECONDS", 600, 24 * 3600)?,
        max_connections,
    })
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

pub(super) fn api_key_throttle(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<ApiKeyThrottle, ConfigError> {
    let max_failures = at_least_one(var, "API_KEY_MAX_FAILURES", 10)?;
    let window_minutes: u64 = ranged(var, "API_KEY_WINDOW_MINUTES", 15, 1, 24 * 60)?;
    Ok(ApiKeyThrottle {
        max_failures,
        window: Duration::from_secs(window_minutes * 60),
    })
}
