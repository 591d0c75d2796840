//! Provider reports about sent emails, each applied once.

use chrono::{DateTime, Utc};

use super::{WebhookChange, refusing_mail};
use crate::domain::{DeliveryReport, EmailState, EmailStatus};
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

impl Store {
    /// Forgets the ids of webhook events received before `before`: SendGrid stops
    /// redelivering an event long before then, so the table stays small.
    pub async fn prune_webhook_events(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM webhook_events WHERE received_at < $1")
                .bind(before)
                .execute(pool)
                .await
                .op("forgetting old webhook event ids")?
                .rows_affected()
        }))
    }

    /// Applies one provider event, once: false if this event id was applied before.
    pub async fn apply_webhook_change(
        &self,
        change: &WebhookChange,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        // Bounces and drops are final; "delivered" arriving after one changes nothing.
        let final_report = change
            .report
            .email_status()
            .is_some_and(|status| status.refuses_mail());
        let keep_refusal = |column: &str| {
            if final_report {
                String::new()
            } else {
                format!(" AND {column} NOT IN {}", refusing_mail())
            }
        };
        let email_sql = format!(
            "UPDATE emails SET status = COALESCE($1, status), last_error = COALESCE($2, last_error), \
             updated_at = $3 WHERE id = $4 AND invitee_id = $5 AND status <> '{}'{}",
            EmailState::Queued.as_str(),
            keep_refusal("status")
        );
        // The invitee's status is its latest email's: an event changes it only if it
        // names that email, and that email is this invitee's. A late or replayed
        // event about an earlier email (or one without an email id, or naming
        // another invitee's) is kept with that email and in the log, nowhere else.
        let invitee_sql = format!(
            "UPDATE invitees SET email_status = COALESCE($1, email_status), \
             email_error = CASE WHEN $6 THEN NULL ELSE COALESCE($2, email_error) END, \
             updated_at = $3 WHERE id = $4 AND email_status <> '{}'{} \
             AND $5 = (SELECT MAX(n.id) FROM emails n WHERE n.invitee_id = $4)",
            EmailStatus::Queued.as_str(),
            keep_refusal("email_status")
        );
        let clears_error = change.error.is_none() && change.report == DeliveryReport::Delivered;
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("applying a webhook event")?;
            let fresh = sqlx::query(
                "INSERT INTO webhook_events (event_id, received_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&change.event_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .op("noting a webhook event id")?
            .rows_affected();
            if fresh == 0 {
                return Ok(false);
            }
            if let Some(email_id) = change.email_id {
                sqlx::query(&email_sql)
                    .bind(change.report.email_state())
                    .bind(change.error.as_deref())
                    .bind(now)
                    .bind(email_id)
                    .bind(change.invitee_id)
                    .execute(&mut *tx)
                    .await
                    .op("applying a webhook event to its email")?;
            }
            sqlx::query(&invitee_sql)
                .bind(change.report.email_status())
                .bind(change.error.as_deref())
                .bind(now)
                .bind(change.invitee_id)
                .bind(change.email_id)
                .bind(clears_error)
                .execute(&mut *tx)
                .await
                .op("applying a webhook event to its invitee")?;
            insert_event!(&mut *tx, &change.event, now).await?;
            tx.commit().await.op("applying a webhook event")?;
            Ok(true)
        })
    }
}
