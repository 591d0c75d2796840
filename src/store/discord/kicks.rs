//! Deadlines coming due: claiming them across replicas, and the kicks held for an admin.

use chrono::{DateTime, Utc};
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::stored_id;
use crate::domain::event::NewEvent;
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

impl Store {
    /// Kicks doorman made since `since`, across all servers.
    pub async fn kicks_since(&self, since: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM discord_members WHERE kicked_at > $1")
                .bind(since)
                .fetch_one(pool)
                .await
                .op("counting recent kicks")?
        }))
    }

    /// Held kicks of a server become due again, confirmed (`/confirm_kicks`); `event`
    /// is recorded with them. Returns the members.
    pub async fn confirm_held_kicks(
        &self,
        guild_id: Id<GuildMarker>,
        event: impl FnOnce(&[Id<UserMarker>]) -> NewEvent,
        now: DateTime<Utc>,
    ) -> Result<Vec<Id<UserMarker>>> {
        let sql = "UPDATE discord_members SET state = 'pending', kick_confirmed = TRUE, lease_until = NULL, \
                   updated_at = $2 WHERE guild_id = $1 AND state = 'held' RETURNING user_id";
        self.release_held(guild_id, sql, None, event, now, "confirming held kicks")
            .await
    }

    /// Held kicks of a server are called off: those members get a fresh `deadline`, and
    /// `event` is recorded with them. Returns the members.
    pub async fn cancel_held_kicks(
        &self,
        guild_id: Id<GuildMarker>,
        deadline: DateTime<Utc>,
        event: impl FnOnce(&[Id<UserMarker>]) -> NewEvent,
        now: DateTime<Utc>,
    ) -> Result<Vec<Id<UserMarker>>> {
        let sql = "UPDATE discord_members SET state = 'pending', deadline = $3, failed_attempts = 0, lease_until = NULL, \
                   updated_at = $2 WHERE guild_id = $1 AND state = 'held' RETURNING user_id";
        self.release_held(
            guild_id,
            sql,
            Some(deadline),
            event,
            now,
            "cancelling held kicks",
        )
        .await
    }

    /// Runs one statement over a server's held members, with its event.
    async fn release_held(
        &self,
        guild_id: Id<GuildMarker>,
        sql: &str,
        deadline: Option<DateTime<Utc>>,
        event: impl FnOnce(&[Id<UserMarker>]) -> NewEvent,
        now: DateTime<Utc>,
        operation: &'static str,
    ) -> Result<Vec<Id<UserMarker>>> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(operation)?;
            let mut query = sqlx::query_scalar(sql).bind(guild_id.to_string()).bind(now);
            if let Some(deadline) = deadline {
                query = query.bind(deadline);
            }
            let users: Vec<String> = query.fetch_all(&mut *tx).await.op(operation)?;
            let ids = users.iter().map(|u| stored_id(u)).collect::<Result<Vec<_>>>()?;
            insert_event!(&mut *tx, &event(&ids), now).await.op(operation)?;
            tx.commit().await.op(operation)?;
            ids
        }))
    }
}
