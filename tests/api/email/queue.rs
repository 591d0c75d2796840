//! The queue: it survives restarts, replicas share it, it sends no more than is wanted.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::fakes::fake_sendgrid::FakeSendGrid;
use crate::on_both_databases;

/// Replicas, and a doorman restarted elsewhere, share the token secret (as the README asks).
const SHARED_SECRET: &str = "a-token-secret-shared-by-every-replica-0123";

on_both_databases! {
    async fn emails_queued_before_a_restart_are_sent_once_after_it(backend: Backend) {
        let sendgrid = FakeSendGrid::start().await;
        let mut env = sendgrid.env();
        env.push(("TOKEN_SECRET", SHARED_SECRET.into()));
        // The first doorman queues and stops before any worker runs.
        let first = spawn(backend, &env, &[("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0")]).await;
        let people: Vec<(String, String)> = (0..25).map(|i| (format!("p{i}@example.org"), format!("Person {i}"))).collect();
        let pairs: Vec<(&str, &str)> = people.iter().map(|(e, n)| (e.as_str(), n.as_str())).collect();
        let ids = import(&first, &pairs).await;
        let report = send(&first, json!(ids)).await;
        assert_eq!(report["emails_queued"], 25, "{report}");
        assert_eq!(sendgrid.requests(), 0);
        let url = first.database_url.clone();
        // Let go of the first doorman (its workers never ran); keep its SQLite file.
        let crate::helpers::TestApp { data_dir: _keep, .. } = first;

        let mut second_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        second_env.extend([("DATABASE_URL", url.as_str()), ("EMAIL_POLL_INTERVAL_MS", "50"), ("EMAIL_BATCH_SIZE", "10")]);
        let second = crate::helpers::TestApp::spawn_on(backend, &second_env).await;
        eventually("the queue to drain", || async { sendgrid.received().len() >= 25 }).await;
        // Once every email is recorded as sent, nothing is left that could go twice.
        eventually("every send to be recorded", || async { emails(&second, "status=sent").await.len() == 25 }).await;
        assert!(emails(&second, "status=queued").await.is_empty());
        let received = sendgrid.received();
        assert_eq!(received.len(), 25, "each email exactly once");
        for (email, _) in &people {
            assert_eq!(sendgrid.received_by(email).len(), 1, "{email}");
        }
        let token = token_in(sendgrid.received_by("p7@example.org")[0].text.as_deref().unwrap());
        assert_eq!(second.verify_json("p7@example.org", &token).await["success"], true);
    }

    async fn replicas_sending_at_once_send_each_email_once(backend: Backend) {
        let sendgrid = FakeSendGrid::start_with_delay(Duration::from_millis(20)).await;
        let mut env = sendgrid.env();
        env.push(("TOKEN_SECRET", SHARED_SECRET.into()));
        let first = spawn(backend, &env, &[("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0"), ("EMAIL_BATCH_SIZE", "3"), ("EMAIL_CONCURRENCY", "2")]).await;
        let people: Vec<(String, String)> = (0..60).map(|i| (format!("r{i}@example.org"), format!("R {i}"))).collect();
        let pairs: Vec<(&str, &str)> = people.iter().map(|(e, n)| (e.as_str(), n.as_str())).collect();
        let ids = import(&first, &pairs).await;
        let report = send(&first, json!({ "user_ids": ids })).await;
        assert_eq!(report["emails_queued"], 60, "{report}");

        let mut other_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        other_env.extend([("DATABASE_URL", first.database_url.as_str()), ("EMAIL_WORKERS", "false"), ("EMAIL_BATCH_SIZE", "3"), ("EMAIL_CONCURRENCY", "2")]);
        let replicas: Vec<_> = futures::future::join_all((0..2).map(|_| crate::helpers::TestApp::spawn_on(backend, &other_env))).await;
        let handled = futures::future::join_all(
            replicas.iter().map(|r| r.doorman.deliver_due_emails()).chain([first.doorman.deliver_due_emails()]),
        ).await;
        let total: usize = handled.into_iter().map(Result::unwrap).sum();
        assert_eq!(total, 60);
        assert_eq!(sendgrid.received().len(), 60);
        for (email, _) in &people {
            assert_eq!(sendgrid.received_by(email).len(), 1, "{email}");
        }
    }

    async fn bounced_addresses_are_skipped_unless_forced(backend: Backend) {
        let app = spawn(backend, &[], &[("RESEND_COOLDOWN_MINUTES", "0")]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        app.sql(&format!("UPDATE invitees SET email_status = 'bounced' WHERE id = {}", people[0])).await;
        let report = send(&app, ids(&people)).await;
        assert_eq!(report["emails_sent"], 0);
        assert_eq!(report["skipped"][0]["reason"], "bounced");
        let forced = send(&app, json!({ "user_ids": people, "force": true })).await;
        assert_eq!(forced["emails_sent"], 1, "{forced}");
    }

    async fn reminders_go_out_once_per_scheduled_day_with_the_same_token(backend: Backend) {
        let app = spawn(backend, &[], &[("REMINDER_DAYS", "2,5"), ("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0")]).await;
        let people = import(&app, &[("ana@example.org", "Ana"), ("bo@example.org", "Bo"), ("cy@example.org", "Cy")]).await;
        // Bo and Cy are invited three days before Ana; three days after Ana's invitation,
        // hers is three days old and Bo's six. Cy verified.
        send(&app, ids(&people[1..])).await;
        app.doorman.deliver_due_emails().await.unwrap();
        assert_eq!(app.doorman.queue_due_reminders().await.unwrap(), 0, "nothing is due yet");
        app.advance(chrono::Duration::days(3));
        send(&app, ids(&people[..1])).await;
        app.doorman.deliver_due_emails().await.unwrap();
        app.advance(chrono::Duration::days(3));
        let invitation = emails(&app, "").await;
        let ana_token = token_in(invitation.iter().find(|e| e["recipient"] == "ana@example.org").unwrap()["text_body"].as_str().unwrap());
        let cy_token = token_in(invitation.iter().find(|e| e["recipient"] == "cy@example.org").unwrap()["text_body"].as_str().unwrap());
        app.verify_json("cy@example.org", &cy_token).await;

        assert_eq!(app.doorman.queue_due_reminders().await.unwrap(), 2, "Ana's day-2 and Bo's day-5 reminders");
        assert_eq!(app.doorman.queue_due_reminders().await.unwrap(), 0, "at most once per day");
        assert_eq!(user(&app, people[0]).await["email_status"], "queued");
        app.doorman.deliver_due_emails().await.unwrap();

        let reminders: Vec<_> = emails(&app, "").await.into_iter().filter(|e| e["kind"] == "reminder").collect();
        assert_eq!(reminders.len(), 2);
        let ana = reminders.iter().find(|e| e["recipient"] == "ana@example.org").unwrap();
        assert!(reminders.iter().any(|e| e["recipient"] == "bo@example.org"));
        assert!(ana["subject"].as_str().unwrap().starts_with("Reminder: "));
        assert!(ana["text_body"].as_str().unwrap().starts_with("A reminder"));
        assert_eq!(token_in(ana["text_body"].as_str().unwrap()), ana_token, "the same token as the invitation");
        assert_eq!(app.verify_json("ana@example.org", &ana_token).await["success"], true);
    }

    async fn a_reminder_after_the_token_expired_carries_a_fresh_one(backend: Backend) {
        let app = spawn(backend, &[], &[("REMINDER_DAYS", "2"), ("TOKEN_EXPIRY_DAYS", "1"), ("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0")]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        send(&app, ids(&people)).await;
        app.doorman.deliver_due_emails().await.unwrap();
        let old = token_in(emails(&app, "").await[0]["text_body"].as_str().unwrap());
        app.advance(chrono::Duration::days(3));
        assert_eq!(app.doorman.queue_due_reminders().await.unwrap(), 1);
        app.doorman.deliver_due_emails().await.unwrap();
        let reminder = &emails(&app, "").await[0];
        assert_eq!(reminder["kind"], "reminder");
        let fresh = token_in(reminder["text_body"].as_str().unwrap());
        assert_ne!(fresh, old);
        assert_eq!(app.verify_json("ana@example.org", &fresh).await["success"], true);
    }

    async fn an_invitee_who_verifies_before_sending_is_not_emailed(backend: Backend) {
        let app = spawn(backend, &[], &[("EMAIL_WORKERS", "false"), ("EMAIL_SEND_WAIT_SECONDS", "0")]).await;
        let people = import(&app, &[("ana@example.org", "Ana")]).await;
        send(&app, ids(&people)).await;
        let token = app.refresh_token(people[0]).await;
        app.verify_json("ana@example.org", &token).await;
        app.doorman.deliver_due_emails().await.unwrap();
        let email = &emails(&app, "").await[0];
        assert_eq!(email["status"], "cancelled");
        assert!(email["text_body"].is_null());
    }
}
