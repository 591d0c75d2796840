//! Invitation emails: send a batch, list the queue and outbox, send a test email.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ApiQuery};
use super::{ApiError, AppState, ErrorBody};
use crate::domain::event::Actor;
use crate::service::{Recipients, SendReport, TestReport};
use crate::store::{EmailFilter, EmailRecord};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;

/// Who to email: an array of invitee ids (as the original API took), or an object.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SendEmailsBody {
    Ids(Vec<i64>),
    Options(SendEmailsOptions),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEmailsOptions {
    /// These invitees.
    user_ids: Option<Vec<i64>>,
    /// Every invitee who has not verified.
    #[serde(default)]
    all_unverified: bool,
    /// Email even within the resend cooldown, and addresses that bounced or were dropped.
    #[serde(default)]
    force: bool,
}

/// Issue each chosen unverified invitee a fresh token and email it. Answers once the
/// batch is sent or after a short wait (`EMAIL_SEND_WAIT_SECONDS`), whichever is first;
/// what is still queued is sent in the background.
#[utoipa::path(post, path = "/api/send-emails", tag = "emails",
    request_body(content = SendEmailsBody, description = "`[1, 2]`, `{\"user_ids\": [1, 2]}` or `{\"all_unverified\": true}`; `force` in the object form"),
    responses((status = 200, body = SendReport), (status = 400, body = ErrorBody)))]
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
    let (recipients, force) = match body {
        SendEmailsBody::Ids(ids) => (Recipients::Ids(ids), false),
        SendEmailsBody::Options(options) => match (options.user_ids, options.all_unverified) {
            (Some(ids), false) => (Recipients::Ids(ids), options.force),
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
    Ok(Json(report))
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
    limit: Option<i64>,
    #[serde(default)]
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

/// The queue and the outbox, newest first: recipient, status, attempts, last error,
/// timestamps, and for the local outbox the rendered email.
#[utoipa::path(get, path = "/api/emails", tag = "emails", params(EmailsQuery),
    responses((status = 200, body = EmailsPage), (status = 400, body = ErrorBody)))]
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
    let filter = EmailFilter {
        status: query.status,
        invitee_id: query.invitee_id,
        batch_id: query.batch_id,
        limit,
        offset: query.offset,
    };
    let emails = state
        .doorman
        .store()
        .emails(&filter)
        .await
        .map_err(ApiError::internal)?;
    let next_offset = (emails.len() as i64 == limit).then_some(query.offset + limit);
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
    #[schema(example = "you@example.org")]
    to: String,
}

/// Send one sample email through the configured route now, and see exactly what the
/// provider answered. The sample token opens nothing.
#[utoipa::path(post, path = "/api/emails/test", tag = "emails", request_body = TestEmailBody,
    responses((status = 200, body = TestReport), (status = 400, body = ErrorBody)))]
pub async fn send_test_email(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TestEmailBody>,
) -> Result<Json<TestReport>, ApiError> {
    Ok(Json(
        state
            .doorman
            .send_test_email(&body.to, Actor::ApiKey)
            .await?,
    ))
}
