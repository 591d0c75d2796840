//! What operators watch: `/metrics` (and its token), request ids, readiness.

use crate::helpers::{API_KEY, Backend, TestApp};
use crate::on_both_databases;
use serde_json::Value;

const METRICS_TOKEN: &str = "scraper-token-0123456789";

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

on_both_databases! {
    async fn metrics_count_requests_verifications_and_the_queue(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[
            ("METRICS_TOKEN", METRICS_TOKEN),
            ("EMAIL_WORKERS", "false"),
            ("EMAIL_SEND_WAIT_SECONDS", "0"),
        ]).await;
        let (id, token) = app.invite("ana@example.org").await;
        let (other, _) = app.invite("bo@example.org").await;
        assert_eq!(app.verify_json("ana@example.org", "WRONG-TOKEN").await["success"], false);
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);
        assert_eq!(app.get(&format!("/api/users/{id}")).send().await.unwrap().status(), 200);
        assert_eq!(app.get("/api/users/999999").send().await.unwrap().status(), 404);
        assert_eq!(app.client.get(app.url("/no/such/page")).send().await.unwrap().status(), 404);
        let sent = app.post("/api/send-emails").json(&serde_json::json!([other])).send().await.unwrap();
        assert_eq!(sent.status(), 200);

        let text = scrape(&app).await;
        let get_user = r#"doorman_http_requests_total{method="GET",route="/api/users/{id}",status="#;
        assert_eq!(sample(&text, &format!("{get_user}\"200\"}}")), Some(1.0), "{text}");
        assert_eq!(sample(&text, &format!("{get_user}\"404\"}}")), Some(1.0), "{text}");
        assert_eq!(sample(&text, r#"doorman_http_requests_total{method="GET",route="unmatched",status="404"}"#), Some(1.0), "{text}");
        assert!(text.contains(r#"doorman_http_request_duration_seconds_bucket{method="GET",route="/api/users/{id}",status="200",le="+Inf"} 1"#), "{text}");
        assert_eq!(sample(&text, r#"doorman_verifications_total{channel="api",outcome="verified"}"#), Some(1.0), "{text}");
        assert_eq!(sample(&text, r#"doorman_verifications_total{channel="api",outcome="invalid_token"}"#), Some(1.0), "{text}");
        assert_eq!(sample(&text, "doorman_email_queue_depth"), Some(1.0), "{text}");
        assert!(sample(&text, "doorman_email_queue_oldest_age_seconds").is_some_and(|age| age >= 0.0), "{text}");
        assert_eq!(sample(&text, "doorman_discord_pending_verifications"), Some(0.0), "{text}");
        assert_eq!(sample(&text, "doorman_discord_held_kicks"), Some(0.0), "{text}");
        assert!(sample(&text, "doorman_db_pool_connections").is_some_and(|n| n >= 1.0), "{text}");
        assert!(sample(&text, "doorman_db_pool_idle_connections").is_some(), "{text}");
        let build = format!("doorman_build_info{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"));
        assert_eq!(sample(&text, &build), Some(1.0), "{text}");
        // No bot configured: no gateway series.
        assert!(!text.contains("doorman_discord_gateway"), "{text}");
        // Nothing personal or secret in any label.
        for leak in ["ana@example.org", "bo@example.org", &token, &format!("/api/users/{id}"), "WRONG-TOKEN", API_KEY, "/no/such/page"] {
            assert!(!text.contains(leak), "{leak} in the metrics");
        }

        // The oldest queued email ages with the clock; once sent, the queue is empty.
        app.advance(chrono::Duration::minutes(10));
        let text = scrape(&app).await;
        assert!(sample(&text, "doorman_email_queue_oldest_age_seconds").is_some_and(|age| age >= 600.0), "{text}");
        assert_eq!(app.doorman.deliver_due_emails().await.unwrap(), 1);
        let text = scrape(&app).await;
        assert_eq!(sample(&text, "doorman_email_queue_depth"), Some(0.0), "{text}");
        assert_eq!(sample(&text, "doorman_email_queue_oldest_age_seconds"), Some(0.0), "{text}");
        assert_eq!(sample(&text, r#"doorman_emails_total{status="sent"}"#), Some(1.0), "{text}");
    }

    async fn metrics_refuse_a_missing_or_wrong_token(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("METRICS_TOKEN", METRICS_TOKEN)]).await;
        let url = app.url("/metrics");
        let attempts = [
            app.client.get(&url),
            app.client.get(&url).bearer_auth("scraper-token-0123456788"),
            app.client.get(&url).header("x-api-key", API_KEY),
            app.client.get(&url).basic_auth("scraper", Some(METRICS_TOKEN)),
        ];
        for attempt in attempts {
            let response = attempt.send().await.unwrap();
            assert_eq!(response.status(), 401);
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let body: Value = response.json().await.unwrap();
            assert!(body["detail"].as_str().unwrap().contains("metrics token"), "{body}");
        }
        scrape(&app).await;
    }

    async fn metrics_are_open_without_a_token(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(text.contains("# TYPE doorman_email_queue_depth gauge\ndoorman_email_queue_depth 0\n"), "{text}");
    }

    async fn every_response_carries_a_request_id(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let given = app.client.get(app.url("/health")).header("x-request-id", "lb-7f3a.42").send().await.unwrap();
        assert_eq!(given.headers()["x-request-id"], "lb-7f3a.42", "a sensible id is kept");

        let made = app.get("/api/users/1").send().await.unwrap();
        assert_eq!(made.status(), 404, "errors carry one too");
        let first = made.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(first.len(), 32, "{first}");
        let second = app.client.get(app.url("/health")).send().await.unwrap();
        assert_ne!(second.headers()["x-request-id"].to_str().unwrap(), first, "each request its own");

        for unusable in ["has spaces in it".to_owned(), "x".repeat(129)] {
            let response = app.client.get(app.url("/health")).header("x-request-id", &unusable).send().await.unwrap();
            let id = response.headers()["x-request-id"].to_str().unwrap();
            assert_ne!(id, unusable);
            assert_eq!(id.len(), 32, "replaced by a fresh id");
        }
    }

    async fn ready_answers_503_once_the_database_is_gone(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.client.get(app.url("/ready")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"], "connected");
        assert_eq!(body["migrations_applied"], true);

        app.doorman.close().await;
        let response = app.client.get(app.url("/ready")).send().await.unwrap();
        assert_eq!(response.status(), 503);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "not_ready");
        assert_eq!(body["database"], "unreachable");
        // Liveness stays green: the process runs, the body says the database is away.
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let body: Value = health.json().await.unwrap();
        assert_eq!(body["database"], "unreachable");
    }

    async fn ready_answers_503_on_a_database_not_yet_migrated(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.sql("DELETE FROM doorman_migrations WHERE version = (SELECT MAX(version) FROM doorman_migrations)").await;
        let response = app.client.get(app.url("/ready")).send().await.unwrap();
        assert_eq!(response.status(), 503);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["database"], "connected");
        assert_eq!(body["migrations_applied"], false);
    }
}

async fn gateway_scrape(world: &crate::discord::World) -> String {
    let response = world
        .app
        .client
        .get(world.app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

on_both_databases! {
    async fn metrics_follow_the_gateway_and_discord_verifications(backend: Backend) {
        use crate::discord::{World, wait_for};
        let world = World::start(backend, &[]).await;
        let text = gateway_scrape(&world).await;
        assert_eq!(sample(&text, "doorman_discord_gateway_connected"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "doorman_discord_gateway_reconnects_total"), Some(0.0), "{text}");

        // A newcomer's deadline runs until they verify through the modal.
        let (_, token) = world.app.invite("cy@example.org").await;
        world.discord.member_join(501, "cy").await;
        wait_for("the newcomer's deadline", || async {
            let text = gateway_scrape(&world).await;
            (sample(&text, "doorman_discord_pending_verifications") == Some(1.0)).then_some(())
        }).await;
        world.verify(501, "cy@example.org", &token).await;
        let text = gateway_scrape(&world).await;
        assert_eq!(sample(&text, r#"doorman_verifications_total{channel="discord",outcome="verified"}"#), Some(1.0), "{text}");
        assert_eq!(sample(&text, "doorman_discord_pending_verifications"), Some(0.0), "{text}");
        assert!(!text.contains("cy@example.org"), "{text}");

        // A dropped connection is a reconnect once the bot is back.
        world.discord.drop_gateway().await;
        wait_for("the bot to come back", || async {
            let text = gateway_scrape(&world).await;
            (sample(&text, "doorman_discord_gateway_reconnects_total") == Some(1.0)
                && sample(&text, "doorman_discord_gateway_connected") == Some(1.0))
            .then_some(())
        }).await;
    }
}
