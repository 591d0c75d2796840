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
}

#[tokio::test]
async fn the_swagger_ui_answers_at_api_docs_itself_and_its_assets_load() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/api/docs", "/api/docs/"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path} answers without a redirect");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{path}");
        // The page's relative links must resolve under /api/docs/ from either address.
        assert!(html.contains(r#"<base href="/api/docs/">"#), "{path}");
    }
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "index.css"] {
        let response = client
            .get(app.url(&format!("/api/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let initializer = client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/api/openapi.json"), "{initializer}");
    let missing = client
        .get(app.url("/api/docs/no-such-file.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(body["detail"].is_string());
}

async fn openapi_document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Every (path, method, operation) in the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

fn declares_error(operation: &Value, status: &str) -> bool {
    operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/ErrorBody"
}

#[tokio::test]
async fn security_is_declared_exactly_where_the_key_is_checked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = openapi_document(&app).await;
    assert!(
        doc.get("security").is_none(),
        "no document-wide requirement: /health and the webhook take no key"
    );
    for (path, method, operation) in operations(&doc) {
        if path.starts_with("/api/") {
            assert_eq!(
                operation["security"],
                serde_json::json!([{"api_key": []}]),
                "{method} {path}"
            );
            for status in ["401", "403", "429"] {
                assert!(
                    declares_error(&operation, status),
                    "{method} {path} {status}"
                );
            }
            let response = app
                .client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    app.url(&path.replace("{id}", "1")),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{method} {path} without the key");
        } else if path == "/metrics" {
            // Open unless METRICS_TOKEN is set, then a Bearer token.
            assert_eq!(
                operation["security"],
                serde_json::json!([{}, {"metrics_token": []}]),
                "{method} {path}"
            );
        } else {
            assert!(operation.get("security").is_none(), "{method} {path}");
        }
    }
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "/health takes no key");
}

#[tokio::test]
async fn every_operation_documents_the_errors_it_can_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = openapi_document(&app).await;
    for (path, method, operation) in operations(&doc) {
        let label = format!("{method} {path}");
        assert!(declares_error(&operation, "500"), "{label}");
        let body = &operation["requestBody"]["content"];
        if body.get("application/json").is_some() {
            for status in ["400", "413"] {
                assert!(declares_error(&operation, status), "{label} {status}");
            }
        }
        if path.contains("{id}") {
            for status in ["400", "404"] {
                assert!(declares_error(&operation, status), "{label} {status}");
            }
        }
        if !operation["parameters"]
            .as_array()
            .is_none_or(|p| p.iter().all(|p| p["in"] != "query"))
        {
            assert!(
                declares_error(&operation, "400"),
                "{label}: its query can be malformed"
            );
        }
        // Routes answering in one piece can time out; the streamed listing cannot.
        if (path, method.as_str()) != ("/api/users".to_owned(), "get") {
            assert!(operation["responses"].get("408").is_some(), "{label}");
            assert!(operation["responses"].get("503").is_some(), "{label}");
        }
    }
    let throttled = &doc["paths"]["/api/verify"]["post"]["responses"]["429"];
    assert!(throttled["headers"].get("retry-after").is_some());
    let webhook = &doc["paths"]["/webhooks/sendgrid"]["post"]["responses"];
    for status in ["400", "401", "403", "413", "503"] {
        assert!(webhook.get(status).is_some(), "webhook {status}");
    }
}

#[tokio::test]
async fn the_upload_is_documented_as_a_multipart_form_with_a_csv_file() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = openapi_document(&app).await;
    let upload = &doc["paths"]["/api/upload-csv"]["post"];
    let content = upload["requestBody"]["content"].as_object().unwrap();
    assert_eq!(content.keys().collect::<Vec<_>>(), ["multipart/form-data"]);
    let form = &content["multipart/form-data"];
    let schema = match form["schema"]["$ref"].as_str() {
        Some(reference) => &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()],
        None => &form["schema"],
    };
    assert_eq!(schema["properties"]["file"]["type"], "string");
    assert_eq!(schema["properties"]["file"]["format"], "binary");
    assert_eq!(schema["required"], serde_json::json!(["file"]));
    assert_eq!(form["encoding"]["file"]["contentType"], "text/csv");
    for status in ["400", "413", "415"] {
        assert!(declares_error(upload, status), "upload {status}");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_the_key() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = openapi_document(&app).await;
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
            "/metrics",
            "/ready",
            "/webhooks/sendgrid",
        ]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["name"],
        "x-api-key"
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
