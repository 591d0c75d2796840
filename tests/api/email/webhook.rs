//! SendGrid's Event Webhook: signed requests only, each event applied once, bounces final.

use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::{Value, json};

use super::*;
use crate::fakes::fake_sendgrid::FakeSendGrid;
use crate::on_both_databases;

/// A key pair made for the test, as SendGrid would make one for an account.
pub(crate) fn key_pair() -> (SigningKey, String) {
    let mut secret = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut secret[..]);
    let signing = SigningKey::from_slice(&secret).expect("32 random bytes make a key");
    let public = signing.verifying_key().to_public_key_der().unwrap();
    (
        signing,
        base64::engine::general_purpose::STANDARD.encode(public.as_bytes()),
    )
}

struct Signed {
    app: TestApp,
    key: SigningKey,
}

impl Signed {
    async fn post(&self, events: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(events).unwrap();
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(&body);
        let signature: Signature = self.key.sign(&message);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes());
        self.app
            .client
            .post(self.app.url("/webhooks/sendgrid"))
            .header("content-type", "application/json")
            .header("X-Twilio-Email-Event-Webhook-Signature", signature)
            .header("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

/// An app on SendGrid with the webhook configured, one invitee emailed: (app, invitee, email id).
async fn emailed(backend: Backend) -> (Signed, FakeSendGrid, i64, String) {
    let sendgrid = FakeSendGrid::start().await;
    let (key, public) = key_pair();
    let app = spawn(
        backend,
        &sendgrid.env(),
        &[("SENDGRID_WEBHOOK_PUBLIC_KEY", &public)],
    )
    .await;
    let people = import(&app, &[("ana@example.org", "Ana")]).await;
    send(&app, ids(&people)).await;
    let email_id = sendgrid.received()[0].custom_args["email_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (Signed { app, key }, sendgrid, people[0], email_id)
}

fn event(kind: &str, id: &str, invitee: i64, email: &str) -> Value {
    json!({
        "email": "ana@example.org", "timestamp": 1_700_000_000, "event": kind,
        "sg_event_id": id, "sg_message_id": "fake-msg-1.filter0001",
        "invitee_id": invitee.to_string(), "email_id": email,
        "reason": "550 5.1.1 The email account does not exist", "type": "bounce",
    })
}

on_both_databases! {
    async fn signed_events_update_the_invitee_s_email_status(backend: Backend) {
        let (signed, _, invitee, email) = emailed(backend).await;
        let response = signed.post(&json!([event("processed", "e0", invitee, &email), event("delivered", "e1", invitee, &email)])).await;
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["applied"], 1, "{report}");
        assert_eq!(report["ignored"], 1);
        assert_eq!(user(&signed.app, invitee).await["email_status"], "delivered");
        assert_eq!(emails(&signed.app, "").await[0]["status"], "delivered");
        assert_eq!(signed.app.events("kind=email_delivered").await.len(), 1);
    }

    async fn a_bounce_is_final_and_a_late_delivered_does_not_undo_it(backend: Backend) {
        let (signed, _, invitee, email) = emailed(backend).await;
        signed.post(&json!([event("bounce", "b1", invitee, &email)])).await;
        let listed = user(&signed.app, invitee).await;
        assert_eq!(listed["email_status"], "bounced");
        assert!(listed["email_error"].as_str().unwrap().contains("does not exist"));
        signed.post(&json!([event("delivered", "d1", invitee, &email)])).await;
        assert_eq!(user(&signed.app, invitee).await["email_status"], "bounced");
        assert_eq!(emails(&signed.app, "").await[0]["status"], "bounced");
    }

    async fn an_event_delivered_twice_is_applied_once(backend: Backend) {
        let (signed, _, invitee, email) = emailed(backend).await;
        let deferred = event("deferred", "same-id", invitee, &email);
        let first: Value = signed.post(&json!([deferred])).await.json().await.unwrap();
        let second: Value = signed.post(&json!([deferred, deferred])).await.json().await.unwrap();
        assert_eq!(first["applied"], 1);
        assert_eq!(second["applied"], 0);
        assert_eq!(second["duplicates"], 2);
        assert_eq!(signed.app.events("kind=email_deferred").await.len(), 1);
        let listed = user(&signed.app, invitee).await;
        assert_eq!(listed["email_status"], "sent", "a deferral is not a failure");
        assert!(listed["email_error"].as_str().unwrap().starts_with("deferred"));
    }

    async fn event_ids_are_forgotten_once_pruned(backend: Backend) {
        let (signed, _, invitee, email) = emailed(backend).await;
        let deferred = event("deferred", "old-id", invitee, &email);
        signed.post(&json!([deferred])).await;
        assert_eq!(signed.app.doorman.forget_old_webhook_events().await.unwrap(), 0, "remembered for a while");
        signed.app.advance(chrono::Duration::days(8));
        assert_eq!(signed.app.doorman.forget_old_webhook_events().await.unwrap(), 1);
        let again: Value = signed.post(&json!([deferred])).await.json().await.unwrap();
        assert_eq!(again["applied"], 1);
    }

    async fn a_late_bounce_for_an_earlier_invitation_leaves_the_current_one_alone(backend: Backend) {
        let (signed, sendgrid, invitee, first) = emailed(backend).await;
        let resent = send(&signed.app, json!({ "user_ids": [invitee], "force": true })).await;
        assert_eq!(resent["emails_sent"], 1, "{resent}");
        let second = sendgrid.received()[1].custom_args["email_id"].as_str().unwrap().to_owned();
        assert_ne!(first, second);
        signed.post(&json!([event("delivered", "d2", invitee, &second)])).await;

        let report: Value = signed.post(&json!([event("bounce", "late", invitee, &first)])).await.json().await.unwrap();
        assert_eq!(report["applied"], 1, "recorded: {report}");
        let listed = user(&signed.app, invitee).await;
        assert_eq!(listed["email_status"], "delivered", "{listed}");
        assert_eq!(listed["email_error"], Value::Null);
        let status = |id: &str| {
            let id: i64 = id.parse().unwrap();
            let app = &signed.app;
            async move {
                emails(app, "").await.into_iter().find(|e| e["id"] == id).unwrap()["status"].clone()
            }
        };
        assert_eq!(status(&first).await, "bounced", "kept against the email it is about");
        assert_eq!(status(&second).await, "delivered");
        assert_eq!(signed.app.events("kind=email_bounced").await.len(), 1);
    }

    async fn an_event_changes_only_the_invitee_whose_email_it_names(backend: Backend) {
        let (signed, sendgrid, ana, ana_email) = emailed(backend).await;
        let people = import(&signed.app, &[("bo@example.org", "Bo")]).await;
        let bo = people[0];
        send(&signed.app, ids(&people)).await;
        let bo_email = sendgrid.received()[1].custom_args["email_id"].as_str().unwrap().to_owned();

        // Ana's id with Bo's (newer) email: neither is touched.
        signed.post(&json!([event("bounce", "crossed", ana, &bo_email)])).await;
        // No email id at all: which email it is about is unknown, so the invitee is left alone.
        let mut anonymous = event("dropped", "anonymous", ana, &ana_email);
        anonymous.as_object_mut().unwrap().remove("email_id");
        signed.post(&json!([anonymous])).await;
        assert_eq!(user(&signed.app, ana).await["email_status"], "sent");
        assert_eq!(user(&signed.app, bo).await["email_status"], "sent");
        assert!(emails(&signed.app, "").await.iter().all(|e| e["status"] == "sent"));

        signed.post(&json!([event("bounce", "right", ana, &ana_email)])).await;
        assert_eq!(user(&signed.app, ana).await["email_status"], "bounced");
        assert_eq!(user(&signed.app, bo).await["email_status"], "sent");
    }

    async fn unsigned_and_badly_signed_requests_are_refused(backend: Backend) {
        let (signed, _, invitee, email) = emailed(backend).await;
        let body = json!([event("bounce", "x1", invitee, &email)]);
        let unsigned = signed.app.client.post(signed.app.url("/webhooks/sendgrid")).json(&body).send().await.unwrap();
        assert_eq!(unsigned.status(), 401);

        let timestamp = chrono::Utc::now().timestamp().to_string();
        let (other_key, _) = key_pair();
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(&serde_json::to_vec(&body).unwrap());
        let wrong: Signature = other_key.sign(&message);
        let wrong = base64::engine::general_purpose::STANDARD.encode(wrong.to_der().as_bytes());
        let forged = signed.app.client.post(signed.app.url("/webhooks/sendgrid"))
            .header("X-Twilio-Email-Event-Webhook-Signature", wrong)
            .header("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
            .json(&body).send().await.unwrap();
        assert_eq!(forged.status(), 403);
        assert_eq!(user(&signed.app, invitee).await["email_status"], "sent", "nothing applied");
    }

    async fn without_a_key_the_webhook_refuses_everything(backend: Backend) {
        let app = spawn(backend, &[], &[]).await;
        let response = app.client.post(app.url("/webhooks/sendgrid")).json(&json!([])).send().await.unwrap();
        assert_eq!(response.status(), 503);
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("SENDGRID_WEBHOOK_PUBLIC_KEY"));
    }
}
