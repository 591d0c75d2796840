//! The admin API key check, in front of every `/api/*` route but the docs; the rule
//! (and the wrong-key throttle) is the service's.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiError, AppState, client_addr};

pub const API_KEY_HEADER: &str = "x-api-key";

pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let address = client_addr::resolve(
        request.extensions(),
        request.headers(),
        &state.trusted_proxies,
    );
    let given = request.headers().get(API_KEY_HEADER).map(|v| v.as_bytes());
    state.doorman.check_api_key(given, address).await?;
    Ok(next.run(request).await)
}
