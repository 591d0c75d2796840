//! Cross-site request forgery, refused twice over for every state-changing request:
//! first by where it comes from (Fetch metadata and `Origin`, tower-http's check), then
//! by the session's own token, in a form field or the `X-CSRF-Token` header (htmx sends
//! the header, from `hx-headers` on `<body>`). A refusal changes nothing.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;
use tower_http::csrf::CsrfLayer;

use super::layout;
use super::session::Current;
use crate::config::WebSettings;

pub const TOKEN_FIELD: &str = "csrf_token";
pub const TOKEN_HEADER: &str = "x-csrf-token";
/// A form the UI posts is small; the route's body limit refuses larger ones earlier.
const FORM_LIMIT: usize = 1024 * 1024;

/// Refuses state-changing requests from other sites. Same-origin requests pass, and so do
/// requests whose `Origin` is `PUBLIC_URL`'s (behind a proxy that rewrites `Host`).
pub fn cross_site_layer(
    web: &WebSettings,
) -> CsrfLayer<impl Fn(tower_http::csrf::ProtectionError) -> Response + Clone + use<>> {
    let layer = CsrfLayer::new();
    let layer = match web.public_origin() {
        Some(origin) => layer
            .clone()
            .add_trusted_origin(&origin)
            .unwrap_or_else(|e| {
                tracing::warn!(%origin, error = ?e, "PUBLIC_URL cannot be a trusted origin");
                layer
            }),
        None => layer,
    };
    layer.with_rejection_response(|_| layout::expired())
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Sign-in has no session yet; the cross-site check and the key itself protect it.
fn needs_token(request: &Request) -> bool {
    changes_state(request.method()) && request.uri().path() != "/admin/sign-in"
}

pub async fn require_token(request: Request, next: Next) -> Response {
    if !needs_token(&request) {
        return next.run(request).await;
    }
    let expected = request
        .extensions()
        .get::<Current>()
        .and_then(|current| current.session.as_ref())
        .map(|session| session.csrf_token.clone());
    let Some(expected) = expected else {
        return layout::expired();
    };
    let (request, given) = match presented(request).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let matches =
        given.is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())));
    if !matches {
        return layout::expired();
    }
    next.run(request).await
}

/// The token from the header, or from a URL-encoded form body (read here and handed on).
async fn presented(request: Request) -> Result<(Request, Option<String>), Response> {
    if let Some(value) = request.headers().get(TOKEN_HEADER) {
        let given = value.to_str().ok().map(str::to_owned);
        return Ok((request, given));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| layout::expired())?;
    let given = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == TOKEN_FIELD)
        .map(|(_, value)| value.into_owned());
    Ok((Request::from_parts(parts, Body::from(bytes)), given))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_state_changing_methods_need_a_token() {
        let cases = [
            (Method::GET, "/admin/events", false),
            (Method::HEAD, "/admin", false),
            (Method::POST, "/admin/sign-out", true),
            (Method::DELETE, "/admin/invitees/1", true),
            (Method::PATCH, "/admin/discord", true),
            (Method::POST, "/admin/sign-in", false),
        ];
        for (method, path, needed) in cases {
            let request = Request::builder()
                .method(method.clone())
                .uri(path)
                .body(Body::empty())
                .unwrap();
            assert_eq!(needs_token(&request), needed, "{method} {path}");
        }
    }
}
