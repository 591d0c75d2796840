//! The session cookie: read on every request, set at sign-in, cleared at sign-out.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::api::AppState;
use crate::service::{AdminSession, SessionToken};

const COOKIE: &str = "doorman_session";
/// The cookie goes only to the UI, never to `/api` (which takes the key itself).
const COOKIE_PATH: &str = "/admin";

/// What [`load`] found for this request: the browser's token, and its session if live.
#[derive(Clone, Default)]
pub struct Current {
    pub token: Option<SessionToken>,
    pub session: Option<AdminSession>,
}

/// A signed-in request. Extracting it sends anyone else to sign in first.
pub struct SignedIn {
    pub token: SessionToken,
    pub session: AdminSession,
}

pub async fn load(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let token = presented_token(request.headers());
    let session = match &token {
        Some(token) => match state.doorman.admin_session(token).await {
            Ok(session) => session,
            Err(e) => return super::layout::internal(e),
        },
        None => None,
    };
    request.extensions_mut().insert(Current { token, session });
    next.run(request).await
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let current = parts
            .extensions
            .get::<Current>()
            .cloned()
            .unwrap_or_default();
        match (current.token, current.session) {
            (Some(token), Some(session)) => Ok(Self { token, session }),
            _ => Err(to_sign_in(parts)),
        }
    }
}

/// Sends the browser to sign in, to come back here afterwards.
fn to_sign_in(parts: &Parts) -> Response {
    let here = parts.uri.path_and_query().map_or("/admin", |p| p.as_str());
    let target = format!(
        "/admin/sign-in?next={}",
        url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
    );
    if parts.headers.contains_key("hx-request") {
        // htmx follows a redirect inside the fragment it asked for; this leaves the page.
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(value) = HeaderValue::from_str(&target) {
            response.headers_mut().insert("hx-redirect", value);
        }
        return response;
    }
    Redirect::to(&target).into_response()
}

fn presented_token(headers: &HeaderMap) -> Option<SessionToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| SessionToken::new(value))
}

/// Whether the browser reached doorman over HTTPS: `PUBLIC_URL` says so, or one of our own
/// proxies does (`X-Forwarded-Proto`, believed only from `TRUSTED_PROXIES`).
fn over_https(state: &AppState, parts: &Parts) -> bool {
    if state.web.public_https() {
        return true;
    }
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return false;
    };
    if !state.trusted_proxies.contains(peer.ip()) {
        return false;
    }
    // The last proxy's word is the one that saw the connection.
    parts
        .headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` that hands the browser its new session.
pub fn cookie(state: &AppState, parts: &Parts, token: &SessionToken) -> HeaderValue {
    let max_age = state.web.session_lifetime.num_seconds();
    let secure = if over_https(state, parts) {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{COOKIE}={}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        token.expose()
    );
    HeaderValue::from_str(&value).expect("a session token is cookie-safe")
}

/// The `Set-Cookie` that makes the browser forget its session.
pub fn cleared_cookie(state: &AppState, parts: &Parts) -> HeaderValue {
    let secure = if over_https(state, parts) {
        "; Secure"
    } else {
        ""
    };
    let value =
        format!("{COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&value).expect("a static cookie is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            "a=1; doorman_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(
            presented_token(&headers).map(|t| t.expose().to_owned()),
            Some("tok".to_owned())
        );
        let mut empty = HeaderMap::new();
        empty.append(header::COOKIE, "doorman_session=".parse().unwrap());
        assert!(presented_token(&empty).is_none());
        assert!(presented_token(&HeaderMap::new()).is_none());
    }
}
