use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::{Value, json};

on_both_databases! {
    async fn a_correct_token_verifies_the_invitee_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, token) = app.invite("ana@example.org").await;
        let body = app.verify_json("ana@example.org", &token).await;
        assert_eq!(body, json!({ "success": true, "message": "User verified successfully" }));
        let user: Value = app.get(&format!("/api/users/{id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(user["is_verified"], true);
        assert!(user["verified_at"].is_string());

        let again = app.verify_json("ana@example.org", &token).await;
        assert_eq!(again, json!({ "success": false, "message": "User is already verified" }));
    }

    async fn each_failure_has_the_original_message(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.invite("ana@example.org").await;
        let unknown = app.verify_json("nobody@example.org", &token).await;
        assert_eq!(unknown, json!({ "success": false, "message": "User not found with this email" }));
        let wrong = app.verify_json("ana@example.org", "ZZZZ2222").await;
        assert_eq!(wrong, json!({ "success": false, "message": "Invalid verification token" }));
    }

    async fn an_expired_token_is_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, token) = app.invite("ana@example.org").await;
        // Tokens last TOKEN_EXPIRY_DAYS, 7 by default.
        app.advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
        let body = app.verify_json("ana@example.org", &token).await;
        assert_eq!(body, json!({ "success": false, "message": "Verification token has expired" }));
        // A fresh token works again.
        let token = app.refresh_token(id).await;
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);
    }

    async fn an_invitee_without_a_token_cannot_verify(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.upload_csv("email,name,college,branch,year\nana@example.org,Ana,MIT,CSE,2026\n").await;
        assert_eq!(app.verify_json("ana@example.org", "").await["message"], "Invalid verification token");
        assert_eq!(app.verify_json("ana@example.org", "ABCD2345").await["message"], "Invalid verification token");
    }

    async fn typed_tokens_and_emails_are_forgiven_case_spaces_and_dashes(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.invite("ana@example.org").await;
        let typed = format!("  {}-{} ", token[..4].to_lowercase(), token[4..].to_lowercase());
        let body = app.verify_json("  ANA@Example.ORG ", &typed).await;
        assert_eq!(body["message"], "User verified successfully");
    }

    async fn twenty_simultaneous_verifications_give_exactly_one_success(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.invite("ana@example.org").await;
        let attempts = (0..20).map(|_| app.verify_json("ana@example.org", &token));
        let bodies = futures::future::join_all(attempts).await;
        let successes = bodies.iter().filter(|b| b["success"] == true).count();
        assert_eq!(successes, 1, "{bodies:?}");
        assert!(bodies.iter().filter(|b| b["success"] == false).all(|b| b["message"] == "User is already verified"));
        let verified = app.events("kind=verification_succeeded").await;
        assert_eq!(verified.len(), 1);
    }

    async fn five_failures_in_the_window_throttle_the_email(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.invite("ana@example.org").await;
        for _ in 0..5 {
            assert_eq!(app.verify_json("ana@example.org", "WRONG222").await["success"], false);
        }
        let throttled = app.verify(" Ana@example.org", &token).await;
        assert_eq!(throttled.status(), 429, "even the right token waits");
        let retry_after: u64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((840..=900).contains(&retry_after), "about 15 minutes: {retry_after}");
        assert!(throttled.json::<Value>().await.unwrap()["detail"].as_str().unwrap().contains("Too many"));

        // Other emails are not affected.
        let (_, bo_token) = app.invite("bo@example.org").await;
        assert_eq!(app.verify_json("bo@example.org", &bo_token).await["success"], true);

        // Once the failures are older than the window, the email may try again.
        app.advance(chrono::Duration::minutes(16));
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);
        assert_eq!(app.events("kind=verification_throttled").await.len(), 1, "logged once, not per attempt");
    }

    async fn guessing_unknown_emails_is_throttled_too(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("VERIFY_MAX_FAILURES", "2"), ("VERIFY_WINDOW_MINUTES", "1")]).await;
        for _ in 0..2 {
            app.verify_json("ghost@example.org", "AAAA2222").await;
        }
        let response = app.verify("ghost@example.org", "AAAA2222").await;
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
    }

    async fn missing_or_malformed_fields_are_400(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cases = [
            ("/api/verify", json!({ "email": "a@example.org" })),
            ("/api/verify", json!({ "token": "X" })),
            ("/api/verify", json!({ "email": 5, "token": "X" })),
            ("/api/verify-discord", json!({ "email": "a@example.org", "token": "X" })),
            ("/api/verify-discord", json!({ "email": "a@example.org", "token": "X", "discord_user_id": "me" })),
        ];
        for (path, body) in cases {
            let response = app.post(path).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 400, "{path} {body}");
            assert!(response.json::<Value>().await.unwrap()["detail"].is_string());
        }
        let response = app.post("/api/verify").header("content-type", "application/json").body("{not json").send().await.unwrap();
        assert_eq!(response.status(), 400);
        let response = app.post("/api/verify").body("email=a").send().await.unwrap();
        assert_eq!(response.status(), 400, "not JSON at all");
    }

    async fn discord_verification_links_the_account(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, token) = app.invite("ana@example.org").await;
        let body: Value = app.post("/api/verify-discord")
            .json(&json!({ "email": "ana@example.org", "token": token, "discord_user_id": "80351110224678912" }))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(body, json!({ "success": true, "message": "User verified successfully", "discord_user_id": "80351110224678912" }));
        let user: Value = app.get(&format!("/api/users/{id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(user["discord_user_id"], "80351110224678912");
        let events = app.events("kind=verification_succeeded").await;
        assert_eq!(events[0]["channel"], "discord");
    }

    async fn a_discord_account_links_to_at_most_one_invitee(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, ana) = app.invite("ana@example.org").await;
        let (bo_id, bo) = app.invite("bo@example.org").await;
        let link = |email: &str, token: &str, id: u64| {
            app.post("/api/verify-discord").json(&json!({ "email": email, "token": token, "discord_user_id": id })).send()
        };
        let first: Value = link("ana@example.org", &ana, 111_222_333).await.unwrap().json().await.unwrap();
        assert_eq!(first["success"], true, "numbers are accepted as ids too");
        let second: Value = link("bo@example.org", &bo, 111_222_333).await.unwrap().json().await.unwrap();
        assert_eq!(second["success"], false);
        assert_eq!(second["message"], "This Discord account is already linked to another invitation");
        let user: Value = app.get(&format!("/api/users/{bo_id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(user["is_verified"], false);
        let conflicts = app.events("kind=discord_account_conflict").await;
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0]["detail"]["discord_user_id"], "111222333");
    }
}

on_both_databases! {
    async fn many_invitees_verifying_at_once_all_succeed(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut invited = Vec::new();
        for i in 0..30 {
            let email = format!("person{i}@example.org");
            let (_, token) = app.invite(&email).await;
            invited.push((email, token));
        }
        let attempts = invited.iter().map(|(email, token)| app.verify_json(email, token));
        let bodies = futures::future::join_all(attempts).await;
        assert!(bodies.iter().all(|b| b["success"] == true), "{bodies:?}");
        assert_eq!(app.events("kind=verification_succeeded&limit=100").await.len(), 30);
        let users: Vec<Value> = serde_json::from_value(app.get_json("/api/users?verified=true").await).unwrap();
        assert_eq!(users.len(), 30);
    }

    async fn one_discord_account_racing_for_several_invitations_links_to_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut invited = Vec::new();
        for i in 0..8 {
            let email = format!("person{i}@example.org");
            let (_, token) = app.invite(&email).await;
            invited.push((email, token));
        }
        let app = &app;
        let attempts = invited.iter().map(|(email, token)| async move {
            let response = app
                .post("/api/verify-discord")
                .json(&json!({ "email": email, "token": token, "discord_user_id": "424242424242" }))
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()
        });
        let bodies = futures::future::join_all(attempts).await;
        let successes = bodies.iter().filter(|b| b["success"] == true).count();
        assert_eq!(successes, 1, "{bodies:?}");
        assert!(bodies
            .iter()
            .filter(|b| b["success"] == false)
            .all(|b| b["message"] == "This Discord account is already linked to another invitation"));
    }
}

/// An attempt on `/api/verify` as relayed by a proxy for `forwarded_for`.
async fn verify_from(
    app: &TestApp,
    forwarded_for: &str,
    email: &str,
    token: &str,
) -> reqwest::Response {
    app.post("/api/verify")
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "email": email, "token": token }))
        .send()
        .await
        .unwrap()
}

async fn message(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["message"].as_str().unwrap().to_owned()
}

const BEHIND_A_PROXY: &[(&str, &str)] = &[("TRUSTED_PROXIES", "127.0.0.1, ::1")];

on_both_databases! {
    async fn twenty_simultaneous_wrong_attempts_pass_no_more_than_the_limit(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.invite("ana@example.org").await;
        let attempts = (0..20).map(|_| app.verify("ana@example.org", "WRONG222"));
        let responses = futures::future::join_all(attempts).await;
        let answered = responses.iter().filter(|r| r.status() == 200).count();
        let refused = responses.iter().filter(|r| r.status() == 429).count();
        assert_eq!(answered + refused, 20);
        assert!(answered <= 5, "{answered} wrong attempts were checked, the limit is 5");
        assert_eq!(app.events("kind=verification_failed&limit=100").await.len(), answered);
        assert_eq!(app.verify(  "ana@example.org", &token).await.status(), 429, "the right token waits too");
    }

    async fn an_attacking_client_cannot_lock_the_invitee_out(backend: Backend) {
        let app = TestApp::spawn_with(backend, BEHIND_A_PROXY).await;
        let (_, token) = app.invite("ana@example.org").await;
        for _ in 0..5 {
            let response = verify_from(&app, "203.0.113.7", "ana@example.org", "WRONG222").await;
            assert_eq!(message(response).await, "Invalid verification token");
        }
        let attacker = verify_from(&app, "203.0.113.7", "ana@example.org", "WRONG333").await;
        assert_eq!(attacker.status(), 429);
        // Claiming the invitee's address to the left of its own does not help the attacker:
        // the right-most address our proxy did not add is the one that counts.
        let spoofed = verify_from(&app, "198.51.100.2, 203.0.113.7", "ana@example.org", "WRONG444").await;
        assert_eq!(spoofed.status(), 429);

        let ana = verify_from(&app, "198.51.100.2", "ana@example.org", &token).await;
        assert_eq!(message(ana).await, "User verified successfully");
    }

    async fn forwarded_for_from_an_untrusted_peer_is_ignored(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, token) = app.invite("ana@example.org").await;
        for i in 0..5 {
            let response = verify_from(&app, &format!("203.0.113.{i}"), "ana@example.org", "WRONG222").await;
            assert_eq!(message(response).await, "Invalid verification token");
        }
        let response = verify_from(&app, "198.51.100.2", "ana@example.org", &token).await;
        assert_eq!(response.status(), 429, "every attempt came from the same peer");
    }

    async fn one_client_cannot_probe_many_emails(backend: Backend) {
        let vars = [BEHIND_A_PROXY[0], ("VERIFY_MAX_FAILURES_PER_SOURCE", "3")];
        let app = TestApp::spawn_with(backend, &vars).await;
        let (_, token) = app.invite("ana@example.org").await;
        for i in 0..3 {
            let response = verify_from(&app, "203.0.113.7", &format!("guess{i}@example.org"), "WRONG222").await;
            assert_eq!(message(response).await, "User not found with this email");
        }
        let response = verify_from(&app, "203.0.113.7", "guess9@example.org", "WRONG222").await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        let ana = verify_from(&app, "198.51.100.2", "ana@example.org", &token).await;
        assert_eq!(message(ana).await, "User verified successfully", "other clients are not affected");
    }

    async fn many_clients_together_are_stopped_at_the_per_email_ceiling(backend: Backend) {
        let vars = [BEHIND_A_PROXY[0], ("VERIFY_MAX_FAILURES", "2"), ("VERIFY_MAX_FAILURES_PER_EMAIL", "4")];
        let app = TestApp::spawn_with(backend, &vars).await;
        let (_, token) = app.invite("ana@example.org").await;
        for client in ["203.0.113.1", "203.0.113.2"] {
            for _ in 0..2 {
                let response = verify_from(&app, client, "ana@example.org", "WRONG222").await;
                assert_eq!(message(response).await, "Invalid verification token");
            }
        }
        let third = verify_from(&app, "203.0.113.3", "ana@example.org", &token).await;
        assert_eq!(third.status(), 429, "distributed guessing stops at the per-email ceiling");
        // Other emails are not affected.
        let (_, bo_token) = app.invite("bo@example.org").await;
        let bo = verify_from(&app, "203.0.113.3", "bo@example.org", &bo_token).await;
        assert_eq!(message(bo).await, "User verified successfully");
    }

    async fn an_attacking_discord_account_cannot_lock_the_invitee_out(backend: Backend) {
        const MALLORY: u64 = 500_000_000_000_000_066;
        const ANA: u64 = 500_000_000_000_000_001;
        let world = crate::discord::World::start(backend, &[("VERIFY_MAX_FAILURES", "2"), ("MAX_VERIFY_ATTEMPTS", "5")]).await;
        let (_, token) = world.app.invite("ana@example.org").await;
        world.discord.member_join(MALLORY, "mallory").await;
        for _ in 0..2 {
            let reply = crate::discord::reply_text(&world.verify(MALLORY, "ana@example.org", "WRONG222").await).0;
            assert!(reply.contains("don't match"), "{reply}");
        }
        let refused = crate::discord::reply_text(&world.verify(MALLORY, "ana@example.org", "WRONG333").await).0;
        assert!(refused.contains("Too many"), "{refused}");

        world.discord.member_join(ANA, "ana").await;
        let reply = crate::discord::reply_text(&world.verify(ANA, "ana@example.org", &token).await).0;
        assert!(reply.contains("verified"), "{reply}");
        world.wait_for_role(ANA, world.member_role).await;
    }
}
