//! Claiming due emails and recording what became of them.

use chrono::{DateTime, Utc};

use super::{ClaimedEmail, EmailResult, words};
use crate::domain::event::NewEvent;
use crate::domain::{EmailState, EmailStatus};
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

/// The invitee statuses a send's result may replace: a provider's later report
/// (delivered, bounced...) is never undone by the worker's news.
const REPLACEABLE_BY_A_SEND: [EmailStatus; 3] = [
    EmailStatus::Queued,
    EmailStatus::Failed,
    EmailStatus::NotSent,
];

impl Store {
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
        let queued = EmailState::Queued.as_str();
        let due = format!(
            "status = '{queued}' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)"
        );
        let pick =
            format!("SELECT id FROM emails WHERE {due} ORDER BY next_attempt_at, id LIMIT $4");
        // On PostgreSQL the picked ids are an array, computed once: as `IN (subquery)`, a
        // generic plan may run the locking subquery again for every row and claim the
        // whole queue in one round, far past the limit.
        let chosen = match self {
            Store::Sqlite(_) => format!("id IN ({pick})"),
            Store::Postgres(_) => format!("id = ANY(ARRAY({pick} FOR UPDATE SKIP LOCKED))"),
        };
        let claim_sql = format!(
            "UPDATE emails SET lease_until = $1, lease_token = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE {chosen} AND {due}"
        );
        let select = format!(
            "SELECT e.id, e.invitee_id, e.kind, e.recipient, e.recipient_name, e.attempts, \
             i.name AS invitee_name, i.is_verified, i.token_sealed, i.token_expires_at \
             FROM emails e LEFT JOIN invitees i ON i.id = e.invitee_id \
             WHERE e.lease_token = $1 AND e.status = '{queued}' ORDER BY e.id"
        );
        on_pool!(self, pool => {
            let claimed = sqlx::query(&claim_sql)
                .bind(lease_until)
                .bind(claim)
                .bind(now)
                .bind(limit)
                .execute(pool)
                .await
                .op("claiming due emails")?
                .rows_affected();
            if claimed == 0 {
                return Ok(Vec::new());
            }
            Ok(sqlx::query_as(&select)
                .bind(claim)
                .fetch_all(pool)
                .await
                .op("reading claimed emails")?)
        })
    }

    /// Records what became of claimed emails, in one transaction. A result whose claim was
    /// lost (its lease ran out and another worker took the email) is dropped.
    pub async fn finish_emails(
        &self,
        claim: &str,
        results: &[(ClaimedEmail, EmailResult, Option<NewEvent>)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mine = format!(
            "id = $1 AND lease_token = $2 AND status = '{}'",
            EmailState::Queued.as_str()
        );
        let sent = format!(
            "UPDATE emails SET status = $8, sent_at = $3, updated_at = $3, lease_until = NULL, \
             last_error = NULL, provider_message_id = $4, subject = $5, html_body = $6, text_body = $7 \
             WHERE {mine}"
        );
        let retry = format!(
            "UPDATE emails SET lease_until = NULL, lease_token = NULL, last_error = $3, \
             next_attempt_at = $4, updated_at = $5 WHERE {mine}"
        );
        let ended = format!(
            "UPDATE emails SET status = $5, lease_until = NULL, last_error = $3, updated_at = $4 \
             WHERE {mine}"
        );
        // The invitee's status follows its newest email only, and a report of success
        // never replaces what the provider's webhook already said.
        let invitee = format!(
            "UPDATE invitees SET email_status = $3, email_error = $4, updated_at = $5 \
             WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM emails n WHERE n.invitee_id = $1 AND n.id > $2) \
             AND email_status IN {}",
            words(REPLACEABLE_BY_A_SEND.map(EmailStatus::as_str))
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("recording sent emails")?;
            for (email, result, event) in results {
                let (query, invitee_update) = match result {
                    EmailResult::Sent { message_id, kept } => (
                        sqlx::query(&sent)
                            .bind(email.id).bind(claim).bind(now).bind(message_id.as_deref())
                            .bind(kept.as_ref().map(|k| k.subject.as_str()))
                            .bind(kept.as_ref().map(|k| k.html.as_str()))
                            .bind(kept.as_ref().map(|k| k.text.as_str()))
                            .bind(EmailState::Sent),
                        Some((EmailStatus::Sent, None)),
                    ),
                    EmailResult::Retry { error, at } => (
                        sqlx::query(&retry).bind(email.id).bind(claim).bind(error).bind(*at).bind(now),
                        Some((EmailStatus::Queued, Some(error.as_str()))),
                    ),
                    EmailResult::Failed { error } => (
                        sqlx::query(&ended).bind(email.id).bind(claim).bind(error).bind(now)
                            .bind(EmailState::Failed),
                        Some((EmailStatus::Failed, Some(error.as_str()))),
                    ),
                    EmailResult::Cancelled { reason } => (
                        sqlx::query(&ended).bind(email.id).bind(claim).bind(reason).bind(now)
                            .bind(EmailState::Cancelled),
                        None,
                    ),
                };
                let updated = query
                    .execute(&mut *tx)
                    .await
                    .op("recording a sent email's result")?
                    .rows_affected();
                if updated == 0 {
                    continue;
                }
                if let (Some(invitee_id), Some((status, error))) = (email.invitee_id, invitee_update) {
                    sqlx::query(&invitee)
                        .bind(invitee_id).bind(email.id).bind(status).bind(error).bind(now)
                        .execute(&mut *tx)
                        .await
                        .op("updating an emailed invitee's status")?;
                }
                if let Some(event) = event {
                    insert_event!(&mut *tx, event, now).await?;
                }
            }
            tx.commit().await.op("recording sent emails")?;
        });
        Ok(())
    }
}
