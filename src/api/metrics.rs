//! `GET /metrics`: Prometheus' text format, behind `METRICS_TOKEN` when it is set.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::error::{ServerErrors, TimeoutErrors};
use super::{AppState, ErrorBody};

/// Declares the `metrics_token` scheme that `/metrics` names.
pub struct MetricsTokenSecurity;

impl Modify for MetricsTokenSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Whether the request carries `Authorization: Bearer <token>`; the token is compared in
/// constant time.
fn authorised(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, given)| given.trim())
    else {
        return false;
    };
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

/// The metrics: requests, verifications, throttled attempts, emails and their queue, the
/// bot's deadlines and gateway, the database pool and the build.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, content_type = "text/plain", body = String,
            description = "Prometheus' text format (version 0.0.4)"),
        (status = 401, body = ErrorBody,
            description = "METRICS_TOKEN is set and the request does not carry it as a Bearer token",
            headers(("www-authenticate" = String, description = "`Bearer`"))),
        TimeoutErrors,
        ServerErrors,
    ))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token
        && !authorised(&headers, token.expose())
    {
        let body = ErrorBody {
            detail: "Missing or invalid metrics token: send it as Authorization: Bearer <token>"
                .into(),
        };
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(body),
        )
            .into_response();
    }
    let text = state.doorman.render_metrics().await;
    ([(header::CONTENT_TYPE, crate::observe::CONTENT_TYPE)], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bearer_token_itself_is_authorised() {
        let token = "0123456789abcdef";
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            authorised(&headers, token)
        };
        assert!(with("Bearer 0123456789abcdef"));
        assert!(with("bearer 0123456789abcdef"));
        assert!(!with("Bearer 0123456789abcde"));
        assert!(!with("Basic 0123456789abcdef"));
        assert!(!with("0123456789abcdef"));
        assert!(!authorised(&HeaderMap::new(), token));
    }
}
