//! `GET /health` (liveness: doorman runs, and how its database and bot are) and
//! `GET /ready` (readiness: the database answers and is migrated).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ServerErrors, TimeoutErrors};
use super::{AppState, ErrorBody};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// `connected` or `unreachable`.
    pub database: &'static str,
    /// `sqlite` or `postgres`.
    pub database_backend: &'static str,
    /// `disabled` (no DISCORD_TOKEN), `connected`, `standby` (another replica holds the
    /// gateway) or `disconnected`.
    pub discord_bot: &'static str,
    /// Where invitation emails go: `sendgrid`, `smtp` or `outbox`.
    pub email: &'static str,
    pub version: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "health",
    responses(
        (status = 200, body = Health, description = "doorman runs; the body says how its database and bot are"),
        TimeoutErrors,
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
            Some(bot) if bot.is_standby() => "standby",
            Some(_) => "disconnected",
        },
        email: state.doorman.email_settings().route.name(),
        version: env!("CARGO_PKG_VERSION"),
    };
    // Liveness: a database that is briefly away is no reason to restart the process.
    (StatusCode::OK, Json(health))
}

/// Whether this doorman can take traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `connected` or `unreachable`.
    pub database: &'static str,
    /// Whether every migration this doorman knows has been applied.
    pub migrations_applied: bool,
}

#[utoipa::path(get, path = "/ready", tag = "health",
    responses(
        (status = 200, body = Ready, description = "the database answers and its schema is current"),
        (status = 408, body = ErrorBody, description = "the request took longer than the server allows"),
        (status = 503, body = Ready, description = "the database is unreachable or not migrated"),
        ServerErrors,
    ))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let readiness = state.doorman.readiness().await;
    let ready = readiness.is_ready();
    let body = Ready {
        status: if ready { "ready" } else { "not_ready" },
        database: if readiness.database_reachable {
            "connected"
        } else {
            "unreachable"
        },
        migrations_applied: readiness.schema_current,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
