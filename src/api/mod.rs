//! The JSON API: the original system's paths and field names, plus the event log.

mod auth;
mod client_addr;
mod docs;
mod emails;
mod error;
mod events;
mod extract;
mod health;
pub(crate) mod limits;
mod metrics;
mod upload;
mod users;
mod verify;
pub(crate) mod views;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::time::Duration;

use crate::config::HttpSettings;
use crate::observe;
use crate::service::Doorman;

pub use auth::API_KEY_HEADER;
pub(crate) use client_addr::ClientAddr;
pub use error::{ApiError, ErrorBody};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub doorman: Doorman,
    pub max_upload_bytes: u64,
    /// The Discord bot's connection, when `DISCORD_TOKEN` is set.
    pub bot: Option<crate::discord::BotStatus>,
    pub trusted_proxies: crate::config::TrustedProxies,
    /// The admin UI's settings.
    pub web: crate::config::WebSettings,
    /// The Discord bot's settings, when `DISCORD_TOKEN` is set (the admin UI's Discord page).
    pub discord: Option<crate::config::DiscordSettings>,
    /// The token `/metrics` asks for (`METRICS_TOKEN`); open when unset.
    pub metrics_token: Option<crate::config::Secret<String>>,
    /// One-click join through Discord, when it is configured.
    pub join: Option<crate::web::join::JoinContext>,
}

/// The whole HTTP surface, with its OpenAPI document built from the same route list.
pub fn router(state: AppState, http: &HttpSettings) -> Router {
    let layers = RouteLimits::new(&state, http);
    let (router, openapi) = build(state.clone(), &layers);
    let docs = docs::routes(openapi)
        .layer(DefaultBodyLimit::max(limits::JSON_BODY_LIMIT))
        .layer(from_fn_with_state(
            limits::JSON_BODY_LIMIT,
            limits::refuse_large_bodies,
        ))
        .layer(from_fn_with_state(http.request_timeout, limits::time_limit));
    // The admin UI: HTML forms, within the JSON limits; its CSV upload, within the API's.
    let web = crate::web::routes(
        &state,
        crate::web::Limits {
            form: layers.json,
            upload: layers.upload,
        },
    );
    let metrics = state.doorman.metrics().clone();
    router
        .merge(docs)
        .merge(web)
        .route_layer(axum::middleware::from_fn(observe::http::note_route))
        .fallback(|| async { ApiError::NotFound("Not found".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(CatchPanicLayer::custom(|_| panic_response()))
        .layer(from_fn_with_state(metrics, observe::http::count))
        .layer(TraceLayer::new_for_http().make_span_with(observe::request_id::span))
        .layer(axum::middleware::from_fn(observe::request_id::assign))
        .with_state(state)
}

/// The OpenAPI document alone (for `doorman openapi` and tests).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = build_routes(None)
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::metrics))
        .merge(webhook_routes(None))
        .split_for_parts();
    docs::complete(api)
}

/// The body limit and the time limit of each group of routes.
#[derive(Clone, Copy)]
struct RouteLimits {
    json: (usize, Duration),
    upload: (usize, Duration),
    /// Sending email waits for the provider (or for a batch), longer than other requests.
    email: (usize, Duration),
    webhook: (usize, Duration),
}

impl RouteLimits {
    fn new(state: &AppState, http: &HttpSettings) -> Self {
        // Room for the multipart framing around the file itself.
        let upload = usize::try_from(state.max_upload_bytes)
            .unwrap_or(usize::MAX)
            .saturating_add(64 * 1024);
        let email = state.doorman.email_settings();
        let email_wait = email.send_wait.max(email.request_timeout) + Duration::from_secs(5);
        Self {
            json: (limits::JSON_BODY_LIMIT, http.request_timeout),
            upload: (upload, http.upload_timeout.max(http.request_timeout)),
            email: (
                limits::JSON_BODY_LIMIT,
                http.request_timeout.max(email_wait),
            ),
            webhook: (limits::WEBHOOK_BODY_LIMIT, http.request_timeout),
        }
    }
}

/// Applies a body limit and a time limit to plain routes.
pub(crate) fn with_limits<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    (body, time): (usize, Duration),
) -> Router<S> {
    routes
        .layer(DefaultBodyLimit::max(body))
        .layer(from_fn_with_state(body, limits::refuse_large_bodies))
        .layer(from_fn_with_state(time, limits::time_limit))
}

/// Applies a group's limits; `None` when only the OpenAPI document is wanted.
fn limited(
    routes: OpenApiRouter<AppState>,
    limits: Option<(usize, Duration)>,
) -> OpenApiRouter<AppState> {
    let Some((body, time)) = limits else {
        return routes;
    };
    routes
        .layer(DefaultBodyLimit::max(body))
        .layer(from_fn_with_state(body, limits::refuse_large_bodies))
        .layer(from_fn_with_state(time, limits::time_limit))
}

fn build(state: AppState, layers: &RouteLimits) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let protected = build_routes(Some(layers)).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_api_key,
    ));
    let health = OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(metrics::metrics));
    let public = limited(health, Some(layers.json)).merge(webhook_routes(Some(layers)));
    protected.merge(public).split_for_parts()
}

/// The routes behind the API key.
fn build_routes(layers: Option<&RouteLimits>) -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new().routes(routes!(upload::upload_csv));
    let email = OpenApiRouter::new()
        .routes(routes!(emails::send_emails))
        .routes(routes!(emails::send_test_email));
    // The users listing streams its body; its time limit only covers the time to the
    // first byte, so a long listing to a slow client is not cut off.
    let json = OpenApiRouter::new()
        .routes(routes!(users::list_users))
        .routes(routes!(users::get_user, users::delete_user))
        .routes(routes!(users::delete_user_legacy))
        .routes(routes!(users::delete_all_users))
        .routes(routes!(users::refresh_token))
        .routes(routes!(verify::verify))
        .routes(routes!(verify::verify_discord))
        .routes(routes!(events::list_events))
        .routes(routes!(emails::list_emails));
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .merge(limited(upload, layers.map(|l| l.upload)))
        .merge(limited(email, layers.map(|l| l.email)))
        .merge(limited(json, layers.map(|l| l.json)))
}

/// Webhooks authenticate with their provider's signature, not the API key.
fn webhook_routes(layers: Option<&RouteLimits>) -> OpenApiRouter<AppState> {
    limited(
        OpenApiRouter::new().routes(routes!(webhooks::sendgrid_events)),
        layers.map(|l| l.webhook),
    )
}

fn panic_response() -> Response {
    // The panic itself is logged by the panic hook; the client learns nothing of it.
    let mut response = ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
