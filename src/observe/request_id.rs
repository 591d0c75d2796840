//! Every request gets an id: the caller's `X-Request-Id` when it is a sensible one (a
//! proxy's or a client's), else a fresh one. Its log lines carry it as `request_id`,
//! and the response returns it in the same header.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::token::random_hex;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longer ids from a caller are replaced: they would only bloat every log line.
const MAX_LENGTH: usize = 128;

/// The request's id, for the layers below (the log span).
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// A caller's id is kept if it is 1 to 128 characters of letters, digits and `-_.:/+=`.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_LENGTH
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b))
}

/// The middleware: sets the id on the request (header and extension) and the response.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| acceptable(v))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&random_hex(16)).expect("hex is a valid header value")
        });
    request.headers_mut().insert(&REQUEST_ID, id.clone());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert(&REQUEST_ID, id);
    response
}

/// The span every request's log lines are written in: its method and id, and (once
/// routed) its route template. Never the URL, which may carry an email or a token.
pub fn span(request: &Request) -> tracing::Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map(RequestId::as_str)
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = tracing::field::Empty,
        request_id = %id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_kept() {
        let ok = ["abc", "0f9e-11", "trace:1/2+3=", &"a".repeat(128)];
        for id in ok {
            assert!(acceptable(&HeaderValue::from_str(id).unwrap()), "{id}");
        }
        let refused = ["", "has space", "semi;colon", "quote\"", &"a".repeat(129)];
        for id in refused {
            assert!(!acceptable(&HeaderValue::from_str(id).unwrap()), "{id}");
        }
    }
}
