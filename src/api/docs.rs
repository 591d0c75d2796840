//! The OpenAPI document and the pages that show it, all served by doorman itself so they
//! work without internet access.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

use super::auth::API_KEY_HEADER;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "doorman",
        description = "Invite people by email and admit them to a Discord server once they prove who they are. \
                       Every /api route but the docs needs the admin key in the x-api-key header."
    ),
    modifiers(&ApiKeySecurity),
    tags(
        (name = "users", description = "Invitees, their tokens and CSV import"),
        (name = "verification", description = "Checking an email and token"),
        (name = "events", description = "The event log"),
        (name = "emails", description = "Invitation emails: sending, the queue and outbox, SendGrid's webhook"),
        (name = "health", description = "Liveness and database state"),
    )
)]
pub struct ApiDoc;

struct ApiKeySecurity;

impl Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(API_KEY_HEADER))),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "api_key",
            Vec::<String>::new(),
        )]);
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

/// Swagger UI at `/api/docs`, ReDoc at `/api/redoc`, the document at `/api/openapi.json`.
pub fn routes<S: Clone + Send + Sync + 'static>(api: OpenApi) -> Router<S> {
    let swagger: Router<S> = SwaggerUi::new("/api/docs")
        .url("/api/openapi.json", api)
        .into();
    swagger
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
