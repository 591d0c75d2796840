//! The SMTP route, through a real SMTP exchange with a local server.

use serde_json::json;

use super::*;
use crate::fakes::fake_smtp::FakeSmtp;
use crate::on_both_databases;

on_both_databases! {
    async fn invitations_are_delivered_over_smtp(backend: Backend) {
        let smtp = FakeSmtp::start().await;
        let url = smtp.url();
        let app = spawn(backend, &[], &[("SMTP_URL", &url), ("EMAIL_FROM", "Rust Club <club@example.org>"), ("COMMUNITY_NAME", "Rust Club")]).await;
        let people = import(&app, &[("ana@example.org", "Ana Lima"), ("bo@example.org", "Bo")]).await;
        let report = send(&app, ids(&people)).await;
        assert_eq!(report["emails_sent"], 2, "{report}");

        let messages = smtp.messages();
        assert_eq!(messages.len(), 2);
        let ana = messages.iter().find(|m| m.to == ["ana@example.org"]).unwrap();
        assert_eq!(ana.from, "club@example.org");
        let text = ana.decoded();
        assert!(text.contains("Subject: Rust Club Discord invitation"), "{text}");
        assert!(text.contains("multipart/alternative") && text.contains("text/html") && text.contains("text/plain"));
        let token = token_in(&text);
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);
        let email = &emails(&app, "").await[0];
        assert_eq!(email["route"], "smtp");
        assert!(email["provider_message_id"].as_str().unwrap().contains("queued as"), "{email}");
    }

    async fn a_permanent_smtp_refusal_fails_the_email_with_the_server_s_words(backend: Backend) {
        let smtp = FakeSmtp::start().await;
        let url = smtp.url();
        let app = spawn(backend, &[], &[("SMTP_URL", &url), ("EMAIL_FROM", "club@example.org")]).await;
        let people = import(&app, &[("reject.me@example.org", "Rex")]).await;
        let report = send(&app, ids(&people)).await;
        assert_eq!(report["emails_failed"], 1, "{report}");
        let listed = user(&app, people[0]).await;
        assert_eq!(listed["email_status"], "failed");
        assert!(listed["email_error"].as_str().unwrap().contains("User unknown"), "{listed}");
    }

    async fn a_test_email_shows_the_smtp_server_s_reply(backend: Backend) {
        let smtp = FakeSmtp::start().await;
        let url = smtp.url();
        let app = spawn(backend, &[], &[("SMTP_URL", &url), ("EMAIL_FROM", "club@example.org")]).await;
        let report: serde_json::Value = app.post("/api/emails/test").json(&json!({ "to": "me@example.org" })).send().await.unwrap().json().await.unwrap();
        assert_eq!(report["success"], true, "{report}");
        assert_eq!(report["route"], "smtp");
        assert_eq!(report["status"], 250);
        assert!(report["provider_response"].as_str().unwrap().contains("queued as FAKE1"));
        assert_eq!(smtp.messages().len(), 1);
    }
}
