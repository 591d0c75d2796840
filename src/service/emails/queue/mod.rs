//! The queue's orchestration: claim a round of due emails, prepare each (a current token,
//! its values), send them through the route with several requests in flight, record
//! each result, retry with back-off; and the reminders that feed it. A worker that dies
//! mid-send loses nothing: its claim's lease runs out and the email is claimed again.

mod prepare;
mod reminders;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use rand::Rng;
use serde_json::json;

use crate::domain::EmailKind;
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::token::random_hex;
use crate::email::{Delivery, Outgoing, Rendered};
use crate::service::{Doorman, ServiceError};
use crate::store::{ClaimedEmail, EmailBody, EmailResult};
use prepare::Prepared;

/// A claimed email and what is to be sent for it.
type Job = Vec<(ClaimedEmail, Outgoing)>;

impl Doorman {
    /// Sends every email that is due now (not those waiting for a retry later), and
    /// returns how many it handled. The background workers call it in a loop; tests and
    /// the CLI call it directly.
    pub async fn deliver_due_emails(&self) -> Result<usize, ServiceError> {
        self.deliver_due_emails_while(|| true).await
    }

    /// As [`Doorman::deliver_due_emails`], claiming nothing new once `keep_going` is false.
    #[tracing::instrument(skip_all, fields(handled))]
    pub async fn deliver_due_emails_while(
        &self,
        keep_going: impl Fn() -> bool,
    ) -> Result<usize, ServiceError> {
        let mut total = 0;
        while keep_going() {
            let handled = self.deliver_round().await?;
            if handled == 0 {
                break;
            }
            total += handled;
        }
        tracing::Span::current().record("handled", total);
        Ok(total)
    }

    /// One claim's worth: up to `concurrency` sends (SendGrid batches or single emails).
    async fn deliver_round(&self) -> Result<usize, ServiceError> {
        let settings = self.email_settings();
        let per_send = self.email().mailer.transport.batch_limit();
        // A claim's secret name: only the worker that made it can record its results.
        let claim = random_hex(16);
        let now = self.now();
        let lease = chrono::Duration::from_std(settings.lease).expect("the lease is at most a day");
        let limit = (per_send * settings.concurrency) as i64;
        let claimed = self
            .store()
            .claim_due_emails(&claim, now, now + lease, limit)
            .await?;
        let handled = claimed.len();
        if handled == 0 {
            return Ok(0);
        }

        let mut skipped = Vec::new();
        let mut ready = Vec::new();
        for email in claimed {
            match self.prepare(&email).await? {
                Prepared::Ready(outgoing) => ready.push((email, *outgoing)),
                Prepared::Skip(result, event) => skipped.push((email, result, Some(event))),
            }
        }
        if !skipped.is_empty() {
            self.store().finish_emails(&claim, &skipped, now).await?;
            self.email().note_recorded();
            self.count_finished(&skipped);
        }

        let claim = &claim;
        let mut sends = futures::stream::iter(jobs(ready, per_send))
            .map(|job| self.send_job(claim, job))
            .buffer_unordered(settings.concurrency);
        while let Some(result) = sends.next().await {
            // A result that cannot be recorded is sent again once its lease runs out:
            // the narrow window of a possible duplicate the design accepts.
            if let Err(e) = result {
                tracing::error!(error = %e, "could not record the result of sending emails");
            }
        }
        Ok(handled)
    }

    /// Sends one job (a SendGrid batch, or one email) and records what became of it.
    async fn send_job(&self, claim: &str, job: Job) -> Result<(), ServiceError> {
        let (emails, outgoing): (Vec<_>, Vec<_>) = job.into_iter().unzip();
        let deliveries = self.email().mailer.transport.send_batch(&outgoing).await;
        let now = self.now();
        let results: Vec<_> = emails
            .into_iter()
            .zip(deliveries)
            .map(|(email, delivery)| {
                let (result, event) = self.result_of(&email, delivery, now);
                (email, result, event)
            })
            .collect();
        self.store().finish_emails(claim, &results, now).await?;
        self.email().note_recorded();
        self.count_finished(&results);
        Ok(())
    }

    fn count_finished(&self, results: &[(ClaimedEmail, EmailResult, Option<NewEvent>)]) {
        for (_, result, _) in results {
            let status = match result {
                EmailResult::Sent { .. } => "sent",
                EmailResult::Retry { .. } => "retried",
                EmailResult::Failed { .. } => "failed",
                EmailResult::Cancelled { .. } => "cancelled",
            };
            debug_assert!(crate::observe::EMAIL_OUTCOMES.contains(&status));
            self.metrics().email_finished(status);
        }
    }

    fn result_of(
        &self,
        email: &ClaimedEmail,
        delivery: Delivery,
        now: DateTime<Utc>,
    ) -> (EmailResult, Option<NewEvent>) {
        let settings = self.email_settings();
        let route = self.email().route();
        let event = |kind, detail: serde_json::Value| {
            let mut event = NewEvent::new(kind, Actor::System).detail(detail);
            event.invitee_id = email.invitee_id;
            Some(event)
        };
        let failed = |error: String| {
            let detail =
                json!({ "email_id": email.id, "kind": email.kind, "route": route, "error": error });
            (
                EmailResult::Failed { error },
                event(EventKind::EmailFailed, detail),
            )
        };
        match delivery {
            Delivery::Accepted { message_id, kept } => (
                EmailResult::Sent {
                    message_id,
                    kept: kept.map(body),
                },
                event(
                    EventKind::EmailSent,
                    json!({ "email_id": email.id, "kind": email.kind, "route": route, "attempts": email.attempts }),
                ),
            ),
            Delivery::Transient { error, retry_after }
                if (email.attempts as u32) < settings.max_attempts =>
            {
                let wait = retry_after
                    .unwrap_or_else(|| backoff(settings.retry_base, email.attempts as u32));
                let at =
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                tracing::warn!(email_id = email.id, attempts = email.attempts, %error, "email will be retried");
                (EmailResult::Retry { error, at }, None)
            }
            Delivery::Transient { error, .. } => failed(format!(
                "gave up after {} attempts: {error}",
                email.attempts
            )),
            Delivery::Permanent { error } => failed(error),
        }
    }
}

/// Groups ready emails into sends of at most `per_send`. Invitations and reminders read
/// differently, so a SendGrid batch holds one kind; and SendGrid refuses a request that
/// names one address twice, so a second email to the same address (a forced resend
/// while the first is still queued) waits for a request of its own.
fn jobs(ready: Vec<(ClaimedEmail, Outgoing)>, per_send: usize) -> Vec<Job> {
    let mut jobs = Vec::new();
    for kind in [EmailKind::Invitation, EmailKind::Reminder] {
        let mut pending: Vec<_> = ready
            .iter()
            .filter(|(e, _)| e.kind == kind)
            .cloned()
            .collect();
        while !pending.is_empty() {
            let mut job = Vec::new();
            let mut addresses = HashSet::new();
            let mut later = Vec::new();
            for item in pending {
                if job.len() < per_send && addresses.insert(item.0.recipient.clone()) {
                    job.push(item);
                } else {
                    later.push(item);
                }
            }
            jobs.push(job);
            pending = later;
        }
    }
    jobs
}

fn body(email: Rendered) -> EmailBody {
    EmailBody {
        subject: email.subject,
        html: email.html,
        text: email.text,
    }
}

/// The delay before retry number `attempt` (1-based): `base` doubled each time, capped at
/// an hour, with ±50% jitter so a burst of failures does not retry in lockstep.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(Duration::from_secs(3600));
    capped.mul_f64(rand::rng().random_range(0.5..1.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_within_its_jitter_and_stops_at_an_hour() {
        let base = Duration::from_secs(2);
        let cases = [(1, 2), (2, 4), (3, 8), (10, 1024), (30, 3600)];
        for (attempt, middle) in cases {
            let middle = Duration::from_secs(middle);
            for _ in 0..50 {
                let wait = backoff(base, attempt);
                assert!(
                    wait >= middle / 2 && wait < middle * 3 / 2,
                    "attempt {attempt}: {wait:?}"
                );
            }
        }
    }
}
