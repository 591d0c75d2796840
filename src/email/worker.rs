//! The queue's workers: claim what is due, send it through the route with several
//! requests in flight, record each result. A worker that dies mid-send loses nothing:
//! its claim's lease runs out and the email is claimed again.

use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use serde_json::json;
use tokio::sync::watch;

use super::{Delivery, Outgoing, Transport, backoff, message};
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::token::Token;
use crate::service::{Doorman, ServiceError};
use crate::store::{ClaimedEmail, EmailResult};

/// How often the reminder schedule is looked at (new invitations are what change it,
/// and reminders are counted in days), and old webhook event ids forgotten.
const REMINDER_CHECK: Duration = Duration::from_secs(60);

/// How long applied webhook event ids are remembered (SendGrid retries a delivery for
/// up to a day or so; a week leaves room).
const WEBHOOK_MEMORY: chrono::Duration = chrono::Duration::days(7);

/// A token this close to expiry is replaced before it is emailed.
const MIN_TOKEN_LIFE: chrono::Duration = chrono::Duration::hours(1);

/// What to do with a claimed email before any sending.
enum Prepared {
    Ready(Box<Outgoing>),
    Skip(EmailResult, NewEvent),
}

impl Doorman {
    /// Sends every email that is due now (not those waiting for a retry later), and
    /// returns how many it handled. The background workers call it in a loop; tests and
    /// the CLI call it directly.
    pub async fn deliver_due_emails(&self) -> Result<usize, ServiceError> {
        self.deliver_while(|| true).await
    }

    async fn deliver_while(&self, keep_going: impl Fn() -> bool) -> Result<usize, ServiceError> {
        let mut total = 0;
        while keep_going() {
            let handled = self.deliver_round().await?;
            if handled == 0 {
                break;
            }
            total += handled;
        }
        Ok(total)
    }

    /// One claim's worth: up to `concurrency` sends (SendGrid batches or single emails).
    async fn deliver_round(&self) -> Result<usize, ServiceError> {
        let mailer = self.mailer();
        let settings = &mailer.settings;
        let per_send = match mailer.transport {
            Transport::SendGrid(_) => settings.batch_size,
            _ => 1,
        };
        let claim = claim_token();
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
        let mut ready: Vec<(ClaimedEmail, Outgoing)> = Vec::new();
        for email in claimed {
            match self.prepare(&email).await? {
                Prepared::Ready(outgoing) => ready.push((email, *outgoing)),
                Prepared::Skip(result, event) => skipped.push((email, result, Some(event))),
            }
        }
        if !skipped.is_empty() {
            self.store().finish_emails(&claim, &skipped).await?;
        }

        // Invitations and reminders read differently, so a SendGrid batch holds one kind.
        let mut jobs: Vec<Vec<(ClaimedEmail, Outgoing)>> = Vec::new();
        // SendGrid refuses a request that names one address twice, so a second email to
        // the same address (a forced resend while the first is still queued) waits for
        // a request of its own.
        for kind in ["invitation", "reminder"] {
            let mut pending: Vec<(ClaimedEmail, Outgoing)> = ready
                .iter()
                .filter(|(e, _)| e.kind == kind)
                .cloned()
                .collect();
            while !pending.is_empty() {
                let mut job = Vec::new();
                let mut addresses = std::collections::HashSet::new();
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
        let claim = &claim;
        let mut sends = futures::stream::iter(jobs)
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

    async fn prepare(&self, email: &ClaimedEmail) -> Result<Prepared, ServiceError> {
        let skip = |result: EmailResult, reason: &str| {
            let event = NewEvent::new(EventKind::EmailCancelled, Actor::System)
                .detail(json!({ "email_id": email.id, "kind": email.kind, "reason": reason }));
            let event = match email.invitee_id {
                Some(id) => event.invitee(id),
                None => event,
            };
            Ok(Prepared::Skip(result, event))
        };
        let (Some(invitee_id), Some(verified)) = (email.invitee_id, email.is_verified) else {
            let reason = "the invitee was deleted";
            return skip(
                EmailResult::Cancelled {
                    reason: reason.into(),
                },
                reason,
            );
        };
        if verified {
            let reason = "the invitee verified before the email was sent";
            return skip(
                EmailResult::Cancelled {
                    reason: reason.into(),
                },
                reason,
            );
        }
        let now = self.now();
        let current = match (&email.token_sealed, email.token_expires_at) {
            (Some(sealed), Some(expires)) if expires - now > MIN_TOKEN_LIFE => {
                match self.keys().open(sealed, invitee_id) {
                    Ok(token) => Some((token, expires)),
                    Err(e) => {
                        let error = e.to_string();
                        let event = NewEvent::new(EventKind::EmailFailed, Actor::System)
                            .invitee(invitee_id)
                            .detail(
                                json!({ "email_id": email.id, "kind": email.kind, "error": error }),
                            );
                        return Ok(Prepared::Skip(EmailResult::Failed { error }, event));
                    }
                }
            }
            _ => None,
        };
        // A reminder after the token expired carries a fresh one.
        let (token, expires): (Token, _) = match current {
            Some(pair) => pair,
            None => match self.refresh_token(invitee_id, Actor::System).await {
                Ok(issued) => (issued.token, issued.expires_at),
                Err(ServiceError::NotFound) => {
                    let reason = "the invitee was deleted";
                    return skip(
                        EmailResult::Cancelled {
                            reason: reason.into(),
                        },
                        reason,
                    );
                }
                Err(e) => return Err(e),
            },
        };
        let name = email
            .invitee_name
            .clone()
            .unwrap_or_else(|| email.recipient_name.clone());
        let values = self.mailer().values(
            &name,
            &email.recipient,
            &token.grouped(),
            expires,
            email.kind == "reminder",
            self.now(),
        );
        Ok(Prepared::Ready(Box::new(Outgoing {
            to: email.recipient.clone(),
            values,
            invitee_id: Some(invitee_id),
            email_id: Some(email.id),
        })))
    }

    /// Sends one job (a SendGrid batch, or one email) and records what became of it.
    async fn send_job(
        &self,
        claim: &str,
        job: Vec<(ClaimedEmail, Outgoing)>,
    ) -> Result<(), ServiceError> {
        let mailer = self.mailer();
        let outgoing: Vec<Outgoing> = job.iter().map(|(_, o)| o.clone()).collect();
        let mut rendered = None;
        let deliveries = match &mailer.transport {
            Transport::SendGrid(sendgrid) => {
                let first = &outgoing[0].values;
                let subject =
                    message::subject(&mailer.settings.subject, &first.community, first.reminder);
                let body = sendgrid.request(&mailer.templates, &subject, &outgoing);
                sendgrid.send(&body, outgoing.len()).await
            }
            Transport::Smtp(smtp) => {
                let email = mailer.render(&outgoing[0].values);
                let to = &outgoing[0];
                vec![smtp.send(&to.to, &to.values.name, &email).await]
            }
            Transport::Outbox => {
                let email = mailer.render(&outgoing[0].values);
                rendered = Some((email.subject, email.html, email.text));
                vec![Delivery::Accepted { message_id: None }]
            }
        };
        let now = self.now();
        let results: Vec<_> = job
            .into_iter()
            .zip(deliveries)
            .map(|((email, _), delivery)| {
                let (result, event) = self.result_of(&email, &delivery, rendered.clone(), now);
                (email, result, event)
            })
            .collect();
        self.store().finish_emails(claim, &results).await?;
        Ok(())
    }

    fn result_of(
        &self,
        email: &ClaimedEmail,
        delivery: &Delivery,
        rendered: Option<(String, String, String)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (EmailResult, Option<NewEvent>) {
        let settings = &self.mailer().settings;
        let event = |kind, detail: serde_json::Value| {
            let mut event = NewEvent::new(kind, Actor::System).detail(detail);
            event.invitee_id = email.invitee_id;
            Some(event)
        };
        let route = self.mailer().route();
        match delivery {
            Delivery::Accepted { message_id } => (
                EmailResult::Sent {
                    message_id: message_id.clone(),
                    rendered,
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
                (
                    EmailResult::Retry {
                        error: error.clone(),
                        at,
                    },
                    None,
                )
            }
            Delivery::Transient { error, .. } => {
                let error = format!("gave up after {} attempts: {error}", email.attempts);
                let detail = json!({ "email_id": email.id, "kind": email.kind, "route": route, "error": error });
                (
                    EmailResult::Failed { error },
                    event(EventKind::EmailFailed, detail),
                )
            }
            Delivery::Permanent { error } => {
                let detail = json!({ "email_id": email.id, "kind": email.kind, "route": route, "error": error });
                (
                    EmailResult::Failed {
                        error: error.clone(),
                    },
                    event(EventKind::EmailFailed, detail),
                )
            }
        }
    }
}

/// A claim's secret name: only the worker that made the claim can record its results.
fn claim_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the queue in the background until `stop` turns true: delivers what is due when
/// woken (emails were queued) or every poll interval, and queues reminders when due.
/// On stop it finishes the round in flight and claims nothing new.
pub fn spawn(doorman: Doorman, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let wake = doorman.mailer().wake.clone();
        let poll = doorman.mailer().settings.poll_interval;
        let mut next_reminders = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if tokio::time::Instant::now() >= next_reminders {
                if !doorman.mailer().settings.reminder_days.is_empty()
                    && let Err(e) = doorman.queue_due_reminders().await
                {
                    tracing::error!(error = %e, "could not queue reminders");
                }
                let forget_before = doorman.now() - WEBHOOK_MEMORY;
                if let Err(e) = doorman.store().prune_webhook_events(forget_before).await {
                    tracing::warn!(error = %e, "could not prune old webhook event ids");
                }
                next_reminders = tokio::time::Instant::now() + REMINDER_CHECK;
            }
            let stopping = stop.clone();
            if let Err(e) = doorman.deliver_while(|| !*stopping.borrow()).await {
                tracing::error!(error = %e, "email delivery failed; retrying shortly");
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    })
}
