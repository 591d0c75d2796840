//! Queueing invitations and following a batch until it is sent.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use super::{QueuedBatch, SendReport, Skipped};
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::invitee::Invitee;
use crate::domain::invitee_status::InviteeSelection;
use crate::domain::token::{Token, random_hex};
use crate::domain::{EmailKind, MailState, ResendRules, SkipReason};
use crate::service::{Doorman, ServiceError};
use crate::store::{EmailFilter, EmailRecord, InviteeFilter, QueueItem};

/// Rows per queueing transaction: long enough to be quick, short enough not to hold
/// SQLite's write lock for long.
const QUEUE_CHUNK: usize = 500;

/// Who is to be emailed.
#[derive(Debug, Clone)]
pub enum Recipients {
    Ids(Vec<i64>),
    AllUnverified,
    /// Everyone an admin's selection (search and status tab) holds when queueing.
    Matching(InviteeSelection),
}

/// What queueing invitations would do now, before anything is written.
#[derive(Debug, Clone)]
pub struct InvitationPreview {
    /// How many would really be emailed.
    pub to_email: usize,
    pub skipped: Vec<Skipped>,
}

/// A batch's name, shared by its emails.
pub(super) fn new_batch_id() -> String {
    random_hex(12)
}

impl Doorman {
    /// Issues each chosen unverified invitee a fresh token and queues one invitation for
    /// it, in the same transaction; the workers are woken to send them.
    #[tracing::instrument(skip_all, fields(force = force, queued, skipped))]
    pub async fn queue_invitations(
        &self,
        recipients: Recipients,
        force: bool,
        actor: Actor,
    ) -> Result<QueuedBatch, ServiceError> {
        let now = self.now();
        let rules = ResendRules {
            cooldown: self.email_settings().resend_cooldown,
            force,
        };
        let (invitees, skipped) = self.chosen_invitees(recipients).await?;
        // Judged again when queued; this spares a token for those plainly left out.
        let (invitees, mut skipped) = sort_out(invitees, skipped, rules, now);
        let route = self.email().route();
        let mut items = Vec::new();
        for invitee in invitees {
            let token = Token::generate(self.inner.token_length);
            let expires_at = now + self.inner.token_expiry;
            let events = vec![
                NewEvent::new(EventKind::TokenIssued, actor.clone())
                    .invitee(invitee.id)
                    .detail(json!({ "expires_at": expires_at, "reason": "invitation" })),
                NewEvent::new(EventKind::EmailQueued, actor.clone())
                    .invitee(invitee.id)
                    .detail(
                        json!({ "kind": EmailKind::Invitation, "route": route, "forced": force }),
                    ),
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
        let mut queued = 0;
        for chunk in items.chunks(QUEUE_CHUNK) {
            let outcomes = self
                .store()
                .queue_invitations(chunk, rules, route, &batch_id, now)
                .await?;
            for (item, outcome) in chunk.iter().zip(outcomes) {
                match outcome {
                    Ok(_) => queued += 1,
                    // It changed between our read and the write.
                    Err(reason) => skipped.push(Skipped {
                        id: item.invitee_id,
                        email: Some(item.recipient.clone()),
                        reason,
                    }),
                }
            }
        }
        if queued > 0 {
            self.email().note_queued();
        }
        let span = tracing::Span::current();
        span.record("queued", queued);
        span.record("skipped", skipped.len());
        Ok(QueuedBatch {
            batch_id,
            queued,
            skipped,
        })
    }

    /// What [`Doorman::queue_invitations`] would do now with these recipients: the same
    /// choice and the same rules, with nothing written and nothing sent.
    #[tracing::instrument(skip_all, fields(force = force))]
    pub async fn preview_invitations(
        &self,
        recipients: Recipients,
        force: bool,
    ) -> Result<InvitationPreview, ServiceError> {
        let rules = ResendRules {
            cooldown: self.email_settings().resend_cooldown,
            force,
        };
        let (invitees, skipped) = self.chosen_invitees(recipients).await?;
        let (invitees, skipped) = sort_out(invitees, skipped, rules, self.now());
        Ok(InvitationPreview {
            to_email: invitees.len(),
            skipped,
        })
    }

    /// The invitees asked for, and those asked for that cannot be.
    async fn chosen_invitees(
        &self,
        recipients: Recipients,
    ) -> Result<(Vec<Invitee>, Vec<Skipped>), ServiceError> {
        let mut skipped = Vec::new();
        let ids = match recipients {
            Recipients::AllUnverified => {
                let filter = InviteeFilter {
                    verified: Some(false),
                    ..Default::default()
                };
                return Ok((self.store().list_invitees(&filter).await?, skipped));
            }
            Recipients::Matching(selection) => {
                let found = self
                    .store()
                    .selected_invitees(&selection, self.now())
                    .await?;
                return Ok((found, skipped));
            }
            Recipients::Ids(ids) => ids,
        };
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for id in ids {
            let reason = if !seen.insert(id) {
                SkipReason::Duplicate
            } else if let Some(invitee) = self.store().invitee(id).await? {
                found.push(invitee);
                continue;
            } else {
                SkipReason::NotFound
            };
            skipped.push(Skipped {
                id,
                email: None,
                reason,
            });
        }
        Ok((found, skipped))
    }

    /// Where a queued batch stands now.
    #[tracing::instrument(skip_all, fields(batch_id = %batch.batch_id))]
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
            skipped: batch.skipped.clone(),
            batch_id: batch.batch_id.clone(),
        })
    }

    /// Queues invitations and waits up to `wait` for the workers to send them, so a small
    /// batch answers with its outcome and a large one does not hold the caller. The
    /// batch is looked at again each time this process records sends.
    #[tracing::instrument(skip_all, fields(force = force))]
    pub async fn send_invitations(
        &self,
        recipients: Recipients,
        force: bool,
        actor: Actor,
        wait: Duration,
    ) -> Result<SendReport, ServiceError> {
        let mut recorded = self.email().recorded.subscribe();
        let mut stopping = self.sending_stopped();
        let batch = self.queue_invitations(recipients, force, actor).await?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            recorded.mark_unchanged();
            let report = self.batch_report(&batch).await?;
            // Shutting down, nothing more will be sent here: the rest stays queued.
            if report.emails_queued == 0
                || tokio::time::Instant::now() >= deadline
                || *stopping.borrow_and_update()
            {
                return Ok(report);
            }
            // The senders live as long as `self`, so the wait ends with news or the deadline.
            let _ = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    _ = recorded.changed() => {}
                    _ = stopping.changed() => {}
                }
            })
            .await;
        }
    }

    /// The queue and the outbox, newest first.
    #[tracing::instrument(skip_all, fields(limit = filter.limit, offset = filter.offset))]
    pub async fn list_emails(
        &self,
        filter: &EmailFilter,
    ) -> Result<Vec<EmailRecord>, ServiceError> {
        Ok(self.store().emails(filter).await?)
    }
}

/// Splits the invitees into those the rules let through and those they skip (added to
/// `skipped`, with the reason).
fn sort_out(
    invitees: Vec<Invitee>,
    mut skipped: Vec<Skipped>,
    rules: ResendRules,
    now: chrono::DateTime<chrono::Utc>,
) -> (Vec<Invitee>, Vec<Skipped>) {
    let mut kept = Vec::with_capacity(invitees.len());
    for invitee in invitees {
        match rules.skip_reason(&mail_state(&invitee), now) {
            Some(reason) => skipped.push(Skipped {
                id: invitee.id,
                email: Some(invitee.email.into_string()),
                reason,
            }),
            None => kept.push(invitee),
        }
    }
    (kept, skipped)
}

fn mail_state(invitee: &Invitee) -> MailState {
    MailState {
        is_verified: invitee.is_verified,
        email_status: invitee.email_status,
        email_queued_at: invitee.email_queued_at,
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
