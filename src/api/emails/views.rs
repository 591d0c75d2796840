//! The JSON the email routes answer with: the API's own shapes, filled from the
//! service's results.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::views::view;
use crate::service;

/// An invitee left out of a batch, and why: `not_found`, `already_verified`, `duplicate`
/// (listed twice), `cooldown` (emailed within RESEND_COOLDOWN_MINUTES), `bounced`,
/// `dropped`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Skipped {
    pub id: i64,
    pub email: Option<String>,
    #[schema(example = "cooldown")]
    pub reason: &'static str,
}

/// The answer of `POST /api/send-emails` and `doorman send-emails`: what is done and what
/// is still queued (the workers go on sending it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SendReport {
    /// False if any email failed.
    pub success: bool,
    #[schema(example = "2 emails sent, 0 failed, 0 still queued; 1 skipped")]
    pub message: String,
    pub emails_sent: i64,
    pub emails_failed: i64,
    /// Still queued when the answer was given (being sent, or waiting for a retry).
    pub emails_queued: i64,
    pub emails_skipped: usize,
    pub skipped: Vec<Skipped>,
    /// Identifies the batch's emails in `GET /api/emails`.
    pub batch_id: String,
}

impl From<service::SendReport> for SendReport {
    fn from(report: service::SendReport) -> Self {
        let skipped: Vec<Skipped> = report
            .skipped
            .into_iter()
            .map(|s| Skipped {
                id: s.id,
                email: s.email,
                reason: s.reason.as_str(),
            })
            .collect();
        Self {
            success: report.success,
            message: report.message,
            emails_sent: report.emails_sent,
            emails_failed: report.emails_failed,
            emails_queued: report.emails_queued,
            emails_skipped: skipped.len(),
            skipped,
            batch_id: report.batch_id,
        }
    }
}

view! {
    /// What the provider answered to a test email, exactly.
    #[derive(Debug, Clone, Serialize, ToSchema)]
    pub struct TestReport from report: service::TestReport {
        pub success: bool,
        /// `sendgrid`, `smtp` or `outbox`.
        pub route: &'static str = report.route.as_str(),
        pub to: String,
        /// The HTTP status (SendGrid) or SMTP reply code.
        pub status: Option<u16>,
        /// The provider's answer as received (SendGrid's body, the SMTP reply, or the error).
        pub provider_response: String,
        pub message_id: Option<String>,
        /// The stored email (the outbox keeps it, rendered).
        pub email_id: Option<i64>,
    }
}

view! {
    /// An email as `GET /api/emails` shows it.
    #[derive(Debug, Clone, Serialize, ToSchema)]
    pub struct EmailRecord from email: service::EmailRecord {
        pub id: i64,
        pub invitee_id: Option<i64>,
        /// `invitation`, `reminder` or `test`.
        pub kind: &'static str = email.kind.as_str(),
        pub recipient: String,
        /// `queued`, `sent`, `failed`, `cancelled`, `delivered`, `bounced` or `dropped`.
        pub status: &'static str = email.status.as_str(),
        /// `sendgrid`, `smtp` or `outbox`.
        pub route: &'static str = email.route.as_str(),
        /// Sending attempts made so far.
        pub attempts: i32,
        /// Why the latest attempt failed, or what the provider reported.
        pub last_error: Option<String>,
        /// The provider's id for the message (SendGrid's `X-Message-Id`).
        pub provider_message_id: Option<String>,
        /// When a queued email is tried next.
        pub next_attempt_at: DateTime<Utc>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        /// When the provider accepted the email.
        pub sent_at: Option<DateTime<Utc>>,
        /// Outbox emails only: the email as the invitee would have received it.
        pub subject: Option<String>,
        pub html_body: Option<String>,
        pub text_body: Option<String>,
    }
}
