//! What an admin does on the Discord page. Each calls the same service operation as the
//! slash command, with actor `ui`, and comes back to the page with a notice. Effects in
//! Discord (roles, kicks) are written down for the bot that holds the connection.

use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::layout;
use super::session::SignedIn;
use crate::api::AppState;
use crate::discord::parse_id;
use crate::domain::event::Actor;
use crate::service::{Doorman, GateRules, MAX_TIMEOUT_MINUTES, RolesBy, ServiceError};

#[derive(Debug, Deserialize)]
pub struct MemberForm {
    guild: String,
    user: String,
}

#[derive(Debug, Deserialize)]
pub struct GuildForm {
    guild: String,
}

#[derive(Debug, Deserialize)]
pub struct TimeoutForm {
    guild: String,
    minutes: String,
}

/// The server named in a form, if doorman knows it; and the bot's rules.
async fn known_guild(
    state: &AppState,
    raw: &str,
) -> Result<(Id<GuildMarker>, GateRules), Response> {
    let not_found = || {
        layout::problem(
            axum::http::StatusCode::NOT_FOUND,
            "Server not found",
            "doorman does not know this Discord server.",
        )
    };
    let settings = state.discord.as_ref().ok_or_else(not_found)?;
    let id = parse_id::<GuildMarker>(raw).ok_or_else(not_found)?;
    let guilds = state
        .doorman
        .known_guilds()
        .await
        .map_err(layout::internal)?;
    if !guilds.iter().any(|g| g.guild_id == id) {
        return Err(not_found());
    }
    Ok((id, GateRules::from_settings(settings)))
}

/// Why an action shows a page of its own instead of coming back with a notice.
enum Refused {
    UnknownMember,
    Failed(ServiceError),
}

impl From<ServiceError> for Refused {
    fn from(error: ServiceError) -> Self {
        Self::Failed(error)
    }
}

/// Runs `operation` on the server the form names, if doorman knows it, and comes back to
/// the page with the notice whose word it answers.
async fn on_guild(
    state: &AppState,
    guild: &str,
    operation: impl AsyncFnOnce(&Doorman, Id<GuildMarker>, GateRules) -> Result<&'static str, Refused>,
) -> Response {
    let (guild_id, gate) = match known_guild(state, guild).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    match operation(&state.doorman, guild_id, gate).await {
        Ok(done) => {
            Redirect::to(&format!("/admin/discord?guild={guild_id}&done={done}")).into_response()
        }
        Err(Refused::UnknownMember) => layout::problem(
            axum::http::StatusCode::NOT_FOUND,
            "Member not found",
            "That is not a Discord member id.",
        ),
        Err(Refused::Failed(e)) => layout::internal(e),
    }
}

/// [`on_guild`] for one of the server's members, named by the form.
async fn on_member(
    state: &AppState,
    form: &MemberForm,
    operation: impl AsyncFnOnce(
        &Doorman,
        Id<GuildMarker>,
        Id<UserMarker>,
        GateRules,
    ) -> Result<&'static str, Refused>,
) -> Response {
    on_guild(state, &form.guild, async |doorman, guild_id, gate| {
        let user_id = parse_id::<UserMarker>(&form.user).ok_or(Refused::UnknownMember)?;
        operation(doorman, guild_id, user_id, gate).await
    })
    .await
}

/// `/force_verify` from the page. The page may answer on a replica without the Discord
/// connection, so the roles are left for the bot to give.
pub async fn force_verify(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<MemberForm>,
) -> Response {
    on_member(&state, &form, async |doorman, guild_id, user_id, gate| {
        doorman
            .force_verify_member(guild_id, user_id, Actor::Ui, RolesBy::Bot, &gate)
            .await?;
        Ok("verified")
    })
    .await
}

/// Ends a waiting member's time: the bot removes them as for a passed deadline.
pub async fn remove(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<MemberForm>,
) -> Response {
    on_member(&state, &form, async |doorman, guild_id, user_id, _| {
        let removed = doorman
            .remove_waiting_member(guild_id, user_id, Actor::Ui)
            .await?;
        Ok(if removed { "removed" } else { "not-waiting" })
    })
    .await
}

/// `/confirm_kicks` from the page.
pub async fn confirm_kicks(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<GuildForm>,
) -> Response {
    on_guild(&state, &form.guild, async |doorman, guild_id, _| {
        doorman.confirm_held_kicks(guild_id, Actor::Ui).await?;
        Ok("confirmed")
    })
    .await
}

/// `/cancel_kicks` from the page.
pub async fn cancel_kicks(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<GuildForm>,
) -> Response {
    on_guild(&state, &form.guild, async |doorman, guild_id, gate| {
        doorman
            .cancel_held_kicks(guild_id, Actor::Ui, &gate)
            .await?;
        Ok("cancelled")
    })
    .await
}

/// `/set_timeout` from the page.
pub async fn set_timeout(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<TimeoutForm>,
) -> Response {
    let minutes = form
        .minutes
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=MAX_TIMEOUT_MINUTES).contains(m));
    on_guild(&state, &form.guild, async |doorman, guild_id, _| {
        let Some(minutes) = minutes else {
            return Ok("bad-timeout");
        };
        doorman
            .set_verification_timeout(guild_id, minutes, Actor::Ui)
            .await?;
        Ok("timeout")
    })
    .await
}
