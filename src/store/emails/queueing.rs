//! Putting emails on the queue (invitations and reminders), and recording a test email
//! that was sent at once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{EmailBody, QueueItem, refusing_mail};
use crate::domain::event::NewEvent;
use crate::domain::{
    EmailKind, EmailState, EmailStatus, MailRoute, MailState, ResendRules, SkipReason,
};
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

impl Store {
    /// Issues each invitee its token and queues its invitation, all in one transaction;
    /// returns the email id per item, or why the invitee was left out. The invitees are
    /// read in the transaction (locked) and judged by `rules`, so two requests at once
    /// cannot both pass them.
    pub async fn queue_invitations(
        &self,
        items: &[QueueItem],
        rules: ResendRules,
        route: MailRoute,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<i64, SkipReason>>> {
        // One read per chunk, in the transaction that writes, with the rows locked.
        let (read, ids) = match self {
            Store::Sqlite(_) => (
                "SELECT id, is_verified, email_status, email_queued_at FROM invitees \
                 WHERE id IN (SELECT value FROM json_each($1))",
                id_list(items, '[', ']'),
            ),
            Store::Postgres(_) => (
                "SELECT id, is_verified, email_status, email_queued_at FROM invitees \
                 WHERE id = ANY(CAST($1 AS BIGINT[])) ORDER BY id FOR UPDATE",
                id_list(items, '{', '}'),
            ),
        };
        let update = "UPDATE invitees SET token_hash = $1, token_sealed = $2, token_created_at = $3, \
             token_expires_at = $4, email_status = $5, email_error = NULL, email_queued_at = $3, \
             invited_at = $3, invitation_seq = invitation_seq + 1, updated_at = $3 WHERE id = $6";
        // The emails and their events go in one statement each per chunk: on PostgreSQL a
        // statement per row made queueing 2,000 invitations take seconds of round trips.
        let mut outcomes = Vec::with_capacity(items.len());
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("queueing invitations")?;
            let rows: Vec<(i64, bool, EmailStatus, Option<DateTime<Utc>>)> = sqlx::query_as(read)
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await
                .op("reading invitees to queue their invitations")?;
            let current: HashMap<i64, MailState> = rows
                .into_iter()
                .map(|(id, is_verified, email_status, email_queued_at)| {
                    (id, MailState { is_verified, email_status, email_queued_at })
                })
                .collect();
            let mut kept = Vec::new();
            for item in items {
                let skipped = match current.get(&item.invitee_id) {
                    None => Some(SkipReason::NotFound),
                    Some(state) => rules.skip_reason(state, now),
                };
                if let Some(reason) = skipped {
                    outcomes.push(Err(reason));
                    continue;
                }
                sqlx::query(update)
                    .bind(&item.token_hash)
                    .bind(&item.token_sealed)
                    .bind(now)
                    .bind(item.token_expires_at)
                    .bind(EmailStatus::Queued)
                    .bind(item.invitee_id)
                    .execute(&mut *tx)
                    .await
                    .op("issuing an invitation's token")?;
                outcomes.push(Ok(0));
                kept.push(item);
            }
            if !kept.is_empty() {
                let sql = insert_invitations_sql(kept.len());
                let mut insert = sqlx::query_as(&sql)
                    .bind(EmailKind::Invitation)
                    .bind(EmailState::Queued)
                    .bind(route)
                    .bind(batch_id)
                    .bind(now);
                for item in &kept {
                    insert = insert
                        .bind(item.invitee_id)
                        .bind(&item.recipient)
                        .bind(&item.recipient_name);
                }
                let queued: Vec<(i64, Option<i64>)> =
                    insert.fetch_all(&mut *tx).await.op("queueing invitations")?;
                // Every kept invitee has its row: the insert returns each one.
                let email_of: HashMap<i64, i64> = queued
                    .into_iter()
                    .filter_map(|(id, invitee_id)| Some((invitee_id?, id)))
                    .collect();
                let mut events = Vec::new();
                for item in &kept {
                    let id = email_of[&item.invitee_id];
                    for event in &item.events {
                        let mut event = event.clone();
                        event.detail["email_id"] = id.into();
                        events.push(event);
                    }
                }
                if !events.is_empty() {
                    let sql = insert_events_sql(events.len());
                    let mut insert = sqlx::query(&sql).bind(now);
                    for event in &events {
                        insert = insert
                            .bind(event.kind.as_str())
                            .bind(event.invitee_id)
                            .bind(event.actor.to_string())
                            .bind(event.channel.map(|c| c.as_str()))
                            .bind(event.detail.to_string());
                    }
                    insert.execute(&mut *tx).await.op("recording queued invitations' events")?;
                }
                for (outcome, item) in outcomes.iter_mut().filter(|o| o.is_ok()).zip(&kept) {
                    *outcome = Ok(email_of[&item.invitee_id]);
                }
            }
            tx.commit().await.op("queueing invitations")?;
        });
        Ok(outcomes)
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
        route: MailRoute,
        batch_id: &str,
        now: DateTime<Utc>,
        event: &NewEvent,
    ) -> Result<u64> {
        let insert = format!(
            "INSERT INTO emails (invitee_id, kind, recipient, recipient_name, status, route, batch_id, \
             next_attempt_at, dedupe_key, created_at, updated_at) \
             SELECT id, $7, email, name, $8, $1, $2, $3, \
             $7 || ':' || CAST(id AS TEXT) || ':' || $4 || ':' || CAST(invitation_seq AS TEXT), $3, $3 \
             FROM invitees WHERE is_verified = FALSE AND invited_at IS NOT NULL \
             AND invited_at > $5 AND invited_at <= $6 AND email_status NOT IN {} \
             ON CONFLICT (dedupe_key) DO NOTHING",
            refusing_mail()
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("queueing reminders")?;
            let queued = sqlx::query(&insert)
                .bind(route)
                .bind(batch_id)
                .bind(now)
                .bind(day.to_string())
                .bind(invited_after)
                .bind(invited_before)
                .bind(EmailKind::Reminder)
                .bind(EmailState::Queued)
                .execute(&mut *tx)
                .await
                .op("queueing reminders")?
                .rows_affected();
            if queued > 0 {
                sqlx::query(
                    "UPDATE invitees SET email_status = $3, email_queued_at = $1, updated_at = $1 \
                     WHERE id IN (SELECT invitee_id FROM emails WHERE batch_id = $2)",
                )
                .bind(now)
                .bind(batch_id)
                .bind(EmailStatus::Queued)
                .execute(&mut *tx)
                .await
                .op("marking reminded invitees queued")?;
                let ids: Vec<(i64, Option<i64>)> =
                    sqlx::query_as("SELECT id, invitee_id FROM emails WHERE batch_id = $1")
                        .bind(batch_id)
                        .fetch_all(&mut *tx)
                        .await
                        .op("reading the queued reminders")?;
                for (email_id, invitee_id) in ids {
                    let mut event = event.clone();
                    event.invitee_id = invitee_id;
                    event.detail["email_id"] = email_id.into();
                    insert_event!(&mut *tx, &event, now).await?;
                }
            }
            tx.commit().await.op("queueing reminders")?;
            Ok(queued)
        })
    }

    /// Records an email that is sent at once rather than queued (a test email).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_sent_email(
        &self,
        kind: EmailKind,
        recipient: &str,
        route: MailRoute,
        message_id: Option<&str>,
        kept: Option<&EmailBody>,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("recording a sent email")?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO emails (kind, recipient, recipient_name, status, route, batch_id, attempts, \
                 next_attempt_at, provider_message_id, subject, html_body, text_body, created_at, updated_at, sent_at) \
                 VALUES ($1, $2, '', $9, $3, 'test', 1, $4, $5, $6, $7, $8, $4, $4, $4) RETURNING id",
            )
            .bind(kind)
            .bind(recipient)
            .bind(route)
            .bind(now)
            .bind(message_id)
            .bind(kept.map(|k| k.subject.as_str()))
            .bind(kept.map(|k| k.html.as_str()))
            .bind(kept.map(|k| k.text.as_str()))
            .bind(EmailState::Sent)
            .fetch_one(&mut *tx)
            .await
            .op("recording a sent email")?;
            insert_event!(&mut *tx, event, now).await?;
            tx.commit().await.op("recording a sent email")?;
            Ok(id)
        })
    }
}

/// The items' invitee ids as an array literal the database reads in one parameter.
fn id_list(items: &[QueueItem], open: char, close: char) -> String {
    let ids: Vec<String> = items.iter().map(|i| i.invitee_id.to_string()).collect();
    format!("{open}{}{close}", ids.join(","))
}

/// One insert of `rows` queued invitations: `$1` kind, `$2` status, `$3` route, `$4` batch,
/// `$5` now, then each row's invitee id, recipient and name.
fn insert_invitations_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let at = 6 + 3 * row;
            format!(
                "(${at}, $1, ${}, ${}, $2, $3, $4, $5, $5, $5)",
                at + 1,
                at + 2
            )
        })
        .collect();
    format!(
        "INSERT INTO emails (invitee_id, kind, recipient, recipient_name, status, route, \
         batch_id, next_attempt_at, created_at, updated_at) VALUES {} RETURNING id, invitee_id",
        values.join(", ")
    )
}

/// One insert of `rows` events: `$1` now, then each event's kind, invitee, actor, channel
/// and detail.
fn insert_events_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let at = 2 + 5 * row;
            let [a, b, c, d, e] = [at, at + 1, at + 2, at + 3, at + 4];
            format!("(${a}, ${b}, ${c}, ${d}, ${e}, $1)")
        })
        .collect();
    format!(
        "INSERT INTO events (kind, invitee_id, actor, channel, detail, created_at) VALUES {}",
        values.join(", ")
    )
}
