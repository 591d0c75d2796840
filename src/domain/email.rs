//! An email address that has been checked and normalised.

use std::fmt;

/// The longest address SMTP allows (RFC 5321: 64 local + @ + 255 domain, capped at 254).
const MAX_LEN: usize = 254;

/// A syntactically valid email address, trimmed and lowercased.
///
/// Lowercasing the whole address (not just the domain) is deliberate: invitees type their
/// address by hand in Discord, and every mail provider we care about treats the local part
/// case-insensitively, so `Ana@X.org` and `ana@x.org` must be the same invitee.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is empty")]
    Empty,
    #[error("email is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("'{0}' is not a valid email address")]
    Invalid(String),
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let normalised = Self::normalise(input);
        if normalised.is_empty() {
            return Err(EmailError::Empty);
        }
        if normalised.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let valid = email_address::EmailAddress::is_valid(&normalised)
            // The RFC allows dotless domains ("root@localhost"), but an invitation to one
            // is always a typo in a spreadsheet.
            && normalised.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.'));
        if !valid {
            return Err(EmailError::Invalid(
                input.trim().chars().take(MAX_LEN).collect(),
            ));
        }
        Ok(Self(normalised))
    }

    /// The form an address is stored and looked up in, whether or not it is valid.
    pub fn normalise(input: &str) -> String {
        input.trim().to_lowercase()
    }

    /// An address read back from storage, where only addresses that passed [`Email::parse`]
    /// are written; parsing each again would cost every listing for nothing.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Written as the address; read back through [`Email::parse`], so that a stored document
/// (an import's report) cannot smuggle in an address doorman would have refused.
impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        let email = Email::parse("  Ana.Lima@Example.ORG \t").unwrap();
        assert_eq!(email.as_str(), "ana.lima@example.org");
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "   ",
            "plainaddress",
            "@example.org",
            "ana@",
            "ana@@x.org",
            "ana@localhost",
            "a b@x.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn overlong_addresses_are_rejected() {
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn a_stored_address_reads_back_only_if_doorman_would_take_it() {
        let email = Email::parse("ana@example.org").unwrap();
        let json = serde_json::to_string(&email).unwrap();
        assert_eq!(json, "\"ana@example.org\"");
        assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), email);
        assert!(serde_json::from_str::<Email>("\"root@localhost\"").is_err());
    }
}
