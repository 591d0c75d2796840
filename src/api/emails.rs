//! Invitation emails: send a batch, list the queue and outbox, send a test email.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{AuthErrors, JsonBodyErrors, ServerErrors, TimeoutErrors};
use super::extract::{ApiJson, ApiQuery, Integer};
use super::{ApiError, AppState, ErrorBody};
use crate::domain::EmailState;
use crate::domain::event::Actor;
use crate::service::{self, EmailFilter, Recipients};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;

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

/// Who to email: an array of invitee ids (as the original API took), or an object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SendEmailsBody {
    Ids(Vec<Integer<i64>>),
    Options(SendEmailsOptions),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEmailsOptions {
    /// These invitees.
    user_ids: Option<Vec<Integer<i64>>>,
    /// Every invitee who has not verified.
    #[serde(default)]
    all_unverified: bool,
    /// Email even within the resend cooldown, and addresses that bounced or were dropped.
    #[serde(default)]
    force: bool,
}

// Written out because the derive cannot say that exactly one of `user_ids` and
// `all_unverified: true` is accepted, and clients are generated from this.
impl utoipa::PartialSchema for SendEmailsBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let ids =
            serde_json::json!({"type": "array", "items": {"type": "integer", "format": "int64"}});
        let force = serde_json::json!({
            "type": "boolean",
            "description": "Email even within the resend cooldown, and addresses that bounced or were dropped."
        });
        let schema = serde_json::json!({
            "oneOf": [
                ids,
                {
                    "type": "object",
                    "description": "These invitees.",
                    "properties": {
                        "user_ids": ids,
                        "all_unverified": {"type": "boolean", "enum": [false]},
                        "force": force,
                    },
                    "required": ["user_ids"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "description": "Every invitee who has not verified.",
                    "properties": {
                        "user_ids": {"type": "null"},
                        "all_unverified": {"type": "boolean", "enum": [true]},
                        "force": force,
                    },
                    "required": ["all_unverified"],
                    "additionalProperties": false,
                },
            ]
        });
        utoipa::openapi::RefOr::T(
            serde_json::from_value(schema).expect("the SendEmailsBody schema is valid"),
        )
    }
}

impl ToSchema for SendEmailsBody {}

/// Issue each chosen unverified invitee a fresh token and email it. Answers once the
/// batch is sent or after a short wait (`EMAIL_SEND_WAIT_SECONDS`), whichever is first;
/// what is still queued is sent in the background.
#[utoipa::path(post, path = "/api/send-emails", tag = "emails",
    request_body(content = SendEmailsBody, description = "`[1, 2]`, `{\"user_ids\": [1, 2]}` or `{\"all_unverified\": true}`; `force` in the object form"),
    security(("api_key" = [])),
    responses((status = 200, body = SendReport), JsonBodyErrors, AuthErrors, ServerErrors, TimeoutErrors))]
pub async fn send_emails(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<SendReport>, ApiError> {
    let body: SendEmailsBody = serde_json::from_value(body).map_err(|_| {
        ApiError::BadRequest(
            "Send an array of invitee ids, {\"user_ids\": [...]}, or {\"all_unverified\": true}"
                .into(),
        )
    })?;
    let ids = |ids: Vec<Integer<i64>>| Recipients::Ids(ids.into_iter().map(|id| id.0).collect());
    let (recipients, force) = match body {
        SendEmailsBody::Ids(list) => (ids(list), false),
        SendEmailsBody::Options(options) => match (options.user_ids, options.all_unverified) {
            (Some(list), false) => (ids(list), options.force),
            (None, true) => (Recipients::AllUnverified, options.force),
            _ => {
                return Err(ApiError::BadRequest(
                    "Give either user_ids or all_unverified: true".into(),
                ));
            }
        },
    };
    let wait = state.doorman.email_settings().send_wait;
    let report = state
        .doorman
        .send_invitations(recipients, force, Actor::ApiKey, wait)
        .await?;
    Ok(Json(report.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailsQuery {
    /// Only emails in this state (`queued`, `sent`, `failed`, `delivered`, `bounced`...).
    status: Option<String>,
    /// Only emails to this invitee.
    invitee_id: Option<i64>,
    /// Only the emails of one batch (as `POST /api/send-emails` answered).
    batch_id: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    #[serde(default)]
    #[param(minimum = 0)]
    offset: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailsPage {
    /// Where emails go: `sendgrid`, `smtp` or `outbox`.
    pub route: &'static str,
    pub emails: Vec<EmailRecord>,
    pub limit: i64,
    pub offset: i64,
    pub next_offset: Option<i64>,
}

impl EmailsPage {
    fn empty(state: &AppState, limit: i64, offset: i64) -> Self {
        Self {
            route: state.doorman.email_settings().route.name(),
            emails: Vec::new(),
            limit,
            offset,
            next_offset: None,
        }
    }
}

/// The queue and the outbox, newest first: recipient, status, attempts, last error,
/// timestamps, and for the local outbox the rendered email.
#[utoipa::path(get, path = "/api/emails", tag = "emails", params(EmailsQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = EmailsPage),
        (status = 400, body = ErrorBody, description = "a malformed or out-of-range parameter"),
        AuthErrors, ServerErrors, TimeoutErrors,
    ))]
pub async fn list_emails(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EmailsQuery>,
) -> Result<Json<EmailsPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) || query.offset < 0 {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, and offset not negative"
        )));
    }
    // A state doorman never gives an email matches none.
    let status = match query.status.as_deref().map(str::parse::<EmailState>) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(_)) => return Ok(Json(EmailsPage::empty(&state, limit, query.offset))),
    };
    let filter = EmailFilter {
        status,
        invitee_id: query.invitee_id,
        batch_id: query.batch_id,
        limit,
        offset: query.offset,
    };
    let emails: Vec<EmailRecord> = state
        .doorman
        .list_emails(&filter)
        .await?
        .into_iter()
        .map(EmailRecord::from)
        .collect();
    let next_offset = (emails.len() as i64 == limit)
        .then(|| query.offset.checked_add(limit))
        .flatten();
    Ok(Json(EmailsPage {
        route: state.doorman.email_settings().route.name(),
        emails,
        limit,
        offset: query.offset,
        next_offset,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TestEmailBody {
    #[schema(example = "you@example.org", format = Email)]
    to: String,
}

/// Send one sample email through the configured route now, and see exactly what the
/// provider answered. The sample token opens nothing.
#[utoipa::path(post, path = "/api/emails/test", tag = "emails", request_body = TestEmailBody,
    security(("api_key" = [])),
    responses((status = 200, body = TestReport), JsonBodyErrors, AuthErrors, ServerErrors, TimeoutErrors))]
pub async fn send_test_email(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TestEmailBody>,
) -> Result<Json<TestReport>, ApiError> {
    let report = state
        .doorman
        .send_test_email(&body.to, Actor::ApiKey)
        .await?;
    Ok(Json(report.into()))
}
