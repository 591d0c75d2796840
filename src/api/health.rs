//! `GET /health`: is doorman up, and can it reach its database?

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ServerErrors;
use super::{AppState, ErrorBody};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// `connected` or `unreachable`.
    pub database: &'static str,
    /// `sqlite` or `postgres`.
    pub database_backend: &'static str,
    /// `disabled` (no DISCORD_TOKEN), `connected` or `disconnected`.
    pub discord_bot: &'static str,
    /// Where invitation emails go: `sendgrid`, `smtp` or `outbox`.
    pub email: &'static str,
    pub version: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "health",
    responses(
        (status = 200, body = Health),
        (status = 408, body = ErrorBody, description = "the request took longer than the server allows"),
        (status = 503, body = Health, description = "the database is unreachable"),
        ServerErrors,
    ))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let database = state.doorman.health().await;
    let reachable = database.database_reachable;
    let health = Health {
        status: if reachable { "healthy" } else { "unhealthy" },
        database: if reachable {
            "connected"
        } else {
            "unreachable"
        },
        database_backend: database.database_backend,
        discord_bot: match &state.bot {
            None => "disabled",
            Some(bot) if bot.is_connected() => "connected",
            Some(_) => "disconnected",
        },
        email: state.doorman.email_settings().route.name(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let status = if reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}
