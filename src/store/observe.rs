//! What `/metrics` and `/ready` read from the database: a few counts over indexed
//! columns, cheap enough for every scrape.

use chrono::{DateTime, Utc};

use super::{Op, Result, Store, migrations, on_pool};
use crate::domain::{EmailState, MemberState};

/// The email queue as it stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueGauges {
    /// Emails still to be sent (due now, waiting for a retry, or being sent).
    pub queued: i64,
    /// When the oldest of them was queued.
    pub oldest_queued_at: Option<DateTime<Utc>>,
    /// Discord members whose verification deadline is running.
    pub pending_members: i64,
    /// Kicks held back for an admin to confirm.
    pub held_kicks: i64,
}

/// The connection pool: connections open, and those of them not in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGauges {
    pub size: u32,
    pub idle: usize,
}

impl Store {
    /// The queue's depth and age, and the Discord members waiting on a deadline or an admin.
    pub async fn queue_gauges(&self) -> Result<QueueGauges> {
        const OP: &str = "reading the queue's gauges";
        on_pool!(self, pool => {
            let (queued, oldest_queued_at): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
                "SELECT COUNT(*), MIN(created_at) FROM emails WHERE status = $1",
            )
            .bind(EmailState::Queued)
            .fetch_one(pool)
            .await
            .op(OP)?;
            let members: Vec<(String, i64)> = sqlx::query_as(
                "SELECT state, COUNT(*) FROM discord_members WHERE state IN ($1, $2) GROUP BY state",
            )
            .bind(MemberState::Pending)
            .bind(MemberState::Held)
            .fetch_all(pool)
            .await
            .op(OP)?;
            let count = |state: MemberState| {
                members
                    .iter()
                    .find(|(s, _)| s == state.as_str())
                    .map_or(0, |(_, n)| *n)
            };
            Ok(QueueGauges {
                queued,
                oldest_queued_at,
                pending_members: count(MemberState::Pending),
                held_kicks: count(MemberState::Held),
            })
        })
    }

    pub fn pool_gauges(&self) -> PoolGauges {
        on_pool!(self, pool => PoolGauges { size: pool.size(), idle: pool.num_idle() })
    }

    /// Whether every migration this doorman knows has been applied.
    pub async fn schema_is_current(&self) -> Result<bool> {
        on_pool!(self, pool => {
            let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM doorman_migrations")
                .fetch_one(pool)
                .await
                .op("reading the applied migrations")?;
            Ok(applied >= migrations::known())
        })
    }
}
