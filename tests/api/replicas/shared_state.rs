//! What replicas share through the database: the admin UI's sessions, the wrong-key
//! throttle, and the verification throttle. Two apps on one database, each its own
//! process state, as two replicas behind a load balancer would be.

use reqwest::header::COOKIE;
use serde_json::json;

use super::SHARED_SECRET;
use crate::helpers::{API_KEY, Backend, TestApp};
use crate::on_both_databases;
use crate::ui::http::{client, csrf_token, get_with, signed_in, still_signed_in};

/// The first app and a second one on its database, both with `vars`.
pub async fn two_replicas(backend: Backend, vars: &[(&str, &str)]) -> (TestApp, TestApp) {
    let mut all = vec![("TOKEN_SECRET", SHARED_SECRET)];
    all.extend_from_slice(vars);
    let first = TestApp::spawn_with(backend, &all).await;
    let url = first.database_url.clone();
    all.push(("DATABASE_URL", url.as_str()));
    let second = TestApp::spawn_on(backend, &all).await;
    (first, second)
}

async fn wrong_key(app: &TestApp, key: &str) -> u16 {
    app.client
        .get(app.url("/api/users"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

on_both_databases! {
    async fn a_session_opened_on_one_replica_works_and_ends_on_the_other(backend: Backend) {
        let (first, second) = two_replicas(backend, &[]).await;
        let cookie = signed_in(&first).await;
        assert!(still_signed_in(&second, &cookie).await);
        let token = csrf_token(&second, &cookie).await;

        // Signed out through the second replica, the session is gone on the first too.
        let origin = second.address.clone();
        let out = client()
            .post(second.url("/admin/sign-out"))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .header("origin", origin)
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        assert_eq!(get_with(&first, "/admin", &cookie).await.status(), 303, "sent to sign in");
    }

    async fn wrong_keys_through_any_replica_count_against_one_limit(backend: Backend) {
        let (first, second) = two_replicas(backend, &[("API_KEY_MAX_FAILURES", "3")]).await;
        assert_eq!(wrong_key(&first, "guess-1").await, 403);
        assert_eq!(wrong_key(&second, "guess-2").await, 403);
        assert_eq!(wrong_key(&first, "guess-3").await, 403);
        // The fourth, wherever it lands, is over the limit.
        assert_eq!(wrong_key(&second, "guess-4").await, 429);
        assert_eq!(wrong_key(&first, "guess-5").await, 429);
        // Both have now refused the address: the right key waits too.
        assert_eq!(wrong_key(&first, API_KEY).await, 429);
        assert_eq!(wrong_key(&second, API_KEY).await, 429);
    }

    async fn failed_verifications_through_any_replica_count_against_one_limit(backend: Backend) {
        let (first, second) = two_replicas(backend, &[("VERIFY_MAX_FAILURES", "3")]).await;
        let (_, token) = first.invite("ana@example.org").await;
        for (app, wrong) in [(&first, "WRNGAAA2"), (&second, "WRNGAAA3"), (&first, "WRNGAAA4")] {
            let answer = app.verify_json("ana@example.org", wrong).await;
            assert_eq!(answer["success"], false, "{answer}");
        }
        // Over the limit on the other replica, even with the right token.
        let refused = second
            .post("/api/verify")
            .json(&json!({ "email": "ana@example.org", "token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 429);
        assert!(refused.headers().contains_key("retry-after"));
    }
}
