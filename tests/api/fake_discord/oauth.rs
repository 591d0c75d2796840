//! OAuth2 as Discord documents it: the authorization page (here it consents, or denies,
//! at once for the fake user the test chose), the form-encoded token exchange with client
//! credentials and its errors, `/users/@me` with a Bearer token, and Add Guild Member
//! (201 with the member, 204 when already there, 403 without the permission).

use std::collections::HashMap;

use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};

use super::rest::{error, json_answer};
use super::state::{Member, perm};
use super::{FakeDiscord, MEMBERS, Shared};

type St = AxState<std::sync::Arc<Shared>>;

/// What the authorization page answers.
#[derive(Debug, Clone, Default)]
pub enum Consent {
    /// The person signs in as this user and authorizes.
    User(u64),
    /// The person clicks Cancel.
    #[default]
    Deny,
}

#[derive(Debug, Default)]
pub struct OauthState {
    pub consent: Consent,
    /// code → (user, redirect_uri, scopes)
    codes: HashMap<String, (u64, String, String)>,
    /// access token → (user, scopes)
    tokens: HashMap<String, (u64, String)>,
    /// Every `state` the authorization page was given, in order.
    pub states_seen: Vec<String>,
    /// The token exchange answers 500 (Discord having a bad moment).
    pub token_outage: bool,
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    json_answer(
        status,
        json!({ "error": code, "error_description": description }),
    )
}

fn fresh() -> String {
    let bytes: [u8; 24] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `GET /oauth2/authorize`.
pub async fn authorize(AxState(shared): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != FakeDiscord::CLIENT_ID.to_string() {
        return (StatusCode::BAD_REQUEST, "Unknown application").into_response();
    }
    let redirect_uri = get("redirect_uri");
    if get("response_type") != "code" || redirect_uri.is_empty() {
        return (StatusCode::BAD_REQUEST, "Invalid OAuth2 request").into_response();
    }
    let scope = get("scope");
    let state = get("state");
    let mut st = shared.lock();
    st.oauth.states_seen.push(state.clone());
    let mut target = url::Url::parse(&redirect_uri).expect("redirect_uri is a URL");
    match st.oauth.consent.clone() {
        Consent::Deny => {
            target
                .query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair(
                    "error_description",
                    "The resource owner or authorization server denied the request",
                )
                .append_pair("state", &state);
        }
        Consent::User(user) => {
            let code = fresh();
            st.oauth
                .codes
                .insert(code.clone(), (user, redirect_uri.clone(), scope));
            target
                .query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &state);
        }
    }
    Redirect::to(target.as_str()).into_response()
}

/// `POST /api/v10/oauth2/token`, `application/x-www-form-urlencoded`.
pub async fn token(AxState(shared): St, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if shared.lock().oauth.token_outage {
        return error(500, 0, "500: Internal Server Error");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match basic.as_deref().and_then(|b| b.split_once(':')) {
        Some((id, secret)) => (id.to_owned(), secret.to_owned()),
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if id != FakeDiscord::CLIENT_ID.to_string() || secret != FakeDiscord::CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        );
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let mut st = shared.lock();
    // A code works once.
    let Some((user, redirect_uri, scope)) = st.oauth.codes.remove(&code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid \"code\" in request.",
        );
    };
    if form.get("redirect_uri") != Some(&redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid \"redirect_uri\" in request.",
        );
    }
    let access = fresh();
    st.oauth
        .tokens
        .insert(access.clone(), (user, scope.clone()));
    json_answer(
        StatusCode::OK,
        json!({
            "access_token": access, "token_type": "Bearer", "expires_in": 604800,
            "refresh_token": fresh(), "scope": scope,
        }),
    )
}

/// The user behind `Authorization: Bearer …`, for `/users/@me`.
pub fn bearer_user(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?
        .strip_prefix("Bearer ")?;
    let st = shared.lock();
    Some(match st.oauth.tokens.get(token) {
        Some((user, _)) => json_answer(StatusCode::OK, st.user_json(*user)),
        None => error(401, 0, "401: Unauthorized"),
    })
}

/// `PUT /guilds/{guild}/members/{user}` (Add Guild Member), with the bot's token.
pub async fn add_member(
    AxState(shared): St,
    Path((guild, user)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = shared.lock();
    if guild != st.guild_id.to_string() {
        return error(404, 10004, "Unknown Guild");
    }
    let Ok(user) = user.parse::<u64>() else {
        return error(404, 10013, "Unknown User");
    };
    let token = body["access_token"].as_str().unwrap_or_default();
    match st.oauth.tokens.get(token) {
        Some((owner, scope)) if *owner == user && scope.split(' ').any(|s| s == "guilds.join") => {}
        _ => return error(403, 50025, "Invalid OAuth2 access token"),
    }
    let bot = st.bot_user_id;
    if st.permissions(bot) & (perm::CREATE_INSTANT_INVITE | perm::ADMINISTRATOR) == 0 {
        return error(403, 50013, "Missing Permissions");
    }
    if st.members.contains_key(&user) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let roles: Vec<u64> = body["roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    st.members.insert(
        user,
        Member {
            user_id: user,
            nick: body["nick"].as_str().map(str::to_owned),
            roles,
            joined_at: Utc::now(),
            pending: false,
            communication_disabled_until: None,
        },
    );
    let member = st.member_json(user, true).expect("member");
    let mut event = member.clone();
    event["guild_id"] = json!(st.guild_id.to_string());
    st.dispatch("GUILD_MEMBER_ADD", event, MEMBERS);
    json_answer(StatusCode::CREATED, member)
}

impl FakeDiscord {
    /// The OAuth2 application's id and secret this Discord accepts.
    pub const CLIENT_ID: u64 = 777_000_000_000_000_777;
    pub const CLIENT_SECRET: &'static str = "fake-oauth-client-secret";

    /// `DISCORD_OAUTH_URL` for doorman.
    pub fn oauth_url(&self) -> String {
        format!("{}/oauth2/authorize", self.api_url())
    }

    /// From now on the authorization page signs in as this user and consents.
    pub fn consent_as(&self, user_id: u64, name: &str) {
        let mut st = self.lock();
        st.ensure_user(user_id, name);
        st.oauth.consent = Consent::User(user_id);
    }

    /// From now on the authorization page is cancelled.
    pub fn deny_consent(&self) {
        self.lock().oauth.consent = Consent::Deny;
    }

    /// The token exchange fails with 500 until `on` is false again.
    pub fn set_token_outage(&self, on: bool) {
        self.lock().oauth.token_outage = on;
    }

    /// The states the authorization page was given.
    pub fn oauth_states(&self) -> Vec<String> {
        self.lock().oauth.states_seen.clone()
    }
}
