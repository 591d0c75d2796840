//! The email queue, which is also the local outbox and the record of what was sent.
//!
//! Work lives here rather than in memory so any replica can pick it up after a crash:
//! a worker claims due emails with a lease (and a claim token it alone knows), sends them,
//! and records each result only under its own claim.

mod delivery;
mod listing;
mod queueing;
mod retry;
mod webhook;

use chrono::{DateTime, Utc};

use super::text_column;
use crate::domain::event::NewEvent;
use crate::domain::{DeliveryReport, EmailKind, EmailState, EmailStatus, MailRoute};

text_column!(EmailKind, EmailState, MailRoute);

/// One invitation to queue, with the fresh token that goes with it.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub invitee_id: i64,
    pub recipient: String,
    pub recipient_name: String,
    pub token_hash: String,
    pub token_sealed: String,
    pub token_expires_at: DateTime<Utc>,
    pub events: Vec<NewEvent>,
}

/// A claimed email with what is needed to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedEmail {
    pub id: i64,
    pub invitee_id: Option<i64>,
    pub kind: EmailKind,
    pub recipient: String,
    pub recipient_name: String,
    pub attempts: i32,
    pub invitee_name: Option<String>,
    pub is_verified: Option<bool>,
    pub token_sealed: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// An email as it was sent, where the route keeps it (the outbox).
#[derive(Debug, Clone)]
pub struct EmailBody {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What became of one claimed email.
#[derive(Debug, Clone)]
pub enum EmailResult {
    Sent {
        message_id: Option<String>,
        kept: Option<EmailBody>,
    },
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    Failed {
        error: String,
    },
    /// Not sent and never will be (the invitee verified meanwhile, or was deleted).
    Cancelled {
        reason: String,
    },
}

/// One row of the queue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailRecord {
    pub id: i64,
    pub invitee_id: Option<i64>,
    pub kind: EmailKind,
    pub recipient: String,
    pub status: EmailState,
    pub route: MailRoute,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub provider_message_id: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    pub html_body: Option<String>,
    pub text_body: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EmailFilter {
    pub status: Option<EmailState>,
    pub batch_id: Option<String>,
    pub invitee_id: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// Where a batch of emails stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub sent: i64,
    pub failed: i64,
    pub queued: i64,
    pub cancelled: i64,
}

/// What a webhook event changes.
#[derive(Debug, Clone)]
pub struct WebhookChange {
    pub event_id: String,
    pub email_id: Option<i64>,
    pub invitee_id: i64,
    pub report: DeliveryReport,
    pub error: Option<String>,
    pub event: NewEvent,
}

/// `('a', 'b')`: a list of fixed words for an SQL `IN`, written from the enum that
/// defines them so the statement and the rule cannot drift apart.
fn words(words: impl IntoIterator<Item = &'static str>) -> String {
    let quoted: Vec<String> = words.into_iter().map(|w| format!("'{w}'")).collect();
    format!("({})", quoted.join(", "))
}

/// The statuses of addresses that refused mail (`EmailStatus::refuses_mail`), which a
/// happier report may not overwrite and which reminders leave alone.
fn refusing_mail() -> String {
    words(
        EmailStatus::ALL
            .iter()
            .filter(|s| s.refuses_mail())
            .map(|s| s.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusing_statuses_are_the_domain_s() {
        assert_eq!(refusing_mail(), "('bounced', 'dropped')");
    }
}
