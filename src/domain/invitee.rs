//! Invitees: the people a community invited.

use chrono::{DateTime, Utc};

use super::{Email, EmailStatus};

/// An invitee: who they are, where their verification stands, and their latest email.
#[derive(Debug, Clone)]
pub struct Invitee {
    pub id: i64,
    pub email: Email,
    pub name: String,
    pub college: String,
    pub branch: String,
    pub year: String,
    pub is_verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    /// The Discord account (a snowflake, as a string) linked at verification.
    pub discord_user_id: Option<String>,
    pub token_created_at: Option<DateTime<Utc>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub email_status: EmailStatus,
    /// The provider's or the transport's reason, for a failed, bounced or dropped email.
    pub email_error: Option<String>,
    /// Reminders are due counting from the latest invitation.
    pub invited_at: Option<DateTime<Utc>>,
    /// The resend cooldown counts from the latest email of any kind.
    pub email_queued_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The keyed hash of the current token; never shown.
    pub token_hash: Option<String>,
    /// The current token, encrypted, so that an email can carry it again; never shown.
    pub token_sealed: Option<String>,
}

/// Who an organiser invites: a validated row of an import, on its way into the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewInvitee {
    pub email: Email,
    pub name: String,
    pub college: String,
    pub branch: String,
    pub year: String,
}

/// Which invitees to list.
#[derive(Debug, Clone, Default)]
pub struct InviteeFilter {
    /// Matched case-insensitively as a substring of the email or the name.
    pub search: Option<String>,
    pub verified: Option<bool>,
    pub limit: Option<i64>,
    pub offset: i64,
}

/// Whether the token an invitee holds can still be used at `now`.
pub fn token_expired(invitee: &Invitee, now: DateTime<Utc>) -> bool {
    invitee
        .token_expires_at
        .is_none_or(|expires| now >= expires)
}

/// A Discord user id: a snowflake, which is a 64-bit unsigned integer written in decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordUserId(String);

#[derive(Debug, thiserror::Error)]
#[error("discord_user_id must be a Discord user id (a number of up to 20 digits)")]
pub struct DiscordUserIdError;

impl DiscordUserId {
    pub fn parse(input: &str) -> Result<Self, DiscordUserIdError> {
        let trimmed = input.trim();
        match trimmed.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Self(n.to_string())),
            _ => Err(DiscordUserIdError),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discord_ids_are_positive_64_bit_numbers() {
        assert_eq!(
            DiscordUserId::parse(" 80351110224678912 ")
                .unwrap()
                .as_str(),
            "80351110224678912"
        );
        for bad in ["", "0", "-5", "abc", "184467440737095516160", "12.5"] {
            assert!(DiscordUserId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
