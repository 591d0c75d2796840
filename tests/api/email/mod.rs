//! Invitation emails through each route, the queue's durability and faults, the webhook.

mod outbox;
mod process;
mod queue;
mod sendgrid;
mod smtp;
pub(crate) mod webhook;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

/// Starts doorman with `pairs` (owned values, e.g. a fake's environment) and `extra`.
pub async fn spawn(
    backend: Backend,
    pairs: &[(&'static str, String)],
    extra: &[(&str, &str)],
) -> TestApp {
    let mut env: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("EMAIL_POLL_INTERVAL_MS", "50"));
    env.extend_from_slice(extra);
    TestApp::spawn_with(backend, &env).await
}

/// Imports invitees (`email`, `name`) and returns their ids in order.
pub async fn import(app: &TestApp, people: &[(&str, &str)]) -> Vec<i64> {
    let mut csv = String::from("email,name,college,branch,year\n");
    for (email, name) in people {
        csv.push_str(&format!("{email},\"{name}\",MIT,CSE,2026\n"));
    }
    added_ids(&app.upload_csv(&csv).await)
}

/// The ids of the invitees an import's report says it added, in order.
pub fn added_ids(report: &Value) -> Vec<i64> {
    report["newly_added_users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect()
}

pub async fn send(app: &TestApp, body: Value) -> Value {
    let response = app
        .post("/api/send-emails")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "send-emails refused");
    response.json().await.unwrap()
}

pub async fn user(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/users/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn emails(app: &TestApp, query: &str) -> Vec<Value> {
    let page = app.get_json(&format!("/api/emails?{query}")).await;
    page["emails"].as_array().expect("emails array").clone()
}

/// The token in an email's plain text: the line that is nothing but token characters.
pub fn token_in(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| {
            l.len() >= 6
                && l.chars()
                    .all(|c| c == '-' || "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c))
        })
        .unwrap_or_else(|| panic!("no token in {text}"))
        .to_owned()
}

/// Waits (up to 10 s) until `done` holds.
pub async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub fn ids(ids: &[i64]) -> Value {
    json!(ids)
}
