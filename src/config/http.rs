//! Limits that keep slow or greedy clients from tying up the HTTP server.

use std::time::Duration;

use super::{ConfigError, parse};

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
    let seconds = |name: &'static str, default: u64, max: u64| -> Result<Duration, ConfigError> {
        let value: u64 = parse(var, name, default)?;
        if !(1..=max).contains(&value) {
            return Err(ConfigError::new(
                name,
                format!("must be between 1 and {max}"),
            ));
        }
        Ok(Duration::from_secs(value))
    };
    let max_connections: usize = parse(var, "HTTP_MAX_CONNECTIONS", 512)?;
    if !(1..=100_000).contains(&max_connections) {
        return Err(ConfigError::new(
            "HTTP_MAX_CONNECTIONS",
            "must be between 1 and 100000",
        ));
    }
    Ok(HttpSettings {
        header_timeout: seconds("HTTP_HEADER_TIMEOUT_SECONDS", 10, 300)?,
        idle_timeout: seconds("HTTP_IDLE_TIMEOUT_SECONDS", 60, 3600)?,
        request_timeout: seconds("HTTP_REQUEST_TIMEOUT_SECONDS", 30, 3600)?,
        upload_timeout: seconds("HTTP_UPLOAD_TIMEOUT_SECONDS", 600, 24 * 3600)?,
        max_connections,
    })
}
