//! The admin API key check, in front of every `/api/*` route but the docs.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

pub const API_KEY_HEADER: &str = "x-api-key";

pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(given) = request.headers().get(API_KEY_HEADER) else {
        return Err(ApiError::MissingApiKey);
    };
    // Constant time in the key's contents; the length may leak, which says nothing useful
    // about a 32-byte random key.
    let expected = state.api_key.expose().as_bytes();
    if !bool::from(given.as_bytes().ct_eq(expected)) {
        return Err(ApiError::InvalidApiKey);
    }
    Ok(next.run(request).await)
}
