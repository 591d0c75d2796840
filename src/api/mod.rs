//! The JSON API: the original system's paths and field names, plus the event log.

mod auth;
mod client_addr;
mod docs;
mod emails;
mod error;
mod events;
mod extract;
mod health;
mod upload;
mod users;
mod verify;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Secret;
use crate::service::Doorman;

pub use auth::{API_KEY_HEADER, ApiKeyGuard};
pub use error::{ApiError, ErrorBody};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub doorman: Doorman,
    pub api_key: Secret<String>,
    pub max_upload_bytes: u64,
    /// The Discord bot's connection, when `DISCORD_TOKEN` is set.
    pub bot: Option<crate::discord::BotStatus>,
    pub trusted_proxies: crate::config::TrustedProxies,
    /// Wrong `x-api-key` attempts, throttled per client address.
    pub api_key_guard: auth::ApiKeyGuard,
}

/// The whole HTTP surface, with its OpenAPI document built from the same route list.
pub fn router(state: AppState) -> Router {
    let (router, openapi) = build(state.clone());
    router
        .merge(docs::routes(openapi))
        .fallback(|| async { ApiError::NotFound("Not found".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(CatchPanicLayer::custom(|_| panic_response()))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The OpenAPI document alone (for `doorman openapi` and tests).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = build_routes(0)
        .routes(routes!(health::health))
        .merge(webhook_routes())
        .split_for_parts();
    docs::complete(api)
}

fn build(state: AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let upload_limit = usize::try_from(state.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    let protected = build_routes(upload_limit).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_api_key,
    ));
    let public = OpenApiRouter::new()
        .routes(routes!(health::health))
        .merge(webhook_routes());
    protected.merge(public).split_for_parts()
}

/// The routes behind the API key. Only the upload gets a body limit above axum's 2 MB.
fn build_routes(upload_limit: usize) -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new()
        .routes(routes!(upload::upload_csv))
        .layer(DefaultBodyLimit::max(upload_limit));
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .merge(upload)
        .routes(routes!(users::list_users))
        .routes(routes!(users::get_user, users::delete_user))
        .routes(routes!(users::delete_user_legacy))
        .routes(routes!(users::delete_all_users))
        .routes(routes!(users::refresh_token))
        .routes(routes!(verify::verify))
        .routes(routes!(verify::verify_discord))
        .routes(routes!(events::list_events))
        .routes(routes!(emails::send_emails))
        .routes(routes!(emails::list_emails))
        .routes(routes!(emails::send_test_email))
}

/// Webhooks authenticate with their provider's signature, not the API key. SendGrid
/// posts batches of up to thousands of events, so the limit is above axum's default.
fn webhook_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhooks::sendgrid_events))
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
}

fn panic_response() -> Response {
    // The panic itself is logged by the panic hook; the client learns nothing of it.
    let mut response = ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
