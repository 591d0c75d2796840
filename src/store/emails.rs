//! The email queue, which is also the local outbox and the record of what was sent.
//!
//! Work lives here rather than in memory so any replica can pick it up after a crash:
//! a worker claims due emails with a lease (and a claim token it alone knows), sends them,
//! and records each result only under its own claim.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{BeginWrite, Result, Store, events::insert_event, on_pool};
use crate::domain::event::NewEvent;

/// One invitation to queue, with the fresh token that goes with it.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub invitee_id: i64,
    pub recipient: String,
    pub recipient_name: String,
    pub token_hash: String,
    pub token_sealed: String,
    pub token_expires_at: DateTime<Utc>,
    pub events: Vec<NewEvent>,
}

/// The conditions under which an invitation may be queued, checked in the same statement
/// that issues the token, so two requests at once cannot both pass them.
#[derive(Debug, Clone, Copy)]
pub struct QueueRules {
    /// An invitee emailed after this moment is in its cooldown.
    pub cooldown_since: DateTime<Utc>,
    /// Whether bounced and dropped addresses are emailed anyway.
    pub allow_bounced: bool,
}

/// A claimed email with what is needed to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedEmail {
    pub id: i64,
    pub invitee_id: Option<i64>,
    pub kind: String,
    pub recipient: String,
    pub recipient_name: String,
    pub attempts: i32,
    pub invitee_name: Option<String>,
    pub is_verified: Option<bool>,
    pub token_hash: Option<String>,
    pub token_sealed: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// What became of one claimed email.
#[derive(Debug, Clone)]
pub enum EmailResult {
    Sent {
        message_id: Option<String>,
        /// The outbox keeps the email itself.
        rendered: Option<(String, String, String)>,
    },
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    Failed {
        error: String,
    },
    /// Not sent and never will be (the invitee verified meanwhile, or was deleted).
    Cancelled {
        reason: String,
    },
}

/// An email as `GET /api/emails` shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct EmailRecord {
    pub id: i64,
    pub invitee_id: Option<i64>,
    /// `invitation`, `reminder` or `test`.
    pub kind: String,
    pub recipient: String,
    /// `queued`, `sent`, `failed`, `cancelled`, `delivered`, `bounced`, `dropped` or `deferred`.
    pub status: String,
    /// `sendgrid`, `smtp` or `outbox`.
    pub route: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub provider_message_id: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Outbox emails only: the email as the invitee would have received it.
    pub subject: Option<String>,
    pub html_body: Option<String>,
    pub text_body: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EmailFilter {
    pub status: Option<String>,
    pub batch_id: Option<String>,
    pub invitee_id: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// Where a batch of emails stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub sent: i64,
    pub failed: i64,
    pub queued: i64,
    pub cancelled: i64,
}

/// What a webhook event changes.
#[derive(Debug, Clone)]
pub struct WebhookChange {
    pub event_id: String,
    pub email_id: Option<i64>,
    pub invitee_id: i64,
    /// The new status, or None to only note the error (a deferral).
    pub status: Option<&'static str>,
    pub error: Option<String>,
    pub event: NewEvent,
}

const EMAIL_COLUMNS: &str = "id, invitee_id, kind, recipient, status, route, attempts, last_error, \
     provider_message_id, next_attempt_at, created_at, updated_at, sent_at, subject, html_body, text_body";

/// Statuses a provider's report may not overwrite with a happier one.
const FINAL_BAD: &str = "('bounced', 'dropped')";

impl Store {
    /// Issues each invitee its token and queues its invitation, all in one transaction;
    /// returns the email id per item, or None where the invitee no longer qualified (it
    /// verified, was deleted, or another request emailed it first).
    pub async fn queue_invitations(
        &self,
        items: &[QueueItem],
        rules: QueueRules,
        route: &str,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<i64>>> {
        let update = format!(
            "UPDATE invitees SET token_hash = $1, token_sealed = $2, token_created_at = $3, \
             token_expires_at = $4, email_status = 'queued', email_error = NULL, email_queued_at = $3, \
             invited_at = $3, invitation_seq = invitation_seq + 1, updated_at = $3 \
             WHERE id = $5 AND is_verified = FALSE \
             AND (email_queued_at IS NULL OR email_queued_at <= $6) \
             AND ($7 OR email_status NOT IN {FINAL_BAD})"
        );
        let insert = "INSERT INTO emails (invitee_id, kind, recipient, recipient_name, status, route, \
             batch_id, next_attempt_at, created_at, updated_at) \
             VALUES ($1, 'invitation', $2, $3, 'queued', $4, $5, $6, $6, $6) RETURNING id";
        let mut ids = Vec::with_capacity(items.len());
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for item in items {
                let updated = sqlx::query(&update)
                    .bind(&item.token_hash)
                    .bind(&item.token_sealed)
                    .bind(now)
                    .bind(item.token_expires_at)
                    .bind(item.invitee_id)
                    .bind(rules.cooldown_since)
                    .bind(rules.allow_bounced)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    ids.push(None);
                    continue;
                }
                let id: i64 = sqlx::query_scalar(insert)
                    .bind(item.invitee_id)
                    .bind(&item.recipient)
                    .bind(&item.recipient_name)
                    .bind(route)
                    .bind(batch_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                for event in &item.events {
                    let mut event = event.clone();
                    event.detail["email_id"] = id.into();
                    insert_event!(&mut *tx, &event, now).await?;
                }
                ids.push(Some(id));
            }
            tx.commit().await?;
        });
        Ok(ids)
    }

    /// Queues the reminder due on `day` for every unverified invitee invited between
    /// `invited_after` and `invited_before`; each (invitee, day, invitation) at most once,
    /// whoever else runs this at the same time. Returns how many were queued.
    #[allow(clippy::too_many_arguments)]
    pub async fn queue_reminders(
        &self,
        day: u32,
        invited_after: DateTime<Utc>,
        invited_before: DateTime<Utc>,
        route: &str,
        batch_id: &str,
        now: DateTime<Utc>,
        event: &NewEvent,
    ) -> Result<u64> {
        let insert = format!(
            "INSERT INTO emails (invitee_id, kind, recipient, recipient_name, status, route, batch_id, \
             next_attempt_at, dedupe_key, created_at, updated_at) \
             SELECT id, 'reminder', email, name, 'queued', $1, $2, $3, \
             'reminder:' || CAST(id AS TEXT) || ':' || $4 || ':' || CAST(invitation_seq AS TEXT), $3, $3 \
             FROM invitees WHERE is_verified = FALSE AND invited_at IS NOT NULL \
             AND invited_at > $5 AND invited_at <= $6 AND email_status NOT IN {FINAL_BAD} \
             ON CONFLICT (dedupe_key) DO NOTHING"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let queued = sqlx::query(&insert)
                .bind(route)
                .bind(batch_id)
                .bind(now)
                .bind(day.to_string())
                .bind(invited_after)
                .bind(invited_before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if queued > 0 {
                sqlx::query(
                    "UPDATE invitees SET email_status = 'queued', email_queued_at = $1, updated_at = $1 \
                     WHERE id IN (SELECT invitee_id FROM emails WHERE batch_id = $2)",
                )
                .bind(now)
                .bind(batch_id)
                .execute(&mut *tx)
                .await?;
                let ids: Vec<(i64, Option<i64>)> =
                    sqlx::query_as("SELECT id, invitee_id FROM emails WHERE batch_id = $1")
                        .bind(batch_id)
                        .fetch_all(&mut *tx)
                        .await?;
                for (email_id, invitee_id) in ids {
                    let mut event = event.clone();
                    event.invitee_id = invitee_id;
                    event.detail["email_id"] = email_id.into();
                    insert_event!(&mut *tx, &event, now).await?;
                }
            }
            tx.commit().await?;
            Ok(queued)
        })
    }

    /// Records an email that is sent at once rather than queued (a test email).
    pub async fn record_sent_email(
        &self,
        kind: &str,
        recipient: &str,
        route: &str,
        message_id: Option<&str>,
        rendered: Option<(&str, &str, &str)>,
        event: &NewEvent,
    ) -> Result<i64> {
        let now = crate::domain::now();
        let (subject, html, text) = match rendered {
            Some((s, h, t)) => (Some(s), Some(h), Some(t)),
            None => (None, None, None),
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO emails (kind, recipient, recipient_name, status, route, batch_id, attempts, \
                 next_attempt_at, provider_message_id, subject, html_body, text_body, created_at, updated_at, sent_at) \
                 VALUES ($1, $2, '', 'sent', $3, 'test', 1, $4, $5, $6, $7, $8, $4, $4, $4) RETURNING id",
            )
            .bind(kind)
            .bind(recipient)
            .bind(route)
            .bind(now)
            .bind(message_id)
            .bind(subject)
            .bind(html)
            .bind(text)
            .fetch_one(&mut *tx)
            .await?;
            insert_event!(&mut *tx, event, now).await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Claims up to `limit` due emails for `lease` under `claim`, and returns them with
    /// their invitees' current state. On PostgreSQL, replicas claiming at once skip each
    /// other's rows instead of waiting for them; the outer conditions repeat the inner
    /// ones so a row claimed by someone else in between is never taken twice.
    pub async fn claim_due_emails(
        &self,
        claim: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedEmail>> {
        let lock = match self {
            Store::Sqlite(_) => "",
            Store::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let due = "status = 'queued' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)";
        let claim_sql = format!(
            "UPDATE emails SET lease_until = $1, lease_token = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM emails WHERE {due} ORDER BY next_attempt_at, id LIMIT $4{lock}) \
             AND {due}"
        );
        let select = "SELECT e.id, e.invitee_id, e.kind, e.recipient, e.recipient_name, e.attempts, \
             i.name AS invitee_name, i.is_verified, i.token_hash, i.token_sealed, i.token_expires_at \
             FROM emails e LEFT JOIN invitees i ON i.id = e.invitee_id \
             WHERE e.lease_token = $1 AND e.status = 'queued' ORDER BY e.id";
        on_pool!(self, pool => {
            let claimed = sqlx::query(&claim_sql)
                .bind(lease_until)
                .bind(claim)
                .bind(now)
                .bind(limit)
                .execute(pool)
                .await?
                .rows_affected();
            if claimed == 0 {
                return Ok(Vec::new());
            }
            Ok(sqlx::query_as(select).bind(claim).fetch_all(pool).await?)
        })
    }

    /// Records what became of claimed emails, in one transaction. A result whose claim was
    /// lost (its lease ran out and another worker took the email) is dropped.
    pub async fn finish_emails(
        &self,
        claim: &str,
        results: &[(ClaimedEmail, EmailResult, Option<NewEvent>)],
    ) -> Result<()> {
        let now = crate::domain::now();
        // The invitee's status follows its newest email only, and a report of success
        // never replaces what the provider's webhook already said.
        let invitee_guard =
            "id = $1 AND NOT EXISTS (SELECT 1 FROM emails n WHERE n.invitee_id = $1 AND n.id > $2)";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for (email, result, event) in results {
                let mine = "id = $1 AND lease_token = $2 AND status = 'queued'";
                let (updated, invitee_update): (u64, Option<(&str, Option<&str>)>) = match result {
                    EmailResult::Sent { message_id, rendered } => {
                        let (subject, html, text) = match rendered {
                            Some((s, h, t)) => (Some(s.as_str()), Some(h.as_str()), Some(t.as_str())),
                            None => (None, None, None),
                        };
                        let n = sqlx::query(&format!(
                            "UPDATE emails SET status = 'sent', sent_at = $3, updated_at = $3, lease_until = NULL, \
                             last_error = NULL, provider_message_id = $4, subject = $5, html_body = $6, text_body = $7 \
                             WHERE {mine}"
                        ))
                        .bind(email.id).bind(claim).bind(now).bind(message_id.as_deref())
                        .bind(subject).bind(html).bind(text)
                        .execute(&mut *tx).await?.rows_affected();
                        (n, Some(("sent", None)))
                    }
                    EmailResult::Retry { error, at } => {
                        let n = sqlx::query(&format!(
                            "UPDATE emails SET lease_until = NULL, lease_token = NULL, last_error = $3, \
                             next_attempt_at = $4, updated_at = $5 WHERE {mine}"
                        ))
                        .bind(email.id).bind(claim).bind(error).bind(*at).bind(now)
                        .execute(&mut *tx).await?.rows_affected();
                        (n, Some(("queued", Some(error.as_str()))))
                    }
                    EmailResult::Failed { error } => {
                        let n = sqlx::query(&format!(
                            "UPDATE emails SET status = 'failed', lease_until = NULL, last_error = $3, updated_at = $4 \
                             WHERE {mine}"
                        ))
                        .bind(email.id).bind(claim).bind(error).bind(now)
                        .execute(&mut *tx).await?.rows_affected();
                        (n, Some(("failed", Some(error.as_str()))))
                    }
                    EmailResult::Cancelled { reason } => {
                        let n = sqlx::query(&format!(
                            "UPDATE emails SET status = 'cancelled', lease_until = NULL, last_error = $3, updated_at = $4 \
                             WHERE {mine}"
                        ))
                        .bind(email.id).bind(claim).bind(reason).bind(now)
                        .execute(&mut *tx).await?.rows_affected();
                        (n, None)
                    }
                };
                if updated == 0 {
                    continue;
                }
                if let (Some(invitee_id), Some((status, error))) = (email.invitee_id, invitee_update) {
                    sqlx::query(&format!(
                        "UPDATE invitees SET email_status = $3, email_error = $4, updated_at = $5 \
                         WHERE {invitee_guard} AND email_status IN ('queued', 'failed', 'not_sent')"
                    ))
                    .bind(invitee_id).bind(email.id).bind(status).bind(error).bind(now)
                    .execute(&mut *tx).await?;
                }
                if let Some(event) = event {
                    insert_event!(&mut *tx, event, now).await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// How many of a batch's emails are in each state.
    pub async fn batch_counts(&self, batch_id: &str) -> Result<BatchCounts> {
        let rows: Vec<(String, i64)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT status, COUNT(*) FROM emails WHERE batch_id = $1 GROUP BY status")
                .bind(batch_id)
                .fetch_all(pool)
                .await?
        });
        let mut counts = BatchCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "queued" => counts.queued += n,
                "failed" => counts.failed += n,
                "cancelled" => counts.cancelled += n,
                _ => counts.sent += n,
            }
        }
        Ok(counts)
    }

    /// Emails newest first.
    pub async fn emails(&self, filter: &EmailFilter) -> Result<Vec<EmailRecord>> {
        let sql = format!(
            "SELECT {EMAIL_COLUMNS} FROM emails WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR invitee_id = $2) AND ($5 IS NULL OR batch_id = $5) \
             ORDER BY id DESC LIMIT $3 OFFSET $4"
        );
        Ok(on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(filter.status.as_deref())
                .bind(filter.invitee_id)
                .bind(filter.limit)
                .bind(filter.offset)
                .bind(filter.batch_id.as_deref())
                .fetch_all(pool)
                .await?
        }))
    }

    /// Forgets the ids of webhook events received before `before`: SendGrid stops
    /// redelivering an event long before then, so the table stays small.
    pub async fn prune_webhook_events(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM webhook_events WHERE received_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Applies one provider event, once: false if this event id was applied before.
    pub async fn apply_webhook_change(&self, change: &WebhookChange) -> Result<bool> {
        let now = crate::domain::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let fresh = sqlx::query(
                "INSERT INTO webhook_events (event_id, received_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&change.event_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if fresh == 0 {
                return Ok(false);
            }
            // Bounces and drops are final; "delivered" arriving after one changes nothing.
            let keep_bad = match change.status {
                Some("bounced" | "dropped") => String::new(),
                _ => format!(" AND status NOT IN {FINAL_BAD}"),
            };
            let status = change.status;
            if let Some(email_id) = change.email_id {
                sqlx::query(&format!(
                    "UPDATE emails SET status = COALESCE($1, status), last_error = COALESCE($2, last_error), \
                     updated_at = $3 WHERE id = $4 AND invitee_id = $5 AND status <> 'queued'{keep_bad}"
                ))
                .bind(status)
                .bind(change.error.as_deref())
                .bind(now)
                .bind(email_id)
                .bind(change.invitee_id)
                .execute(&mut *tx)
                .await?;
            }
            let keep_bad = keep_bad.replace("status", "email_status");
            // The invitee's status is its latest email's: an event changes it only if it
            // names that email, and that email is this invitee's. A late or replayed
            // event about an earlier email (or one without an email id, or naming
            // another invitee's) is kept with that email and in the log, nowhere else.
            sqlx::query(&format!(
                "UPDATE invitees SET email_status = COALESCE($1, email_status), \
                 email_error = CASE WHEN $2 IS NULL AND $1 = 'delivered' THEN NULL ELSE COALESCE($2, email_error) END, \
                 updated_at = $3 WHERE id = $4 AND email_status <> 'queued'{keep_bad} \
                 AND $5 = (SELECT MAX(n.id) FROM emails n WHERE n.invitee_id = $4)"
            ))
            .bind(status)
            .bind(change.error.as_deref())
            .bind(now)
            .bind(change.invitee_id)
            .bind(change.email_id)
            .execute(&mut *tx)
            .await?;
            insert_event!(&mut *tx, &change.event, now).await?;
            tx.commit().await?;
            Ok(true)
        })
    }
}
