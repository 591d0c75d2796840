use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::Value;

/// Every route behind the key, with a body that would otherwise be accepted.
const PROTECTED: &[(&str, &str)] = &[
    ("GET", "/api/users"),
    ("GET", "/api/users/1"),
    ("DELETE", "/api/users/1"),
    ("DELETE", "/api/1"),
    ("DELETE", "/api/all"),
    ("POST", "/api/refresh-token/1"),
    ("POST", "/api/upload-csv"),
    ("POST", "/api/verify"),
    ("POST", "/api/verify-discord"),
    ("GET", "/api/events"),
];

async fn status_and_detail(
    app: &TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
) -> (u16, String) {
    let mut request = app.client.request(method.parse().unwrap(), app.url(path));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    (
        status,
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

on_both_databases! {
    async fn requests_without_a_key_get_401(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (method, path) in PROTECTED {
            let (status, detail) = status_and_detail(&app, method, path, None).await;
            assert_eq!(status, 401, "{method} {path}");
            assert!(detail.contains("x-api-key"), "{detail}");
        }
    }

    async fn requests_with_a_wrong_key_get_403(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let almost = format!("{}x", crate::helpers::API_KEY);
        for key in ["wrong", "", almost.as_str()] {
            for (method, path) in PROTECTED {
                let (status, _) = status_and_detail(&app, method, path, Some(key)).await;
                assert_eq!(status, 403, "{method} {path} with key {key:?}");
            }
        }
        // Nothing was deleted behind the refusals.
        let events = app.events("").await;
        assert!(events.is_empty(), "refused requests changed nothing: {events:?}");
    }

    async fn unknown_routes_and_methods_get_json_errors(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.get("/api/nothing/here").send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert!(response.json::<Value>().await.unwrap()["detail"].is_string());

        let response = app.client.put(app.url("/api/verify")).header("x-api-key", crate::helpers::API_KEY).send().await.unwrap();
        assert_eq!(response.status(), 405);
        assert!(response.json::<Value>().await.unwrap()["detail"].is_string());
    }
}
