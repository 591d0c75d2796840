//! The join pages. Every way this can go wrong ends on a page that says what happened
//! and what to do next; an invitation is used up only when the invitee is in the server.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use twilight_model::id::Id;

use super::JoinContext;
use super::discord::DiscordError;
use super::views::{Action, not_found, page, refused, source, trouble, unusable};
use crate::api::{AppState, ClientAddr};
use crate::domain::invitee::DiscordUserId;
use crate::service::{JoinInvitation, JoinRefusal, JoinSecret, STATE_LIFETIME};

/// The cookie that binds a trip to Discord to this browser. `SameSite=Lax`: it must come
/// along on the top-level redirect back from Discord.
const COOKIE: &str = "doorman_join";

/// `GET /join/<token>`: who the invitation is for, and the button. Nothing is used up.
pub async fn invitation(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    Path(token): Path<String>,
) -> Response {
    let Some(join) = &state.join else {
        return not_found();
    };
    match state.doorman.join_invitation(&token, source(address)).await {
        Ok(JoinInvitation::Open { name, expires_at }) => page(
            StatusCode::OK,
            format!("Join {} as {name}", join.community),
            vec![
                format!(
                    "Your invitation is valid until {} UTC.",
                    expires_at.format("%-d %B %Y, %H:%M")
                ),
                "Sign in with Discord and doorman adds you to the server, already verified.".into(),
            ],
            Some(Action {
                href: format!("/join/{token}/discord"),
                label: "Continue with Discord",
            }),
        ),
        Ok(other) => unusable(&other),
        Err(error) => trouble(error),
    }
}

fn presented_cookie(headers: &HeaderMap) -> Option<JoinSecret> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| JoinSecret::new(value))
}

/// `GET /join/<token>/discord`: a fresh state, and off to Discord's consent page.
pub async fn start(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let Some(join) = &state.join else {
        return not_found();
    };
    let browser = presented_cookie(&headers);
    let started = match state
        .doorman
        .start_join(&token, browser, source(address))
        .await
    {
        Ok(Ok(started)) => started,
        Ok(Err(invitation)) => return unusable(&invitation),
        Err(error) => return trouble(error),
    };
    let settings = &join.discord.settings;
    let mut target = settings.authorize_url.clone();
    target
        .query_pairs_mut()
        .append_pair("client_id", &settings.client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "identify guilds.join")
        .append_pair("redirect_uri", settings.redirect_uri.as_str())
        .append_pair("state", started.state.expose());
    let secure = if state.web.public_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={}; Path=/join; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        started.browser.expose(),
        STATE_LIFETIME.num_seconds()
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let (Ok(location), Ok(cookie)) = (
        HeaderValue::from_str(target.as_str()),
        HeaderValue::from_str(&cookie),
    ) {
        headers.insert(header::LOCATION, location);
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /join/callback`: back from Discord.
pub async fn callback(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(join) = &state.join else {
        return not_found();
    };
    let Some(presented) = query.state.filter(|s| !s.is_empty()) else {
        return refused(JoinRefusal::UnknownState, None);
    };
    let browser = presented_cookie(&headers);
    let doorman = &state.doorman;
    let claim = match doorman
        .claim_join(&JoinSecret::new(presented), browser.as_ref())
        .await
    {
        Ok(Ok(claim)) => claim,
        Ok(Err(refusal)) => return refused(refusal, None),
        Err(error) => return trouble(error),
    };
    let code = match (query.code, query.error) {
        (Some(code), None) if !code.is_empty() => code,
        _ => {
            return match doorman
                .refuse_join(&claim, JoinRefusal::ConsentDenied)
                .await
            {
                Ok(()) => refused(JoinRefusal::ConsentDenied, None),
                Err(e) => trouble(e),
            };
        }
    };
    let token = match join.discord.exchange(&code).await {
        Ok(token) => token,
        Err(error) => return at_discord(doorman, &claim, error).await,
    };
    let user = match join.discord.user_id(&token).await {
        Ok(user) => user,
        Err(error) => return at_discord(doorman, &claim, error).await,
    };
    let Ok(user) = DiscordUserId::parse(&user) else {
        let error = DiscordError::Failed {
            what: "reading your Discord account",
            problem: "a user id that is not a snowflake".into(),
        };
        return at_discord(doorman, &claim, error).await;
    };
    let plan = match doorman.complete_join(claim, &user, source(address)).await {
        Ok(Ok(plan)) => plan,
        Ok(Err(refusal)) => return refused(refusal, None),
        Err(error) => return trouble(error),
    };
    let added = match join
        .discord
        .add_member(user.as_str(), &token, &plan.invitee)
        .await
    {
        Ok(added) => added,
        Err(error) => {
            tracing::warn!(error = %error, "Discord would not add a member who joined by link");
            return match doorman.undo_join(&plan, JoinRefusal::DiscordRefused).await {
                Ok(()) => refused(JoinRefusal::DiscordRefused, Some(&error)),
                Err(e) => trouble(e),
            };
        }
    };
    drop(token);
    welcome(&state, join, &plan, added).await
}

/// Discord let the sign-in down before anything was written: the invitation is untouched.
async fn at_discord(
    doorman: &crate::service::Doorman,
    claim: &crate::service::JoinClaim,
    error: DiscordError,
) -> Response {
    tracing::warn!(error = %error, "a join stopped at Discord");
    match doorman.refuse_join(claim, JoinRefusal::DiscordFailed).await {
        Ok(()) => refused(JoinRefusal::DiscordFailed, Some(&error)),
        Err(e) => trouble(e),
    }
}

async fn welcome(
    state: &AppState,
    join: &JoinContext,
    plan: &crate::service::JoinPlan,
    added: bool,
) -> Response {
    let guild_id = join.discord.settings.guild_id;
    let (Some(guild), Ok(user)) = (
        Id::new_checked(guild_id),
        plan.discord_user_id.as_str().parse(),
    ) else {
        return not_found();
    };
    let Some(user) = Id::new_checked(user) else {
        return not_found();
    };
    if let Err(error) = state
        .doorman
        .member_joined_by_link(guild, user, plan.invitee.id, added, &join.gate)
        .await
    {
        return trouble(error);
    }
    page(
        StatusCode::OK,
        format!("Welcome to {}", join.community),
        vec![
            format!(
                "You are in, {}: verified, with your roles.",
                plan.invitee.name
            ),
            "Open the server in Discord to say hello.".into(),
        ],
        Some(Action {
            href: format!("https://discord.com/channels/{guild_id}"),
            label: "Open the server in Discord",
        }),
    )
}
