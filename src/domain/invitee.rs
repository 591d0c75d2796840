//! Invitees: the people a community invited.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Email;

/// An invitee as stored. The token's hash and ciphertext are never serialised.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Invitee {
    pub id: i64,
    #[schema(example = "ana@example.org")]
    pub email: String,
    pub name: String,
    pub college: String,
    pub branch: String,
    #[schema(example = "2026")]
    pub year: String,
    pub is_verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    /// The Discord account (a snowflake, as a string) linked at verification.
    pub discord_user_id: Option<String>,
    pub token_created_at: Option<DateTime<Utc>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// One of `not_sent`, `queued`, `sent`, `delivered`, `bounced`, `dropped`, `failed`.
    #[schema(value_type = String, example = "not_sent")]
    pub email_status: super::EmailStatus,
    /// Why the last email failed, bounced or was dropped (or is being retried).
    pub email_error: Option<String>,
    /// When the latest invitation email was queued; reminders count from here.
    pub invited_at: Option<DateTime<Utc>>,
    /// When an email was last queued for this invitee (the resend cooldown counts from here).
    pub email_queued_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    #[schema(ignore)]
    pub token_hash: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    pub token_sealed: Option<String>,
}

/// A validated row on its way into the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvitee {
    pub email: Email,
    pub name: String,
    pub college: String,
    pub branch: String,
    pub year: String,
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
