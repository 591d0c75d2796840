//! Signing in with the admin key, and out again.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, extract::FromRequestParts};
use serde::Deserialize;

use super::layout::{self, Assets};
use super::session::{self, Current, SignedIn};
use crate::api::{AppState, ClientAddr};
use crate::service::ApiKeyRefusal;

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
struct SignInPage {
    assets: Assets,
    next: String,
    problem: Option<String>,
}

fn page(status: StatusCode, next: &str, problem: Option<String>) -> Response {
    let page = SignInPage {
        assets: Assets::new(),
        next: next.to_owned(),
        problem,
    };
    (status, page).into_response()
}

/// Where to go after signing in: the page that sent the browser here when it is one of
/// the UI's own, else the overview. Never another site.
fn destination(next: Option<&str>) -> &str {
    next.filter(|next| {
        let Some(rest) = next.strip_prefix("/admin") else {
            return false;
        };
        let boundary = rest.is_empty() || rest.starts_with('/') || rest.starts_with('?');
        boundary
            && !rest.starts_with("/sign-")
            && !next.contains("//")
            && !next.contains('\\')
            && !next.chars().any(char::is_control)
    })
    .unwrap_or("/admin")
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn form(
    Extension(current): Extension<Current>,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = destination(query.next.as_deref());
    if current.session.is_some() {
        return Redirect::to(next).into_response();
    }
    page(StatusCode::OK, next, None)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    api_key: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(current): Extension<Current>,
    ClientAddr(address): ClientAddr,
    parts: Parts,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = destination(form.next.as_deref());
    if form.api_key.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            next,
            Some("Enter the API key.".into()),
        );
    }
    match state
        .doorman
        .check_api_key(Some(form.api_key.as_bytes()), address)
        .await
    {
        Ok(()) => {}
        Err(ApiKeyRefusal::Throttled { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let problem = format!(
                "Too many wrong keys came from your address. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut response = page(StatusCode::TOO_MANY_REQUESTS, next, Some(problem));
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return response;
        }
        Err(ApiKeyRefusal::Invalid | ApiKeyRefusal::Missing) => {
            if let Err(e) = state
                .doorman
                .record_ui_sign_in_refused(address, "wrong_key")
                .await
            {
                return layout::internal(e);
            }
            let problem = "That is not the API key. Check it and try again.";
            return page(StatusCode::UNAUTHORIZED, next, Some(problem.into()));
        }
        Err(e) => return layout::internal(e),
    }
    let opened = state
        .doorman
        .open_admin_session(address, state.web.session_lifetime, current.token.as_ref())
        .await;
    let opened = match opened {
        Ok(opened) => opened,
        Err(e) => return layout::internal(e),
    };
    let mut response = Redirect::to(next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::cookie(&state, &parts, &opened.token),
    );
    response
}

pub async fn sign_out(State(state): State<AppState>, mut parts: Parts) -> Response {
    // Whatever happens, the browser forgets its cookie.
    let mut response = Redirect::to("/admin/sign-in").into_response();
    if let Ok(signed_in) = SignedIn::from_request_parts(&mut parts, &state).await
        && let Err(e) = state.doorman.close_admin_session(&signed_in.token).await
    {
        return layout::internal(e);
    }
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::cleared_cookie(&state, &parts));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comes_back_only_to_the_uis_own_pages() {
        let cases = [
            (None, "/admin"),
            (Some("/admin"), "/admin"),
            (
                Some("/admin/events?kind=ui_signed_in"),
                "/admin/events?kind=ui_signed_in",
            ),
            (Some("/admin?x=1"), "/admin?x=1"),
            (Some("https://evil.example/admin"), "/admin"),
            (Some("//evil.example/admin"), "/admin"),
            (Some("/admin//evil.example"), "/admin"),
            (Some("/admin\\evil"), "/admin"),
            (Some("/administrator"), "/admin"),
            (Some("/api/users"), "/admin"),
            (Some("/admin/sign-in?next=/admin"), "/admin"),
            (Some("/admin/sign-out"), "/admin"),
            (Some("/admin/\r\nSet-Cookie: x"), "/admin"),
            (Some(""), "/admin"),
        ];
        for (next, expected) in cases {
            assert_eq!(destination(next), expected, "{next:?}");
        }
    }
}
