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
        let app = TestApp::spawn_with(backend, &[("API_KEY_MAX_FAILURES", "1000")]).await;
        let almost = format!("{}x", crate::helpers::API_KEY);
        for key in ["wrong", "", almost.as_str()] {
            for (method, path) in PROTECTED {
                let (status, _) = status_and_detail(&app, method, path, Some(key)).await;
                assert_eq!(status, 403, "{method} {path} with key {key:?}");
            }
        }
        // Nothing was deleted behind the refusals; they are only counted.
        let events = app.events("").await;
        assert!(events.iter().all(|e| e["kind"] == "api_key_rejected"), "refused requests changed nothing: {events:?}");
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

/// A request with `key` as relayed by a proxy for `forwarded_for`.
async fn users_from(app: &TestApp, forwarded_for: &str, key: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/users"))
        .header("x-forwarded-for", forwarded_for)
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
}

on_both_databases! {
    async fn wrong_keys_are_throttled_per_address_and_logged_once_per_window(backend: Backend) {
        let vars = [("TRUSTED_PROXIES", "127.0.0.1, ::1"), ("API_KEY_MAX_FAILURES", "3")];
        let app = TestApp::spawn_with(backend, &vars).await;
        let guess = "guessed-key-0123456789abcdef";
        for _ in 0..3 {
            assert_eq!(users_from(&app, "203.0.113.7", guess).await.status(), 403);
        }
        let refused = users_from(&app, "203.0.113.7", guess).await;
        assert_eq!(refused.status(), 429);
        let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry_after), "within the 15-minute window: {retry_after}");
        assert!(refused.json::<Value>().await.unwrap()["detail"].is_string());
        let right_key = users_from(&app, "203.0.113.7", crate::helpers::API_KEY).await;
        assert_eq!(right_key.status(), 429, "guessing gains nothing past the limit");

        // The organiser, elsewhere, is not locked out.
        let organiser = users_from(&app, "198.51.100.2", crate::helpers::API_KEY).await;
        assert_eq!(organiser.status(), 200);

        let logged = app.events("kind=api_key_rejected").await;
        assert_eq!(logged.len(), 1, "one event per address and window: {logged:?}");
        assert_eq!(logged[0]["detail"]["address"], "203.0.113.7");
        assert_eq!(logged[0]["detail"]["count"], 4);
        assert!(!logged[0].to_string().contains(guess), "the wrong key is never logged");
    }

    async fn wrong_keys_from_an_untrusted_peer_count_against_the_peer(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("API_KEY_MAX_FAILURES", "2")]).await;
        for i in 0..2 {
            let response = users_from(&app, &format!("203.0.113.{i}"), "wrong").await;
            assert_eq!(response.status(), 403);
        }
        let response = users_from(&app, "198.51.100.2", "wrong").await;
        assert_eq!(response.status(), 429, "X-Forwarded-For is not believed without TRUSTED_PROXIES");
    }
}
