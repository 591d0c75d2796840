//! Verification by email and token, for the original's clients and its Discord bot.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client_addr::ClientAddr;
use super::error::{AuthErrors, JsonBodyErrors, ServerErrors, TimeoutErrors};
use super::extract::{ApiJson, Integer};
use super::{ApiError, AppState};
use crate::domain::event::{Actor, Channel};
use crate::domain::invitee::DiscordUserId;
use crate::service::{AttemptSource, VerifyOutcome, VerifyRequest};

#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyBody {
    #[schema(example = "ana@example.org")]
    email: String,
    #[schema(example = "K7QM-4WZP")]
    token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyDiscordBody {
    email: String,
    token: String,
    /// A Discord user id, as a string (or a number).
    #[schema(schema_with = discord_user_id_schema)]
    discord_user_id: StringOrNumber,
}

/// What `DiscordUserId::parse` takes: a positive 64-bit number, in digits or as a number.
fn discord_user_id_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Type};
    let one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^0*[1-9][0-9]{0,18}$")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(u64::MAX)),
        )
        .build();
    utoipa::openapi::schema::Schema::OneOf(one_of)
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrNumber {
    String(String),
    Number(Integer<u64>),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    pub success: bool,
    #[schema(example = "User verified successfully")]
    pub message: String,
    /// Set on a successful Discord verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discord_user_id: Option<String>,
}

impl From<VerifyOutcome> for VerifyResponse {
    fn from(outcome: VerifyOutcome) -> Self {
        let discord_user_id = match &outcome {
            VerifyOutcome::Verified {
                discord_user_id, ..
            } => discord_user_id.clone(),
            _ => None,
        };
        Self {
            success: outcome.is_success(),
            message: outcome.message().into(),
            discord_user_id,
        }
    }
}

/// Verify an invitee by email and token. A failed check answers 200 with
/// `success: false` and the reason, as the original did.
#[utoipa::path(post, path = "/api/verify", tag = "verification", request_body = VerifyBody,
    security(("api_key" = [])),
    responses((status = 200, body = VerifyResponse), JsonBodyErrors, AuthErrors, ServerErrors, TimeoutErrors))]
pub async fn verify(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<VerifyResponse>, ApiError> {
    attempt(&state, client, &body.email, &body.token, None).await
}

/// Verify an invitee and link their Discord account (one account per invitee).
#[utoipa::path(post, path = "/api/verify-discord", tag = "verification", request_body = VerifyDiscordBody,
    security(("api_key" = [])),
    responses((status = 200, body = VerifyResponse), JsonBodyErrors, AuthErrors, ServerErrors, TimeoutErrors))]
pub async fn verify_discord(
    State(state): State<AppState>,
    client: ClientAddr,
    ApiJson(body): ApiJson<VerifyDiscordBody>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let raw_id = match body.discord_user_id {
        StringOrNumber::String(s) => s,
        StringOrNumber::Number(n) => n.0.to_string(),
    };
    let discord_user_id =
        DiscordUserId::parse(&raw_id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    attempt(
        &state,
        client,
        &body.email,
        &body.token,
        Some(&discord_user_id),
    )
    .await
}

/// One attempt, from the API's key holder: through the Discord channel when it links a
/// Discord account.
async fn attempt(
    state: &AppState,
    client: ClientAddr,
    email: &str,
    token: &str,
    discord_user_id: Option<&DiscordUserId>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let channel = match discord_user_id {
        Some(_) => Channel::Discord,
        None => Channel::Api,
    };
    let outcome = state
        .doorman
        .verify(VerifyRequest {
            email,
            token,
            discord_user_id,
            channel,
            actor: Actor::ApiKey,
            source: source(client),
        })
        .await?;
    Ok(Json(outcome.into()))
}

/// The caller's address: on the API the attempt comes from the client, whichever invitee
/// or Discord account it names.
fn source(client: ClientAddr) -> AttemptSource<'static> {
    client
        .0
        .map_or(AttemptSource::Unknown, AttemptSource::Client)
}
