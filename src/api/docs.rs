//! The OpenAPI document and the pages that show it, all served by doorman itself so they
//! work without internet access.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::encoding::EncodingBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa_swagger_ui::Config;

use super::ApiError;
use super::auth::API_KEY_HEADER;
use super::metrics::MetricsTokenSecurity;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "doorman",
        description = "Invite people by email and admit them to a Discord server once they prove who they are. \
                       Every /api route but the docs needs the admin key in the x-api-key header."
    ),
    modifiers(&ApiKeySecurity, &MetricsTokenSecurity),
    tags(
        (name = "users", description = "Invitees, their tokens and CSV import"),
        (name = "verification", description = "Checking an email and token"),
        (name = "events", description = "The event log"),
        (name = "emails", description = "Invitation emails: sending, the queue and outbox, SendGrid's webhook"),
        (name = "health", description = "Liveness and database state"),
        (name = "operations", description = "Metrics for Prometheus"),
    )
)]
pub struct ApiDoc;

/// Declares the `api_key` scheme; each route behind the key names it itself, so /health
/// and the webhook (which SendGrid signs) are not described as needing it.
struct ApiKeySecurity;

impl Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(API_KEY_HEADER))),
        );
    }
}

const REDOC_JS: &str = include_str!("../../assets/redoc/redoc.standalone.js");

const REDOC_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>doorman API</title>
</head>
<body>
  <redoc spec-url="/api/openapi.json"></redoc>
  <script src="/api/redoc/redoc.standalone.js"></script>
</body>
</html>"#;

const OPENAPI_PATH: &str = "/api/openapi.json";

/// Adds what the path attributes cannot say: the upload's `file` part is a CSV.
pub fn complete(mut api: OpenApi) -> OpenApi {
    let form = api
        .paths
        .paths
        .get_mut("/api/upload-csv")
        .and_then(|item| item.post.as_mut())
        .and_then(|operation| operation.request_body.as_mut())
        .and_then(|body| body.content.get_mut("multipart/form-data"));
    if let Some(form) = form {
        form.encoding.insert(
            "file".into(),
            EncodingBuilder::new()
                .content_type(Some("text/csv"))
                .build(),
        );
    }
    api
}

/// Swagger UI at `/api/docs` (and `/api/docs/`), ReDoc at `/api/redoc`, the document at
/// `/api/openapi.json`.
pub fn routes<S: Clone + Send + Sync + 'static>(api: OpenApi) -> Router<S> {
    let document = match complete(api).to_json() {
        Ok(json) => Arc::new(json),
        Err(e) => panic!("the OpenAPI document does not serialise: {e}"),
    };
    let config = Arc::new(Config::new([OPENAPI_PATH]));
    let index_config = config.clone();
    let index = get(move || swagger_index(index_config.clone()));
    Router::new()
        .route(
            OPENAPI_PATH,
            get(move || {
                let document = document.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        document.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/api/docs", index.clone())
        .route("/api/docs/", index)
        .route(
            "/api/docs/{*file}",
            get(move |Path(file): Path<String>| swagger_file(file, config.clone())),
        )
        .route("/api/redoc", get(|| async { Html(REDOC_PAGE) }))
        .route(
            "/api/redoc/redoc.standalone.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    REDOC_JS,
                )
                    .into_response()
            }),
        )
}

/// Swagger UI's page links its assets relatively; the base makes that work at `/api/docs`
/// as well as `/api/docs/`, so the page answers 200 at both rather than redirecting.
async fn swagger_index(config: Arc<Config<'static>>) -> Result<Response, ApiError> {
    let file = utoipa_swagger_ui::serve("index.html", config)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("Swagger UI has no index.html")))?;
    let page = String::from_utf8_lossy(&file.bytes).replacen(
        "<head>",
        "<head>\n    <base href=\"/api/docs/\">",
        1,
    );
    Ok(Html(page).into_response())
}

async fn swagger_file(file: String, config: Arc<Config<'static>>) -> Result<Response, ApiError> {
    let file = utoipa_swagger_ui::serve(&file, config)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        .ok_or_else(|| ApiError::NotFound("Not found".into()))?;
    Ok((
        [(header::CONTENT_TYPE, file.content_type)],
        file.bytes.into_owned(),
    )
        .into_response())
}
