//! What doorman keeps per server: when it first saw it, and its own timeout.

use chrono::{DateTime, Utc};
use twilight_model::id::Id;
use twilight_model::id::marker::GuildMarker;

use crate::domain::event::NewEvent;
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

/// What doorman keeps per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuildSettings {
    /// Members who joined before this are never prompted or kicked automatically.
    pub first_connected: DateTime<Utc>,
    /// Set by `/set_timeout`; the configured default applies while None.
    pub timeout_seconds: Option<i64>,
}

impl Store {
    /// What doorman keeps for this server, recording now as its first connection if
    /// doorman has never seen it.
    pub async fn guild_settings(
        &self,
        guild_id: Id<GuildMarker>,
        now: DateTime<Utc>,
    ) -> Result<GuildSettings> {
        const SELECT: &str =
            "SELECT first_connected_at, timeout_seconds FROM discord_guilds WHERE guild_id = $1";
        let guild = guild_id.to_string();
        // Asked on every member change: read first, so the common case writes nothing.
        let (first_connected, timeout_seconds) = on_pool!(self, pool => {
            let known: Option<(DateTime<Utc>, Option<i64>)> = sqlx::query_as(SELECT)
                .bind(&guild)
                .fetch_optional(pool)
                .await
                .op("reading a server's settings")?;
            match known {
                Some(known) => known,
                None => {
                    sqlx::query("INSERT INTO discord_guilds (guild_id, first_connected_at) VALUES ($1, $2) ON CONFLICT (guild_id) DO NOTHING")
                        .bind(&guild)
                        .bind(now)
                        .execute(pool)
                        .await
                        .op("recording when doorman first saw a server")?;
                    sqlx::query_as(SELECT)
                        .bind(&guild)
                        .fetch_one(pool)
                        .await
                        .op("reading a server's settings")?
                }
            }
        });
        Ok(GuildSettings {
            first_connected,
            timeout_seconds,
        })
    }

    /// Sets a server's own verification timeout, with its event.
    pub async fn set_guild_timeout_seconds(
        &self,
        guild_id: Id<GuildMarker>,
        seconds: i64,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("setting a server's verification timeout")?;
            sqlx::query(
                "INSERT INTO discord_guilds (guild_id, first_connected_at, timeout_seconds) VALUES ($1, $2, $3) \
                 ON CONFLICT (guild_id) DO UPDATE SET timeout_seconds = $3",
            )
            .bind(guild_id.to_string())
            .bind(now)
            .bind(seconds)
            .execute(&mut *tx)
            .await
            .op("setting a server's verification timeout")?;
            insert_event!(&mut *tx, event, now)
                .await
                .op("recording a server's new verification timeout")?;
            tx.commit().await.op("setting a server's verification timeout")?;
        });
        Ok(())
    }
}
