//! The SendGrid route, against a fake that checks requests against SendGrid's schema.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::fakes::fake_sendgrid::{API_KEY, FakeSendGrid, Fault};
use crate::on_both_databases;

on_both_databases! {
    async fn invitations_go_to_sendgrid_in_one_batch_and_carry_working_tokens(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[("COMMUNITY_NAME", "Rustaceans")]).await;
        let people = import(&app, &[("ana@example.org", "Ana, Lima"), ("bo@example.org", "Bo <b>"), ("cy@example.org", "Cy")]).await;

        let report = send(&app, ids(&people)).await;
        assert_eq!(report["emails_sent"], 3, "{report}");
        assert_eq!(sendgrid.batch_sizes(), vec![3], "one request, three personalizations");

        let ana = &sendgrid.received_by("ana@example.org")[0];
        assert_eq!(ana.from, "invites@community.example.org");
        assert_eq!(ana.to_name.as_deref(), Some("Ana Lima"), "SendGrid refuses commas in names");
        assert_eq!(ana.message_id, "fake-msg-1");
        assert_eq!(ana.subject.as_deref(), Some("Rustaceans Discord invitation"));
        assert_eq!(ana.custom_args["invitee_id"], people[0].to_string());
        assert!(ana.custom_args.contains_key("email_id"));
        assert_eq!(ana.custom_args.len(), 2, "ids only in custom_args");
        let token = token_in(ana.text.as_deref().unwrap());
        assert!(ana.html.as_deref().unwrap().contains(&token));
        assert!(ana.text.as_deref().unwrap().contains("Hello Ana, Lima,"));
        let bo = &sendgrid.received_by("bo@example.org")[0];
        assert!(bo.html.as_deref().unwrap().contains("Hello Bo &lt;b&gt;,"), "escaped in HTML");
        assert!(bo.text.as_deref().unwrap().contains("Hello Bo <b>,"), "as typed in text");
        assert_ne!(token_in(bo.text.as_deref().unwrap()), token);
        let log = app.get("/api/events?limit=1000").send().await.unwrap().text().await.unwrap();
        let listing = app.get("/api/emails").send().await.unwrap().text().await.unwrap();
        let plain = token.replace('-', "");
        assert!(!log.contains(&token) && !log.contains(&plain), "the event log holds a token");
        assert!(!listing.contains(&token) && !listing.contains(&plain), "the queue holds a token");
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);

        let listed = &emails(&app, "").await;
        assert!(listed.iter().all(|e| e["status"] == "sent" && e["provider_message_id"] == "fake-msg-1"), "{listed:?}");
        assert!(listed.iter().all(|e| e["html_body"].is_null()), "only the outbox keeps bodies");
    }

    async fn a_dynamic_template_gets_the_documented_fields(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[("SENDGRID_TEMPLATE_ID", "d-0123456789abcdef"), ("COMMUNITY_NAME", "Rustaceans"), ("DISCORD_INVITE_URL", "https://discord.gg/x")]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        send(&app, ids(&people)).await;
        let ana = &sendgrid.received_by("ana@example.org")[0];
        assert_eq!(ana.template_id.as_deref(), Some("d-0123456789abcdef"));
        let data = ana.dynamic_template_data.as_ref().unwrap();
        for field in ["name", "token", "expires_in_days", "expires_at", "invite_url", "community"] {
            assert!(data.get(field).is_some(), "{field} missing from {data}");
        }
        assert_eq!(data["community"], "Rustaceans");
        assert_eq!(data["expires_in_days"], "7");
        let token = data["token"].as_str().unwrap();
        assert_eq!(app.verify_json("ana@example.org", token).await["success"], true);
    }

    async fn server_errors_and_timeouts_are_retried_until_sent(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[
            ("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0"),
            ("EMAIL_RETRY_BASE_MS", "300"), ("EMAIL_TIMEOUT_SECONDS", "1"), ("EMAIL_LEASE_SECONDS", "2"),
        ]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        sendgrid.fail_next([Fault::ServerError, Fault::Hang]);
        let report = send(&app, ids(&people)).await;
        assert_eq!(report["emails_queued"], 1);

        assert_eq!(app.doorman.deliver_due_emails().await.unwrap(), 1);
        let email = &emails(&app, "").await[0];
        assert_eq!(email["status"], "queued");
        assert!(email["last_error"].as_str().unwrap().contains("500"), "{email}");
        assert_eq!(user(&app, people[0]).await["email_error"], email["last_error"], "the error shows in /api/users");

        app.advance(chrono::Duration::seconds(1));
        app.doorman.deliver_due_emails().await.unwrap();
        let email = &emails(&app, "").await[0];
        assert!(email["last_error"].as_str().unwrap().contains("did not answer in time"), "{email}");

        app.advance(chrono::Duration::seconds(2));
        app.doorman.deliver_due_emails().await.unwrap();
        let email = &emails(&app, "").await[0];
        assert_eq!(email["status"], "sent", "{email}");
        assert_eq!(email["attempts"], 3);
        assert_eq!(sendgrid.received().len(), 1);
        let listed = user(&app, people[0]).await;
        assert_eq!(listed["email_status"], "sent");
        assert!(listed["email_error"].is_null());
    }

    async fn a_rate_limit_is_honoured_for_as_long_as_retry_after_says(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0"), ("EMAIL_RETRY_BASE_MS", "1")]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        sendgrid.fail_next([Fault::RateLimited { retry_after: 2 }]);
        send(&app, ids(&people)).await;
        app.doorman.deliver_due_emails().await.unwrap();
        let email = &emails(&app, "").await[0];
        assert!(email["last_error"].as_str().unwrap().contains("429"));
        let at = |field: &str| chrono::DateTime::parse_from_rfc3339(email[field].as_str().unwrap()).unwrap();
        assert_eq!(at("next_attempt_at") - at("updated_at"), chrono::Duration::seconds(2), "retried as Retry-After says");

        assert_eq!(app.doorman.deliver_due_emails().await.unwrap(), 0, "not before Retry-After");
        app.advance(chrono::Duration::seconds(1));
        assert_eq!(app.doorman.deliver_due_emails().await.unwrap(), 0, "not before Retry-After");
        assert_eq!(sendgrid.requests(), 1);
        app.advance(chrono::Duration::milliseconds(1100));
        assert_eq!(app.doorman.deliver_due_emails().await.unwrap(), 1);
        assert_eq!(sendgrid.received().len(), 1);
    }

    async fn a_refusal_fails_at_once_with_sendgrid_s_reason(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        sendgrid.fail_next([Fault::BadRequest("The from address does not match a verified Sender Identity.")]);
        let report = send(&app, ids(&people)).await;
        assert_eq!(report["success"], false, "{report}");
        assert_eq!(report["emails_failed"], 1);
        assert_eq!(sendgrid.requests(), 1, "no retry");
        let listed = user(&app, people[0]).await;
        assert_eq!(listed["email_status"], "failed");
        let error = listed["email_error"].as_str().unwrap();
        assert!(error.contains("verified Sender Identity") && error.contains("400"), "{error}");
    }

    async fn a_slow_batch_answers_after_the_wait_and_finishes_in_the_background(backend: Backend) {
        let sendgrid = FakeSendGrid::start_with_delay(Duration::from_millis(2500)).await;
        let app = spawn(backend, &sendgrid.env(), &[("EMAIL_SEND_WAIT_SECONDS", "1")]).await;
        let people = import(&app, &[("ana@example.org", "Ana"), ("bo@example.org", "Bo")]).await;
        let report = send(&app, ids(&people)).await;
        assert_eq!(sendgrid.requests(), 1, "the batch was on its way while the request waited");
        assert!(sendgrid.received().is_empty(), "the answer did not wait for SendGrid");
        assert_eq!(report["emails_queued"], 2, "{report}");
        assert_eq!(report["emails_sent"], 0);
        assert_eq!(report["success"], true, "nothing failed");
        eventually("the batch to finish", || async { emails(&app, "status=sent").await.len() == 2 }).await;
    }

    async fn a_recipient_sendgrid_refuses_fails_alone(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[]).await;
        let people = import(&app, &[("ana@example.org", "Ana"), ("bo@example.org", "Bo"), ("cy@example.org", "Cy")]).await;
        // An address SendGrid will not take (doorman's own import would refuse it).
        app.sql(&format!("UPDATE invitees SET email = 'bo@nodot' WHERE id = {}", people[1])).await;
        let report = send(&app, ids(&people)).await;
        assert_eq!(report["emails_sent"], 2, "{report}");
        assert_eq!(report["emails_failed"], 1);
        assert_eq!(sendgrid.batch_sizes(), vec![2], "the others went again without Bo");
        let bo = user(&app, people[1]).await;
        assert_eq!(bo["email_status"], "failed");
        assert!(bo["email_error"].as_str().unwrap().contains("personalizations.1.to.0.email"), "{bo}");
        assert_eq!(user(&app, people[0]).await["email_status"], "sent");
    }

    async fn a_key_without_permission_fails_at_once(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        sendgrid.fail_next([Fault::Forbidden]);
        let report = send(&app, ids(&people)).await;
        assert_eq!(report["emails_failed"], 1, "{report}");
        assert_eq!(sendgrid.requests(), 1);
        assert!(user(&app, people[0]).await["email_error"].as_str().unwrap().contains("403: access forbidden"));
    }

    async fn two_emails_to_one_address_never_share_a_request(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0")]).await;
        let people = import(&app, &[("ana@example.org", "Ana"), ("bo@example.org", "Bo")]).await;
        send(&app, ids(&people)).await;
        send(&app, json!({ "user_ids": [people[0]], "force": true })).await;
        assert_eq!(app.doorman.deliver_due_emails().await.unwrap(), 3);
        let mut sizes = sendgrid.batch_sizes();
        sizes.sort();
        assert_eq!(sizes, vec![1, 2], "Ana's second email went in a request of its own");
        assert_eq!(sendgrid.received_by("ana@example.org").len(), 2);
    }

    async fn after_the_last_attempt_an_email_fails(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0"), ("EMAIL_RETRY_BASE_MS", "1"), ("EMAIL_MAX_ATTEMPTS", "2")]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        sendgrid.fail_next([Fault::ServerError, Fault::ServerError]);
        send(&app, ids(&people)).await;
        app.doorman.deliver_due_emails().await.unwrap();
        app.advance(chrono::Duration::seconds(1));
        app.doorman.deliver_due_emails().await.unwrap();
        let email = &emails(&app, "").await[0];
        assert_eq!(email["status"], "failed");
        assert!(email["last_error"].as_str().unwrap().starts_with("gave up after 2 attempts"), "{email}");
        assert_eq!(app.events("kind=email_failed").await.len(), 1);
    }

    async fn a_wrong_api_key_is_reported_without_showing_the_key(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let mut env = sendgrid.env();
        env[0].1 = "SG.a-wrong-key-that-must-not-leak".into();
        let app = spawn(backend, &env, &[]).await;
        let response = app.post("/api/emails/test").json(&json!({ "to": "me@example.org" })).send().await.unwrap();
        let report: serde_json::Value = response.json().await.unwrap();
        assert_eq!(report["success"], false);
        assert_eq!(report["status"], 401);
        assert!(report["provider_response"].as_str().unwrap().contains("authorization grant is invalid"), "{report}");

        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        send(&app, ids(&people)).await;
        let everything = format!("{}{}", app.get("/api/users").send().await.unwrap().text().await.unwrap(),
            app.get("/api/emails").send().await.unwrap().text().await.unwrap());
        assert!(everything.contains("401"), "{everything}");
        assert!(!everything.contains("a-wrong-key") && !everything.contains(API_KEY));
    }

    async fn a_test_email_reports_what_sendgrid_answered(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let app = spawn(backend, &sendgrid.env(), &[]).await;
        let report: serde_json::Value = app.post("/api/emails/test").json(&json!({ "to": "me@example.org" })).send().await.unwrap().json().await.unwrap();
        assert_eq!(report["success"], true, "{report}");
        assert_eq!(report["status"], 202);
        assert_eq!(report["message_id"], "fake-msg-1");
        assert_eq!(sendgrid.received_by("me@example.org").len(), 1);
    }
}
