//! The admin UI's settings: where people reach doorman, and how long a session lasts.

use super::{ConfigError, parse};

/// `SESSION_HOURS`'s default.
pub const DEFAULT_SESSION_HOURS: u32 = 12;

#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The address people reach doorman at (`PUBLIC_URL`); with https, the session cookie
    /// is `Secure` whatever the request looks like behind a proxy.
    pub public_url: Option<url::Url>,
    /// How long a sign-in lasts (`SESSION_HOURS`).
    pub session_lifetime: chrono::Duration,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            public_url: None,
            session_lifetime: chrono::Duration::hours(DEFAULT_SESSION_HOURS.into()),
        }
    }
}

impl WebSettings {
    /// Whether `PUBLIC_URL` says people come over HTTPS.
    pub fn public_https(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }

    /// `PUBLIC_URL`'s origin as a browser writes it in `Origin` (no default port, no path).
    pub fn public_origin(&self) -> Option<String> {
        let url = self.public_url.as_ref()?;
        Some(url.origin().ascii_serialization())
    }
}

pub(super) fn from_lookup(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<WebSettings, ConfigError> {
    let public_url = var("PUBLIC_URL")
        .map(|raw| {
            let url = url::Url::parse(&raw).map_err(|_| {
                ConfigError::new("PUBLIC_URL", format!("'{raw}' is not an absolute URL"))
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(ConfigError::new(
                    "PUBLIC_URL",
                    "must be an http:// or https:// address, like https://doorman.example.org",
                ));
            }
            Ok(url)
        })
        .transpose()?;
    let hours: u32 = parse(var, "SESSION_HOURS", DEFAULT_SESSION_HOURS)?;
    if !(1..=24 * 30).contains(&hours) {
        return Err(ConfigError::new(
            "SESSION_HOURS",
            "must be between 1 and 720",
        ));
    }
    Ok(WebSettings {
        public_url,
        session_lifetime: chrono::Duration::hours(hours.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<WebSettings, ConfigError> {
        from_lookup(&|name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_to_twelve_hours_and_no_public_address() {
        let web = settings(&[]).unwrap();
        assert_eq!(web.session_lifetime, chrono::Duration::hours(12));
        assert!(!web.public_https());
        assert_eq!(web.public_origin(), None);
    }

    #[test]
    fn reads_the_public_address_and_its_origin() {
        let cases = [
            (
                "https://doorman.example.org/",
                true,
                "https://doorman.example.org",
            ),
            (
                "https://doorman.example.org:443/x",
                true,
                "https://doorman.example.org",
            ),
            ("http://127.0.0.1:8000", false, "http://127.0.0.1:8000"),
        ];
        for (raw, https, origin) in cases {
            let web = settings(&[("PUBLIC_URL", raw)]).unwrap();
            assert_eq!(web.public_https(), https, "{raw}");
            assert_eq!(web.public_origin().as_deref(), Some(origin), "{raw}");
        }
    }

    #[test]
    fn refuses_what_cannot_be_used() {
        let cases = [
            ("PUBLIC_URL", "doorman.example.org"),
            ("PUBLIC_URL", "ftp://doorman.example.org"),
            ("SESSION_HOURS", "0"),
            ("SESSION_HOURS", "721"),
            ("SESSION_HOURS", "twelve"),
        ];
        for (var, value) in cases {
            let error = settings(&[(var, value)]).unwrap_err();
            assert_eq!(error.var, var, "{value}");
        }
    }
}
