//! Sending invitations: choosing who gets one, queueing it with a fresh token, reporting
//! what happened; test emails; reminders; what SendGrid's webhook reports.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{Doorman, ServiceError};
use crate::domain::Email;
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::invitee::Invitee;
use crate::domain::token::Token;
use crate::email::webhook::{self, Event};
use crate::email::{Outgoing, Transport, message};
use crate::store::{InviteeFilter, QueueItem, QueueRules, WebhookChange};

/// Rows per queueing transaction: long enough to be quick, short enough not to hold
/// SQLite's write lock for long.
const QUEUE_CHUNK: usize = 500;

/// Who is to be emailed.
#[derive(Debug, Clone)]
pub enum Recipients {
    Ids(Vec<i64>),
    AllUnverified,
}

/// An invitee left out of a batch, and why: `not_found`, `already_verified`, `duplicate`
/// (listed twice), `cooldown` (emailed within RESEND_COOLDOWN_MINUTES), `bounced`,
/// `dropped`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Skipped {
    pub id: i64,
    pub email: Option<String>,
    #[schema(example = "cooldown")]
    pub reason: &'static str,
}

/// What was queued.
#[derive(Debug, Clone)]
pub struct QueuedBatch {
    pub batch_id: String,
    pub queued: usize,
    pub skipped: Vec<Skipped>,
}

/// The answer of `POST /api/send-emails` and `doorman send-emails`: what is done and what
/// is still queued (the workers go on sending it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SendReport {
    /// False if any email failed.
    pub success: bool,
    #[schema(example = "2 emails sent, 0 failed, 0 still queued; 1 skipped")]
    pub message: String,
    pub emails_sent: i64,
    pub emails_failed: i64,
    /// Still queued when the answer was given (being sent, or waiting for a retry).
    pub emails_queued: i64,
    pub emails_skipped: usize,
    pub skipped: Vec<Skipped>,
    /// Identifies the batch's emails in `GET /api/emails`.
    pub batch_id: String,
}

/// What the provider answered to a test email, exactly.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestReport {
    pub success: bool,
    /// `sendgrid`, `smtp` or `outbox`.
    pub route: &'static str,
    pub to: String,
    /// The HTTP status (SendGrid) or SMTP reply code.
    pub status: Option<u16>,
    /// The provider's answer as received (SendGrid's body, the SMTP reply, or the error).
    pub provider_response: String,
    pub message_id: Option<String>,
    /// The stored email (the outbox keeps it, rendered).
    pub email_id: Option<i64>,
}

/// What a webhook delivery did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct WebhookReport {
    pub received: usize,
    pub applied: usize,
    /// Events applied before (SendGrid delivers some more than once).
    pub duplicates: usize,
    /// Events doorman does not track (opens, clicks...) or cannot match to an invitee.
    pub ignored: usize,
}

impl Doorman {
    /// Issues each chosen unverified invitee a fresh token and queues one invitation for
    /// it, in the same transaction; the workers are woken to send them.
    pub async fn queue_invitations(
        &self,
        recipients: Recipients,
        force: bool,
        actor: Actor,
    ) -> Result<QueuedBatch, ServiceError> {
        let now = self.now();
        let settings = &self.mailer().settings;
        let cooldown_since = if force {
            now
        } else {
            now - settings.resend_cooldown
        };
        let rules = QueueRules {
            cooldown_since,
            allow_bounced: force,
        };

        let mut skipped = Vec::new();
        let invitees: Vec<Invitee> = match recipients {
            Recipients::AllUnverified => {
                let filter = InviteeFilter {
                    verified: Some(false),
                    ..Default::default()
                };
                self.store().list_invitees(&filter).await?
            }
            Recipients::Ids(ids) => {
                let mut seen = HashSet::new();
                let mut found = Vec::new();
                for id in ids {
                    if !seen.insert(id) {
                        skipped.push(Skipped {
                            id,
                            email: None,
                            reason: "duplicate",
                        });
                        continue;
                    }
                    match self.store().invitee(id).await? {
                        Some(invitee) => found.push(invitee),
                        None => skipped.push(Skipped {
                            id,
                            email: None,
                            reason: "not_found",
                        }),
                    }
                }
                found
            }
        };

        let mut items = Vec::new();
        for invitee in invitees {
            if let Some(reason) = self.reason_to_skip(&invitee, rules) {
                skipped.push(Skipped {
                    id: invitee.id,
                    email: Some(invitee.email.into_string()),
                    reason,
                });
                continue;
            }
            let token = Token::generate(self.inner.token_length);
            let expires_at = now + self.inner.token_expiry;
            let events = vec![
                NewEvent::new(EventKind::TokenIssued, actor.clone())
                    .invitee(invitee.id)
                    .detail(json!({ "expires_at": expires_at, "reason": "invitation" })),
                NewEvent::new(EventKind::EmailQueued, actor.clone())
                    .invitee(invitee.id)
                    .detail(json!({ "kind": "invitation", "route": self.mailer().route(), "forced": force })),
            ];
            items.push(QueueItem {
                invitee_id: invitee.id,
                recipient: invitee.email.to_string(),
                recipient_name: invitee.name.clone(),
                token_hash: self.keys().hash(&token),
                token_sealed: self.keys().seal(&token, invitee.id),
                token_expires_at: expires_at,
                events,
            });
        }

        let batch_id = new_batch_id();
        let route = self.mailer().route();
        let mut queued = 0;
        for chunk in items.chunks(QUEUE_CHUNK) {
            let ids = self
                .store()
                .queue_invitations(chunk, rules, route, &batch_id, now)
                .await?;
            for (item, id) in chunk.iter().zip(ids) {
                if id.is_some() {
                    queued += 1;
                    continue;
                }
                // It changed between our read and the write: say why it was left out.
                let reason = match self.store().invitee(item.invitee_id).await? {
                    None => "not_found",
                    Some(current) => self.reason_to_skip(&current, rules).unwrap_or("cooldown"),
                };
                skipped.push(Skipped {
                    id: item.invitee_id,
                    email: Some(item.recipient.clone()),
                    reason,
                });
            }
        }
        if queued > 0 {
            self.mailer().wake.notify_one();
        }
        Ok(QueuedBatch {
            batch_id,
            queued,
            skipped,
        })
    }

    fn reason_to_skip(&self, invitee: &Invitee, rules: QueueRules) -> Option<&'static str> {
        if invitee.is_verified {
            return Some("already_verified");
        }
        if !rules.allow_bounced && invitee.email_status.refuses_mail() {
            return Some(invitee.email_status.as_str());
        }
        if invitee
            .email_queued_at
            .is_some_and(|at| at > rules.cooldown_since)
        {
            return Some("cooldown");
        }
        None
    }

    /// Where a queued batch stands now.
    pub async fn batch_report(&self, batch: &QueuedBatch) -> Result<SendReport, ServiceError> {
        let counts = self.store().batch_counts(&batch.batch_id).await?;
        let mut message = format!(
            "{} sent, {} failed, {} still queued",
            emails(counts.sent),
            counts.failed,
            counts.queued
        );
        if !batch.skipped.is_empty() {
            message.push_str(&format!("; {} skipped", batch.skipped.len()));
        }
        if counts.cancelled > 0 {
            message.push_str(&format!("; {} cancelled", counts.cancelled));
        }
        Ok(SendReport {
            success: counts.failed == 0,
            message,
            emails_sent: counts.sent,
            emails_failed: counts.failed,
            emails_queued: counts.queued,
            emails_skipped: batch.skipped.len(),
            skipped: batch.skipped.clone(),
            batch_id: batch.batch_id.clone(),
        })
    }

    /// Queues invitations and waits up to `wait` for the workers to send them, so a small
    /// batch answers with its outcome and a large one does not hold the caller.
    pub async fn send_invitations(
        &self,
        recipients: Recipients,
        force: bool,
        actor: Actor,
        wait: Duration,
    ) -> Result<SendReport, ServiceError> {
        let batch = self.queue_invitations(recipients, force, actor).await?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let report = self.batch_report(&batch).await?;
            if report.emails_queued == 0 || tokio::time::Instant::now() >= deadline {
                return Ok(report);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Queues the reminders that are due (REMINDER_DAYS after each invitation, to those
    /// who have not verified); each at most once, whichever replica looks. When a later
    /// reminder is due already, the earlier one is not sent any more.
    pub async fn queue_due_reminders(&self) -> Result<u64, ServiceError> {
        let days = self.mailer().settings.reminder_days.clone();
        let now = self.now();
        let mut queued = 0;
        for (i, day) in days.iter().enumerate() {
            let invited_before = now - chrono::Duration::days(i64::from(*day));
            let invited_after = match days.get(i + 1) {
                Some(next) => now - chrono::Duration::days(i64::from(*next)),
                None => chrono::DateTime::UNIX_EPOCH,
            };
            let event = NewEvent::new(EventKind::EmailQueued, Actor::System)
                .detail(json!({ "kind": "reminder", "day": day, "route": self.mailer().route() }));
            queued += self
                .store()
                .queue_reminders(
                    *day,
                    invited_after,
                    invited_before,
                    self.mailer().route(),
                    &new_batch_id(),
                    now,
                    &event,
                )
                .await?;
        }
        if queued > 0 {
            self.mailer().wake.notify_one();
        }
        Ok(queued)
    }

    /// Sends one sample email now through the configured route (not through the queue)
    /// and reports exactly what the provider answered. Its token is a random sample that
    /// opens nothing.
    pub async fn send_test_email(
        &self,
        to: &str,
        actor: Actor,
    ) -> Result<TestReport, ServiceError> {
        let to = Email::parse(to).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let mailer = self.mailer();
        let sample = Token::generate(self.inner.token_length);
        let expires = self.now() + self.inner.token_expiry;
        let values = mailer.values(
            "Test Recipient",
            to.as_str(),
            &sample.grouped(),
            expires,
            false,
            self.now(),
        );
        let email = mailer.render(&values);
        let mut report = TestReport {
            success: false,
            route: mailer.route(),
            to: to.to_string(),
            status: None,
            provider_response: String::new(),
            message_id: None,
            email_id: None,
        };
        let mut rendered = None;
        match &mailer.transport {
            Transport::SendGrid(sendgrid) => {
                let outgoing = Outgoing {
                    to: to.to_string(),
                    values,
                    invitee_id: None,
                    email_id: None,
                };
                let body = sendgrid.request(&mailer.templates, &email.subject, &[outgoing]);
                match sendgrid.post(&body).await {
                    Ok(answer) => {
                        report.success = (200..300).contains(&answer.status);
                        report.status = Some(answer.status);
                        report.provider_response = answer.body;
                        report.message_id = answer.message_id;
                    }
                    Err(e) => report.provider_response = crate::email::sendgrid::network_error(&e),
                }
            }
            Transport::Smtp(smtp) => {
                match smtp.send_raw(to.as_str(), "Test Recipient", &email).await {
                    Ok(reply) => {
                        report.success = (200..300).contains(&reply.code);
                        report.status = Some(reply.code);
                        report.provider_response = reply.message;
                    }
                    Err(
                        crate::email::Delivery::Transient { error, .. }
                        | crate::email::Delivery::Permanent { error },
                    ) => {
                        report.provider_response = error;
                    }
                    Err(crate::email::Delivery::Accepted { .. }) => {
                        unreachable!("errors are never acceptances")
                    }
                }
            }
            Transport::Outbox => {
                report.success = true;
                report.provider_response =
                    "stored in the local outbox; nothing left this machine".into();
                rendered = Some((
                    email.subject.as_str(),
                    email.html.as_str(),
                    email.text.as_str(),
                ));
            }
        }
        if report.success {
            let event = NewEvent::new(EventKind::TestEmailSent, actor)
                .detail(json!({ "to": report.to, "route": report.route }));
            let id = self
                .store()
                .record_sent_email(
                    "test",
                    to.as_str(),
                    report.route,
                    report.message_id.as_deref(),
                    rendered,
                    &event,
                )
                .await?;
            report.email_id = Some(id);
        }
        Ok(report)
    }

    /// The SendGrid webhook's verification key, if configured.
    pub fn webhook_key(&self) -> Option<&p256::ecdsa::VerifyingKey> {
        self.inner.webhook_key.as_ref()
    }

    /// Applies SendGrid events (already verified): each once, by its `sg_event_id`.
    pub async fn apply_sendgrid_events(
        &self,
        events: Vec<Event>,
    ) -> Result<WebhookReport, ServiceError> {
        let mut report = WebhookReport {
            received: events.len(),
            ..Default::default()
        };
        for event in events {
            let invitee_id = event.invitee_id.as_ref().and_then(|i| i.get());
            let (Some((status, error)), Some(invitee_id), Some(event_id)) = (
                webhook::effect(&event),
                invitee_id,
                event.sg_event_id.clone(),
            ) else {
                report.ignored += 1;
                continue;
            };
            let email_id = event.email_id.as_ref().and_then(|i| i.get());
            let kind = match event.event.as_str() {
                "delivered" => EventKind::EmailDelivered,
                "bounce" => EventKind::EmailBounced,
                "dropped" => EventKind::EmailDropped,
                _ => EventKind::EmailDeferred,
            };
            let log = NewEvent::new(kind, Actor::System)
                .invitee(invitee_id)
                .detail(json!({ "email_id": email_id, "sg_event_id": event_id, "reason": error }));
            let change = WebhookChange {
                event_id,
                email_id,
                invitee_id,
                status,
                error,
                event: log,
            };
            if self.store().apply_webhook_change(&change).await? {
                report.applied += 1;
            } else {
                report.duplicates += 1;
            }
        }
        Ok(report)
    }

    /// The email settings in force (route, waits...).
    pub fn email_settings(&self) -> &crate::config::EmailSettings {
        &self.mailer().settings
    }

    /// The subject line invitations carry.
    pub fn invitation_subject(&self) -> String {
        let s = &self.mailer().settings;
        message::subject(&s.subject, &s.community, false)
    }
}

/// "1 email", "2 emails".
fn emails(n: i64) -> String {
    if n == 1 {
        "1 email".into()
    } else {
        format!("{n} emails")
    }
}

fn new_batch_id() -> String {
    use rand::Rng;
    let mut bytes = [0u8; 12];
    rand::rng().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
