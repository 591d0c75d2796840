//! The JSON the email routes answer with: the API's own shapes, filled from the
//! service's results.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

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

/// What the provider answered to a test email, exactly.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestReport {
    pub success: bool,
    /// `sendgrid`, `smtp` or `outbox`.
    pub route: &'static str,
    pub to: String,
    /// The HTTP status (SendGrid) or SMTP reply code.
    pub status: Option<u16>,
    /// The provider's answer as received (SendGrid's body, the SMTP reply, or the error).
    pub provider_response: String,
    pub message_id: Option<String>,
    /// The stored email (the outbox keeps it, rendered).
    pub email_id: Option<i64>,
}

impl From<service::TestReport> for TestReport {
    fn from(report: service::TestReport) -> Self {
        Self {
            success: report.success,
            route: report.route.as_str(),
            to: report.to,
            status: report.status,
            provider_response: report.provider_response,
            message_id: report.message_id,
            email_id: report.email_id,
        }
    }
}

/// An email as `GET /api/emails` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmailRecord {
    pub id: i64,
    pub invitee_id: Option<i64>,
    /// `invitation`, `reminder` or `test`.
    pub kind: &'static str,
    pub recipient: String,
    /// `queued`, `sent`, `failed`, `cancelled`, `delivered`, `bounced` or `dropped`.
    pub status: &'static str,
    /// `sendgrid`, `smtp` or `outbox`.
    pub route: &'static str,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub provider_message_id: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Outbox emails only: the email as the invitee would have received it.
    pub subject: Option<String>,
    pub html_body: Option<String>,
    pub text_body: Option<String>,
}

impl From<service::EmailRecord> for EmailRecord {
    fn from(email: service::EmailRecord) -> Self {
        Self {
            id: email.id,
            invitee_id: email.invitee_id,
            kind: email.kind.as_str(),
            recipient: email.recipient,
            status: email.status.as_str(),
            route: email.route.as_str(),
            attempts: email.attempts,
            last_error: email.last_error,
            provider_message_id: email.provider_message_id,
            next_attempt_at: email.next_attempt_at,
            created_at: email.created_at,
            updated_at: email.updated_at,
            sent_at: email.sent_at,
            subject: email.subject,
            html_body: email.html_body,
            text_body: email.text_body,
        }
    }
}
