//! `POST /webhooks/sendgrid`: SendGrid's Event Webhook. Not behind the API key (SendGrid
//! cannot send one): each request must carry SendGrid's signature instead.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;

use super::error::ServerErrors;
use super::{ApiError, AppState, ErrorBody};
use serde::Serialize;
use utoipa::ToSchema;

use crate::email::webhook::{Event, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::service;

/// What a webhook delivery did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookReport {
    pub received: usize,
    pub applied: usize,
    /// Events applied before (SendGrid delivers some more than once).
    pub duplicates: usize,
    /// Events doorman does not track (opens, clicks...) or cannot match to an invitee.
    pub ignored: usize,
}

impl From<service::WebhookReport> for WebhookReport {
    fn from(report: service::WebhookReport) -> Self {
        Self {
            received: report.received,
            applied: report.applied,
            duplicates: report.duplicates,
            ignored: report.ignored,
        }
    }
}

/// Delivery events from SendGrid (delivered, bounce, dropped, deferred), signed with
/// the key set in `SENDGRID_WEBHOOK_PUBLIC_KEY`; each event is applied once.
#[utoipa::path(post, path = "/webhooks/sendgrid", tag = "emails",
    request_body(content = Vec<Object>, description = "SendGrid's array of events"),
    params(
        ("X-Twilio-Email-Event-Webhook-Signature" = String, Header, description = "base64 ECDSA signature"),
        ("X-Twilio-Email-Event-Webhook-Timestamp" = String, Header),
    ),
    responses(
        (status = 200, body = WebhookReport),
        (status = 400, body = ErrorBody, description = "signed, but not an array of SendGrid events"),
        (status = 401, body = ErrorBody, description = "unsigned"),
        (status = 403, body = ErrorBody, description = "badly signed, or signed too long ago"),
        (status = 408, body = ErrorBody, description = "the request took longer than the server allows"),
        (status = 413, body = ErrorBody, description = "larger than the webhook accepts"),
        (status = 503, body = ErrorBody, description = "no verification key configured, or the database is unreachable"),
        ServerErrors,
    ))]
pub async fn sendgrid_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    // Taken unread: nothing is read before the key and the signature headers are there.
    body: Body,
) -> Result<Json<WebhookReport>, ApiError> {
    let Some(key) = state.doorman.webhook_key() else {
        return Err(ApiError::Unavailable(
            "The SendGrid webhook is not configured: set SENDGRID_WEBHOOK_PUBLIC_KEY".into(),
        ));
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER))
    else {
        return Err(ApiError::Unsigned);
    };
    let body = read_body(body).await?;
    if !key.verify(signature, timestamp, &body) {
        return Err(ApiError::BadSignature);
    }
    let events: Vec<Event> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("Not an array of SendGrid events: {e}")))?;
    let report = state.doorman.apply_sendgrid_events(events).await?;
    Ok(Json(report.into()))
}

/// The whole body, up to the webhook's limit (the declared length was checked already).
async fn read_body(body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, super::limits::WEBHOOK_BODY_LIMIT)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::PayloadTooLarge("Request body is too large".into())
            } else {
                ApiError::BadRequest("The request body could not be read".into())
            }
        })
}
