//! The session cookie's properties, checked on the wire.

use reqwest::header::{LOCATION, SET_COOKIE};

use super::http;
use crate::helpers::{API_KEY, Backend, TestApp};
use crate::on_both_databases;

fn set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(SET_COOKIE)
        .expect("a cookie")
        .to_str()
        .unwrap()
        .to_owned()
}

on_both_databases! {
    async fn the_cookie_is_http_only_strict_and_scoped_to_the_ui(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = http::sign_in_with(&app, API_KEY, None).await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()[LOCATION], "/admin");
        let cookie = set_cookie(&response);
        for part in ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=43200"] {
            assert!(cookie.contains(part), "{part} in {cookie}");
        }
        assert!(!cookie.contains("Secure"), "plain HTTP without PUBLIC_URL: {cookie}");
        assert!(!cookie.contains(API_KEY));
        // The token in the cookie is not what the database keeps.
        let token = http::set_session(&response).unwrap();
        let ids = http::stored_session_ids(&app).await;
        assert_eq!(ids.len(), 1);
        assert_ne!(ids[0], token);
    }

    async fn the_cookie_is_secure_over_https(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("PUBLIC_URL", "https://doorman.example.org"), ("SESSION_HOURS", "2")]).await;
        let cookie = set_cookie(&http::sign_in_with(&app, API_KEY, None).await);
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(cookie.contains("Max-Age=7200"), "{cookie}");

        let proxied = TestApp::spawn_with(backend, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
        let response = http::sign_in_saying(&proxied, "x-forwarded-proto", "https").await;
        assert!(set_cookie(&response).contains("; Secure"));

        // From anyone else, the header proves nothing.
        let direct = TestApp::spawn(backend).await;
        let response = http::sign_in_saying(&direct, "x-forwarded-proto", "https").await;
        assert!(!set_cookie(&response).contains("Secure"));
    }

    async fn each_sign_in_gets_a_fresh_session_and_drops_the_old(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let first = http::signed_in(&app).await;
        let response = http::sign_in_with(&app, API_KEY, Some(&first)).await;
        let second = http::set_session(&response).unwrap();
        assert_ne!(first, second);
        assert!(!http::still_signed_in(&app, &first).await, "the session brought along is gone");
        assert!(http::still_signed_in(&app, &second).await);
        // A made-up session id is never adopted either.
        let response = http::sign_in_with(&app, API_KEY, Some("chosen-by-the-attacker")).await;
        assert_ne!(http::set_session(&response).unwrap(), "chosen-by-the-attacker");
    }

    async fn sessions_expire_and_survive_a_restart(backend: Backend) {
        let mut app = TestApp::spawn_with(backend, &[("SESSION_HOURS", "1")]).await;
        let cookie = http::signed_in(&app).await;
        app.restart(&[("SESSION_HOURS", "1")]).await;
        assert!(http::still_signed_in(&app, &cookie).await, "the session is in the database");
        app.advance(chrono::Duration::minutes(61));
        assert!(!http::still_signed_in(&app, &cookie).await, "expired after SESSION_HOURS");
    }

    async fn wrong_sign_ins_share_the_api_keys_throttle(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("API_KEY_MAX_FAILURES", "2")]).await;
        for _ in 0..2 {
            let response = http::sign_in_with(&app, "wrong-key-0123456789abcdef", None).await;
            assert_eq!(response.status(), 401);
        }
        assert_eq!(app.events("kind=ui_sign_in_refused").await.len(), 2, "one event per wrong key");
        let response = http::sign_in_with(&app, "wrong-key-0123456789abcdef", None).await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        assert!(response.text().await.unwrap().contains("Too many wrong keys"));
        // The same address is refused everywhere for the rest of the window, right key or not.
        let response = http::sign_in_with(&app, API_KEY, None).await;
        assert_eq!(response.status(), 429);
        assert_eq!(app.get("/api/users").send().await.unwrap().status(), 429);
        // The next window starts afresh; the throttled attempts added no events.
        app.advance(chrono::Duration::minutes(16));
        assert_eq!(app.events("kind=ui_sign_in_refused").await.len(), 2);
        assert!(http::still_signed_in(&app, &http::signed_in(&app).await).await);
    }
}
