//! Invitation emails: send a batch, list the queue and outbox, send a test email.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

mod views;

pub use views::{EmailRecord, SendReport, TestReport};

use crate::api::error::{AuthErrors, JsonBodyErrors, ServerErrors, TimeoutErrors};
use crate::api::extract::{ApiJson, ApiQuery, Integer};
use crate::api::{ApiError, AppState, ErrorBody};
use crate::domain::EmailState;
use crate::domain::event::Actor;
use crate::service::{EmailFilter, Recipients};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;

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
