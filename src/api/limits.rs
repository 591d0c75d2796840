//! Per-route body limits and request timeouts. A declared body over the limit is refused
//! before any of it is read; a chunked one is cut off at the limit by the extractors,
//! which honour `DefaultBodyLimit`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Every JSON body doorman takes is small (an email and a token, a list of invitee ids).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// SendGrid posts a batch of events every 30 seconds or once it reaches 768 KB, whichever
/// comes first; twice that leaves room without letting anyone make us buffer much more.
pub const WEBHOOK_BODY_LIMIT: usize = 2 * 768 * 1024;

/// Whether the request's `Content-Length` says its body is over `limit` bytes (a body
/// without one is cut off at the limit as it is read).
pub(crate) fn declares_over(request: &Request, limit: usize) -> bool {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64)
}

/// Refuses a request whose `Content-Length` is over `limit` at once (413).
pub async fn refuse_large_bodies(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    if declares_over(&request, limit) {
        return ApiError::PayloadTooLarge(format!(
            "Request body is too large (at most {limit} bytes here)"
        ))
        .into_response();
    }
    next.run(request).await
}

/// Answers 503 when the response head is not ready within the limit. A streamed body
/// (the users listing) is not cut: only the time to its first byte counts.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(format!(
            "The request took longer than {} seconds; try again",
            limit.as_secs()
        ))
        .into_response(),
    }
}
