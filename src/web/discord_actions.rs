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
use crate::service::{GateRules, MAX_TIMEOUT_MINUTES};

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

fn back(guild_id: Id<GuildMarker>, done: &str) -> Response {
    Redirect::to(&format!("/admin/discord?guild={guild_id}&done={done}")).into_response()
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

fn unknown_member() -> Response {
    layout::problem(
        axum::http::StatusCode::NOT_FOUND,
        "Member not found",
        "That is not a Discord member id.",
    )
}

/// `/force_verify` from the page.
pub async fn force_verify(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<MemberForm>,
) -> Response {
    let (guild_id, gate) = match known_guild(&state, &form.guild).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    let Some(user_id) = parse_id::<UserMarker>(&form.user) else {
        return unknown_member();
    };
    match state
        .doorman
        .force_verify_member_durably(guild_id, user_id, Actor::Ui, &gate)
        .await
    {
        Ok(_) => back(guild_id, "verified"),
        Err(e) => layout::internal(e),
    }
}

/// Ends a waiting member's time: the bot removes them as for a passed deadline.
pub async fn remove(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<MemberForm>,
) -> Response {
    let (guild_id, _) = match known_guild(&state, &form.guild).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    let Some(user_id) = parse_id::<UserMarker>(&form.user) else {
        return unknown_member();
    };
    match state
        .doorman
        .remove_waiting_member(guild_id, user_id, Actor::Ui)
        .await
    {
        Ok(true) => back(guild_id, "removed"),
        Ok(false) => back(guild_id, "not-waiting"),
        Err(e) => layout::internal(e),
    }
}

/// `/confirm_kicks` from the page.
pub async fn confirm_kicks(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<GuildForm>,
) -> Response {
    let (guild_id, _) = match known_guild(&state, &form.guild).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    match state.doorman.confirm_held_kicks(guild_id, Actor::Ui).await {
        Ok(_) => back(guild_id, "confirmed"),
        Err(e) => layout::internal(e),
    }
}

/// `/cancel_kicks` from the page.
pub async fn cancel_kicks(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<GuildForm>,
) -> Response {
    let (guild_id, gate) = match known_guild(&state, &form.guild).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    match state
        .doorman
        .cancel_held_kicks(guild_id, Actor::Ui, &gate)
        .await
    {
        Ok(_) => back(guild_id, "cancelled"),
        Err(e) => layout::internal(e),
    }
}

/// `/set_timeout` from the page.
pub async fn set_timeout(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Form(form): Form<TimeoutForm>,
) -> Response {
    let (guild_id, _) = match known_guild(&state, &form.guild).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    let minutes = form
        .minutes
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=MAX_TIMEOUT_MINUTES).contains(m));
    let Some(minutes) = minutes else {
        return back(guild_id, "bad-timeout");
    };
    match state
        .doorman
        .set_verification_timeout(guild_id, minutes, Actor::Ui)
        .await
    {
        Ok(()) => back(guild_id, "timeout"),
        Err(e) => layout::internal(e),
    }
}
