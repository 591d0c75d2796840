//! The Emails page over HTTP: the listing, retrying a failed email, the rendered email's
//! sandbox and policy, the test email, the queue's counts.

use reqwest::header::COOKIE;

use super::http::{client, csrf_token, get_with, signed_in};
use crate::email::{emails, eventually, ids, import, send, spawn};
use crate::fakes::fake_smtp::FakeSmtp;
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use doorman::domain::event::Actor;

/// A form posted as the signed-in organiser's page would post it.
async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = csrf_token(app, cookie).await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    client()
        .post(app.url(path))
        .header(COOKIE, format!("doorman_session={cookie}"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let response = get_with(app, path, cookie).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

on_both_databases! {
    async fn a_failed_email_is_retried_from_the_page(backend: Backend) {
        let smtp = FakeSmtp::start().await;
        let url = smtp.url();
        let app = spawn(backend, &[], &[("SMTP_URL", &url), ("EMAIL_FROM", "club@example.org")]).await;
        let people = import(&app, &[("reject.me@example.org", "Rex"), ("ana@example.org", "Ana")]).await;
        let report = send(&app, ids(&people)).await;
        assert_eq!(report["emails_failed"], 1, "{report}");
        let listed = emails(&app, "").await;
        let failed = listed.iter().find(|e| e["status"] == "failed").unwrap()["id"].as_i64().unwrap();
        let sent = listed.iter().find(|e| e["status"] == "sent").unwrap()["id"].as_i64().unwrap();

        let cookie = signed_in(&app).await;
        let html = page(&app, "/admin/emails?status=failed", &cookie).await;
        assert!(html.contains("reject.me@example.org") && !html.contains("ana@example.org"), "{html}");
        assert!(html.contains(&format!("/admin/emails/{failed}/retry")), "a retry button");
        assert!(html.contains("User unknown"), "the last error is shown");

        // Without the CSRF token nothing happens.
        let forged = client()
            .post(app.url(&format!("/admin/emails/{failed}/retry")))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert!(app.events("kind=email_retried").await.is_empty());

        let retried = post_form(&app, &format!("/admin/emails/{failed}/retry"), &cookie, &[]).await;
        assert_eq!(retried.status(), 303);
        assert_eq!(retried.headers()["location"], format!("/admin/emails/{failed}?retried=1"));
        let events = app.events("kind=email_retried").await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["actor"], "ui");
        assert_eq!(events[0]["invitee_id"], people[0]);
        assert_eq!(events[0]["detail"]["email_id"], failed);
        // It is sent again, and refused again: a second failure on the record.
        eventually("the retried email to fail again", || async {
            app.events("kind=email_failed").await.len() == 2
        })
        .await;

        // Only a failed email can be retried.
        let refused = post_form(&app, &format!("/admin/emails/{sent}/retry"), &cookie, &[]).await;
        assert_eq!(refused.status(), 409);
        let missing = post_form(&app, "/admin/emails/999999/retry", &cookie, &[]).await;
        assert_eq!(missing.status(), 404);
        assert_eq!(app.events("kind=email_retried").await.len(), 1);
    }

    async fn an_outbox_email_opens_sandboxed_as_it_would_arrive(backend: Backend) {
        let app = spawn(backend, &[], &[]).await;
        let people = import(&app, &[("ana@example.org", "Ana Lima")]).await;
        send(&app, ids(&people)).await;
        let id = emails(&app, "").await[0]["id"].as_i64().unwrap();
        let cookie = signed_in(&app).await;

        let html = page(&app, &format!("/admin/emails/{id}"), &cookie).await;
        let frame = html.split("<iframe").nth(1).expect("a frame").split('>').next().unwrap();
        assert!(frame.contains("sandbox=\"\""), "{frame}");
        assert!(!frame.contains("allow-"), "nothing allowed: {frame}");
        assert!(frame.contains(&format!("src=\"/admin/emails/{id}/body\"")), "{frame}");

        let body = get_with(&app, &format!("/admin/emails/{id}/body"), &cookie).await;
        assert_eq!(body.status(), 200);
        let policy = body.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.starts_with("sandbox;"), "{policy}");
        assert!(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'self'"), "{policy}");
        assert!(!policy.contains("script-src"), "no script at all: {policy}");
        assert_eq!(body.headers()["x-frame-options"], "SAMEORIGIN");
        let text = body.text().await.unwrap();
        assert!(text.starts_with("<!doctype html>"), "still in standards mode");
        assert!(text.contains("<head><base target=\"_blank\">"), "links open nowhere: {text}");
        assert!(text.contains("Hello Ana Lima"), "the email as sent");

        // The body needs a session like every page.
        let anonymous = client().get(app.url(&format!("/admin/emails/{id}/body"))).send().await.unwrap();
        assert_eq!(anonymous.status(), 303);

        // The listing and the counts show it sent.
        let listing = page(&app, "/admin/emails", &cookie).await;
        assert!(listing.contains(&format!("href=\"/admin/emails/{id}\"")), "{listing}");
        let progress = page(&app, "/admin/emails/progress", &cookie).await;
        assert!(progress.contains("data-count=\"sent\">1<"), "{progress}");
        assert!(progress.contains("data-count=\"queued\">0<"), "{progress}");
        assert!(!progress.contains("hx-trigger"), "nothing queued, no polling: {progress}");
    }

    async fn a_test_email_is_sent_from_the_page(backend: Backend) {
        let app = spawn(backend, &[], &[]).await;
        let cookie = signed_in(&app).await;
        let token = csrf_token(&app, &cookie).await;
        let answer = client()
            .post(app.url("/admin/emails/test"))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .header("hx-request", "true")
            .header("x-csrf-token", token)
            .form(&[("to", "me@example.org")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let text = answer.text().await.unwrap();
        assert!(text.contains("Sent to me@example.org through Local outbox"), "{text}");
        let events = app.events("kind=test_email_sent").await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["actor"], "ui");

        let refused = post_form(&app, "/admin/emails/test", &cookie, &[("to", "not an address")]).await;
        assert_eq!(refused.status(), 422);
        assert_eq!(app.events("kind=test_email_sent").await.len(), 1);

        // Fifty more: the listing takes two pages, and the filters stay on the links.
        for n in 0..50 {
            let to = format!("me{n}@example.org");
            app.doorman.send_test_email(&to, Actor::Cli).await.unwrap();
        }
        let first = page(&app, "/admin/emails?status=sent", &cookie).await;
        assert_eq!(first.matches("<tr>").count(), 1 + 50, "a header and fifty rows");
        let older = first.split("rel=\"next\"").next().unwrap();
        let link = older.rsplit("href=\"").next().unwrap().split('"').next().unwrap();
        assert!(link.starts_with("/admin/emails?status=sent") && link.ends_with("page=2"), "{link}");
        let second = page(&app, "/admin/emails?status=sent&page=2", &cookie).await;
        assert_eq!(second.matches("<tr>").count(), 1 + 1);
        assert!(second.contains("me@example.org"), "the oldest comes last");
        assert!(!second.contains("rel=\"next\""));
    }
}
