//! Operating doorman: who may read `/metrics`, how long a shutdown may take, and how
//! log lines are written.

use std::time::Duration;

use super::{ConfigError, Secret, ranged};

/// The shortest `METRICS_TOKEN` accepted: a scraper's token is a secret like any other.
const MIN_METRICS_TOKEN: usize = 16;

#[derive(Debug, Clone)]
pub struct ObserveSettings {
    /// When set, `/metrics` answers only `Authorization: Bearer <token>` (`METRICS_TOKEN`).
    pub metrics_token: Option<Secret<String>>,
    /// How long a shutdown waits for requests in flight (`SHUTDOWN_GRACE_SECONDS`).
    pub shutdown_grace: Duration,
}

pub(super) fn from_lookup(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<ObserveSettings, ConfigError> {
    let metrics_token = match var("METRICS_TOKEN") {
        Some(token) if token.len() < MIN_METRICS_TOKEN => {
            return Err(ConfigError::new(
                "METRICS_TOKEN",
                format!("must be at least {MIN_METRICS_TOKEN} characters long"),
            ));
        }
        Some(token) if !token.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(ConfigError::new(
                "METRICS_TOKEN",
                "must be printable ASCII without spaces",
            ));
        }
        token => token.map(Secret::new),
    };
    let grace: u64 = ranged(var, "SHUTDOWN_GRACE_SECONDS", 20, 1, 3600)?;
    Ok(ObserveSettings {
        metrics_token,
        shutdown_grace: Duration::from_secs(grace),
    })
}

/// How log lines are written (`LOG_FORMAT`): for people, or one JSON object a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// Read before anything else, since logging starts before the other settings are read.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::parse(std::env::var("LOG_FORMAT").ok().as_deref())
    }

    pub fn parse(raw: Option<&str>) -> Result<Self, ConfigError> {
        match raw.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(ConfigError::new(
                "LOG_FORMAT",
                format!("'{other}' is neither text nor json"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<ObserveSettings, ConfigError> {
        from_lookup(&|name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_leave_metrics_open_and_allow_twenty_seconds() {
        let s = settings(&[]).unwrap();
        assert!(s.metrics_token.is_none());
        assert_eq!(s.shutdown_grace, Duration::from_secs(20));
    }

    #[test]
    fn a_short_or_spaced_token_and_a_zero_grace_are_refused() {
        for (var, value) in [
            ("METRICS_TOKEN", "short"),
            ("METRICS_TOKEN", "long enough but spaced"),
            ("SHUTDOWN_GRACE_SECONDS", "0"),
        ] {
            let e = settings(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var);
        }
        let s = settings(&[("METRICS_TOKEN", "0123456789abcdef")]).unwrap();
        assert_eq!(s.metrics_token.unwrap().expose(), "0123456789abcdef");
    }

    #[test]
    fn log_format_is_text_unless_json() {
        assert_eq!(LogFormat::parse(None).unwrap(), LogFormat::Text);
        assert_eq!(LogFormat::parse(Some(" JSON ")).unwrap(), LogFormat::Json);
        assert_eq!(LogFormat::parse(Some("xml")).unwrap_err().var, "LOG_FORMAT");
    }
}
