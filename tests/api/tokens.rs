use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::Value;

on_both_databases! {
    async fn refreshing_issues_a_token_from_the_unambiguous_alphabet(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, _) = app.invite("ana@example.org").await;
        let response = app.post(&format!("/api/refresh-token/{id}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["message"], "Token refreshed successfully");
        let token = body["new_token"].as_str().unwrap();
        assert_eq!(token.len(), 8, "TOKEN_LENGTH defaults to 8");
        assert!(token.chars().all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c)), "{token}");

        let user: Value = app.get(&format!("/api/users/{id}")).send().await.unwrap().json().await.unwrap();
        let created = chrono::DateTime::parse_from_rfc3339(user["token_created_at"].as_str().unwrap()).unwrap();
        let expires = chrono::DateTime::parse_from_rfc3339(user["token_expires_at"].as_str().unwrap()).unwrap();
        assert_eq!((expires - created).num_days(), 7, "TOKEN_EXPIRY_DAYS defaults to 7");
        assert_eq!(body["token_expires_at"], user["token_expires_at"]);
    }

    async fn token_length_and_expiry_are_configurable(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("TOKEN_LENGTH", "12"), ("TOKEN_EXPIRY_DAYS", "2")]).await;
        let (id, token) = app.invite("ana@example.org").await;
        assert_eq!(token.len(), 12);
        let user: Value = app.get(&format!("/api/users/{id}")).send().await.unwrap().json().await.unwrap();
        let created = chrono::DateTime::parse_from_rfc3339(user["token_created_at"].as_str().unwrap()).unwrap();
        let expires = chrono::DateTime::parse_from_rfc3339(user["token_expires_at"].as_str().unwrap()).unwrap();
        assert_eq!((expires - created).num_days(), 2);
    }

    async fn a_refreshed_token_replaces_the_old_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, old) = app.invite("ana@example.org").await;
        let new = app.refresh_token(id).await;
        assert_ne!(old, new);
        assert_eq!(app.verify_json("ana@example.org", &old).await["message"], "Invalid verification token");
        assert_eq!(app.verify_json("ana@example.org", &new).await["message"], "User verified successfully");
    }

    async fn refreshing_a_missing_user_is_404(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.post("/api/refresh-token/41").send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(response.json::<Value>().await.unwrap()["detail"], "User not found");
    }

    async fn tokens_are_never_stored_or_listed_in_plain_text(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.invite("ana@example.org").await;
        let stored = app.stored_text().await;
        assert!(!stored.to_uppercase().contains(&token), "the database holds the token: {stored}");
        let listing = app.get("/api/users").send().await.unwrap().text().await.unwrap();
        assert!(!listing.contains(&token));
        let events = app.client.get(app.url("/api/events?limit=1000")).header("x-api-key", crate::helpers::API_KEY)
            .send().await.unwrap().text().await.unwrap();
        assert!(!events.contains(&token), "the event log holds the token");
    }

    async fn a_token_hash_from_another_secret_does_not_verify(backend: Backend) {
        // The same database under another TOKEN_SECRET: stored hashes are useless.
        let app = TestApp::spawn_with(backend, &[("TOKEN_SECRET", "the-first-token-secret-of-at-least-32-chars")]).await;
        let (_, token) = app.invite("ana@example.org").await;
        let mut env = vec![
            ("DATABASE_URL", app.database_url.as_str()),
            ("TOKEN_SECRET", "another-token-secret-of-at-least-32-chars"),
        ];
        let data_dir = app.data_dir.path().display().to_string();
        env.push(("DATA_DIR", &data_dir));
        let other = crate::helpers::TestApp::spawn_on(backend, &env).await;
        assert_eq!(other.verify_json("ana@example.org", &token).await["message"], "Invalid verification token");
    }
}
