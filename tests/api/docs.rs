use crate::helpers::{Backend, TestApp};
use serde_json::Value;

#[tokio::test]
async fn the_docs_pages_are_served_without_a_key_and_without_a_cdn() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/api/docs/", "/api/redoc"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("https://"),
            "{path} must not load anything from the internet"
        );
    }
    let js = app
        .client
        .get(app.url("/api/redoc/redoc.standalone.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let redirected = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(
        redirected.status(),
        200,
        "/api/docs leads to the Swagger UI"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_the_key() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/all",
            "/api/emails",
            "/api/emails/test",
            "/api/events",
            "/api/refresh-token/{id}",
            "/api/send-emails",
            "/api/upload-csv",
            "/api/users",
            "/api/users/{id}",
            "/api/verify",
            "/api/verify-discord",
            "/api/{id}",
            "/health",
            "/webhooks/sendgrid",
        ]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["name"],
        "x-api-key"
    );
    // The webhook is authenticated by SendGrid's signature, not the API key.
    assert_eq!(
        doc["paths"]["/webhooks/sendgrid"]["post"]["security"],
        serde_json::json!([{}])
    );
    let user = &doc["components"]["schemas"]["Invitee"]["properties"];
    for field in [
        "id",
        "email",
        "name",
        "college",
        "branch",
        "year",
        "is_verified",
        "verified_at",
        "discord_user_id",
        "token_created_at",
        "token_expires_at",
        "email_status",
        "created_at",
        "updated_at",
    ] {
        assert!(user.get(field).is_some(), "Invitee schema lacks {field}");
    }
    assert!(user.get("token_hash").is_none() && user.get("token_sealed").is_none());
}
