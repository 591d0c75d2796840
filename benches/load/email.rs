//! Invitation emails: 2,000 sent through a fake SendGrid in the bench's own process, which
//! checks each request against SendGrid's documented v3 `mail/send` schema and answers 202
//! after 100 ms, as a provider some way off would.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::cpu::Meter;
use crate::fake_sendgrid::FakeSendGrid;
use crate::report::{Report, rate, secs, thousands, with_cpu};
use crate::steps::{Invitee, Session};

/// Invitations sent in one go (the target is set for 2,000).
pub const EMAILS: usize = 2_000;
const PROVIDER_LATENCY: Duration = Duration::from_millis(100);
const TARGET: Duration = Duration::from_secs(5);
/// Longer than any plausible run: the original, one email at a time, needed 200 s.
const DEADLINE: Duration = Duration::from_secs(120);
/// `GET /api/emails` answers at most this many per page.
const PAGE: usize = 1000;

pub async fn fake_sendgrid() -> FakeSendGrid {
    FakeSendGrid::start_with_delay(PROVIDER_LATENCY).await
}

/// What the server needs to send through `fake`; everything else is doorman's defaults.
pub fn server_env(fake: &FakeSendGrid) -> Vec<(&'static str, String)> {
    let mut env = fake.env();
    // `send-emails` answers once the batch is queued, so the bench times the sending
    // itself, not the request's wait for it.
    env.push(("EMAIL_SEND_WAIT_SECONDS", "0".into()));
    env
}

#[derive(Deserialize)]
struct SendReport {
    batch_id: String,
    emails_skipped: usize,
}

#[derive(Deserialize)]
struct EmailsPage {
    emails: Vec<serde_json::Value>,
    next_offset: Option<usize>,
}

/// Emails the first [`EMAILS`] invitees with one `POST /api/send-emails`, and times it
/// until the fake has received every email and doorman's records say each was sent.
pub async fn send_invitations(
    session: &Session<'_>,
    fake: &FakeSendGrid,
    invitees: &[Invitee],
    report: &mut Report,
) -> anyhow::Result<()> {
    ensure!(
        invitees.len() >= EMAILS,
        "{EMAILS} invitees are needed, {} were listed",
        invitees.len()
    );
    let ids: Vec<i64> = invitees[..EMAILS].iter().map(|i| i.id).collect();
    let cpu = Meter::start(session.server.pid());
    let started = Instant::now();
    let response = session
        .client
        .post(session.server.url("/api/send-emails"))
        .json(&json!({ "user_ids": ids }))
        .timeout(DEADLINE)
        .send()
        .await
        .context("send-emails failed")?;
    let status = response.status();
    let body = response
        .text()
        .await
        .context("send-emails' answer was cut")?;
    let queued_in = started.elapsed();
    ensure!(
        status == StatusCode::OK,
        "send-emails answered {status}: {body}"
    );
    let answer: SendReport =
        serde_json::from_str(&body).with_context(|| format!("send-emails answered {body:.200}"))?;
    ensure!(
        answer.emails_skipped == 0,
        "send-emails skipped some: {body:.200}"
    );

    // The fake's per-request recipient counts are cheap to read, unlike what it received.
    while fake.batch_sizes().iter().sum::<usize>() < EMAILS {
        check_deadline(started, fake)?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let delivered_in = started.elapsed();
    while count_sent(session, &answer.batch_id).await? < EMAILS {
        check_deadline(started, fake)?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recorded_in = started.elapsed();
    let cpu = cpu.finish();

    let measured = format!(
        "{} ({} emails/s); the fake had them all after {}, in {} requests; \
         `send-emails` answered in {}",
        secs(recorded_in),
        rate(EMAILS, recorded_in),
        secs(delivered_in),
        fake.requests(),
        secs(queued_in),
    );
    report.push(
        session
            .row(
                format!(
                    "send {} invitations (POST /api/send-emails; fake SendGrid answering after {} ms) until all are recorded as sent",
                    thousands(EMAILS as f64),
                    PROVIDER_LATENCY.as_millis()
                ),
                with_cpu(measured, cpu),
            )
            .target(format!("< {} s", TARGET.as_secs()), recorded_in < TARGET),
    );
    let received = fake.received();
    let recipients: HashSet<&str> = received.iter().map(|r| r.to.as_str()).collect();
    report.push(
        session
            .row(
                "emails: received by the fake, and of them distinct recipients",
                format!(
                    "{} / {}",
                    thousands(received.len() as f64),
                    thousands(recipients.len() as f64)
                ),
            )
            .target(
                format!("{0} / {0}", thousands(EMAILS as f64)),
                received.len() == EMAILS && recipients.len() == EMAILS,
            ),
    );
    Ok(())
}

fn check_deadline(started: Instant, fake: &FakeSendGrid) -> anyhow::Result<()> {
    if started.elapsed() > DEADLINE {
        bail!(
            "not all sent within {} s: the fake answered {} requests for {} emails",
            DEADLINE.as_secs(),
            fake.requests(),
            fake.batch_sizes().iter().sum::<usize>()
        );
    }
    Ok(())
}

/// How many of the batch's emails doorman has recorded as sent.
async fn count_sent(session: &Session<'_>, batch_id: &str) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut offset = Some(0);
    while let Some(from) = offset {
        let page: EmailsPage = session
            .client
            .get(session.server.url("/api/emails"))
            .query(&[
                ("batch_id", batch_id),
                ("status", "sent"),
                ("limit", &PAGE.to_string()),
                ("offset", &from.to_string()),
            ])
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .context("listing the batch's emails failed")?
            .error_for_status()
            .context("listing the batch's emails failed")?
            .json()
            .await
            .context("the batch's emails are not as expected")?;
        count += page.emails.len();
        offset = page.next_offset;
    }
    Ok(count)
}
