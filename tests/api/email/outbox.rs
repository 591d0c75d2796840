//! The zero-setup route: emails are rendered and kept, nothing leaves the machine.

use serde_json::json;

use super::*;
use crate::on_both_databases;

on_both_databases! {
    async fn without_configuration_invitations_land_in_the_outbox_with_a_working_token(backend: Backend) {
        let app = spawn(backend, &[], &[("COMMUNITY_NAME", "Rustaceans"), ("DISCORD_INVITE_URL", "https://discord.gg/rust")]).await;
        let people = import(&app, &[("ana@example.org", "Ana Lima"), ("bo@example.org", "Bo")]).await;

        let report = send(&app, ids(&people)).await;
        assert_eq!(report["success"], true, "{report}");
        assert_eq!(report["emails_sent"], 2, "{report}");
        assert_eq!(report["emails_failed"], 0);
        assert_eq!(report["emails_queued"], 0);

        let outbox = emails(&app, "").await;
        assert_eq!(outbox.len(), 2);
        let ana = outbox.iter().find(|e| e["recipient"] == "ana@example.org").unwrap();
        assert_eq!(ana["status"], "sent");
        assert_eq!(ana["route"], "outbox");
        assert_eq!(ana["subject"], "Rustaceans Discord invitation");
        let text = ana["text_body"].as_str().unwrap();
        let html = ana["html_body"].as_str().unwrap();
        assert!(text.contains("Hello Ana Lima") && html.contains("Hello Ana Lima"), "{text}");
        assert!(text.contains("https://discord.gg/rust") && html.contains("https://discord.gg/rust"));
        assert!(text.contains("valid for 7 days"), "{text}");
        let token = token_in(text);
        assert!(html.contains(&token), "the HTML shows the same token");
        assert_eq!(app.verify_json("ana@example.org", &token).await["message"], "User verified successfully");

        let listed = user(&app, people[1]).await;
        assert_eq!(listed["email_status"], "sent");
        assert_eq!(listed["email_error"], serde_json::Value::Null);
        let kinds: Vec<_> = app.events("kind=email_sent").await;
        assert_eq!(kinds.len(), 2);
    }

    async fn names_are_inserted_as_text_not_markup(backend: Backend) {
        let app = spawn(backend, &[], &[]).await;
        let people = import(&app, &[("eve@example.org", "<script>alert(1)</script>")]).await;
        send(&app, ids(&people)).await;
        let email = &emails(&app, "").await[0];
        let html = email["html_body"].as_str().unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(email["text_body"].as_str().unwrap().contains("Hello <script>alert(1)</script>,"));
    }

    async fn verified_unknown_and_repeated_invitees_are_skipped_and_counted(backend: Backend) {
        let app = spawn(backend, &[], &[]).await;
        let people = import(&app, &[("ana@example.org", "Ana"), ("bo@example.org", "Bo")]).await;
        let token = app.refresh_token(people[0]).await;
        app.verify_json("ana@example.org", &token).await;

        let report = send(&app, json!({ "user_ids": [people[0], people[1], people[1], 999] })).await;
        assert_eq!(report["emails_sent"], 1, "{report}");
        assert_eq!(report["emails_skipped"], 3);
        let reasons: Vec<_> = report["skipped"].as_array().unwrap().iter().map(|s| s["reason"].as_str().unwrap().to_owned()).collect();
        assert!(reasons.contains(&"already_verified".to_owned()) && reasons.contains(&"duplicate".to_owned()) && reasons.contains(&"not_found".to_owned()), "{reasons:?}");
        assert_eq!(emails(&app, "").await.len(), 1, "one email for Bo, however often he is listed");
    }

    async fn a_resend_within_the_cooldown_is_skipped_unless_forced(backend: Backend) {
        let app = spawn(backend, &[], &[]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        send(&app, json!({ "all_unverified": true })).await;
        let first_token = token_in(emails(&app, "").await[0]["text_body"].as_str().unwrap());

        let again = send(&app, ids(&people)).await;
        assert_eq!(again["emails_sent"], 0, "{again}");
        assert_eq!(again["skipped"][0]["reason"], "cooldown");
        assert_eq!(app.verify_json("ana@example.org", &first_token).await["success"], true, "a skipped resend leaves the token alone");
    }

    async fn a_forced_resend_replaces_the_token(backend: Backend) {
        let app = spawn(backend, &[], &[]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        send(&app, ids(&people)).await;
        let first = token_in(emails(&app, "").await[0]["text_body"].as_str().unwrap());
        let forced = send(&app, json!({ "user_ids": people, "force": true })).await;
        assert_eq!(forced["emails_sent"], 1, "{forced}");
        let second = token_in(emails(&app, "").await[0]["text_body"].as_str().unwrap());
        assert_ne!(first, second);
        assert_eq!(app.verify_json("ana@example.org", &first).await["success"], false, "the newer email's token replaced it");
        assert_eq!(app.verify_json("ana@example.org", &second).await["success"], true);
    }

    async fn a_test_email_is_kept_in_the_outbox_and_reported(backend: Backend) {
        let app = spawn(backend, &[], &[]).await;
        let response = app.post("/api/emails/test").json(&json!({ "to": "me@example.org" })).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let report: serde_json::Value = response.json().await.unwrap();
        assert_eq!(report["success"], true);
        assert_eq!(report["route"], "outbox");
        let stored = emails(&app, "").await;
        assert_eq!(stored[0]["kind"], "test");
        assert!(stored[0]["html_body"].as_str().unwrap().contains("Test Recipient"));

        let bad = app.post("/api/emails/test").json(&json!({ "to": "not an address" })).send().await.unwrap();
        assert_eq!(bad.status(), 400);
    }

    async fn an_operator_s_templates_replace_the_built_in_ones(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("invitation.txt"), "Dear {{name}}, your token for {{community}}:\n{{token}}\n").unwrap();
        let path = dir.path().display().to_string();
        let app = spawn(backend, &[], &[("EMAIL_TEMPLATE_DIR", &path), ("COMMUNITY_NAME", "Gophers & Co")]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        send(&app, ids(&people)).await;
        let email = &emails(&app, "").await[0];
        let text = email["text_body"].as_str().unwrap();
        assert!(text.starts_with("Dear Ana, your token for Gophers & Co:"), "{text}");
        assert!(email["html_body"].as_str().unwrap().contains("Gophers &amp; Co"));
        assert_eq!(email["subject"], "Gophers & Co Discord invitation");
    }
}
