//! The servers doorman knows, with the setup the bot last found in each.

use chrono::{DateTime, Utc};
use twilight_model::id::Id;
use twilight_model::id::marker::GuildMarker;

use super::stored_id;
use crate::domain::discord_setup::GuildSetup;
use crate::store::{Op, Result, Store, StoreError, on_pool};

/// A server doorman has seen, and what it knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownGuild {
    pub guild_id: Id<GuildMarker>,
    /// The server's name and setup, once the bot has looked (None before).
    pub name: Option<String>,
    pub setup: Option<GuildSetup>,
    pub checked_at: Option<DateTime<Utc>>,
    /// Set by `/set_timeout` or the admin UI; the configured default applies while None.
    pub timeout_seconds: Option<i64>,
}

type GuildRow = (
    String,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<i64>,
);

impl Store {
    /// Records what the bot found in a server's setup just now.
    pub async fn record_guild_setup(
        &self,
        guild_id: Id<GuildMarker>,
        name: &str,
        setup: &GuildSetup,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let report = serde_json::to_string(setup)
            .map_err(|e| StoreError::Corrupt(format!("a server's setup: {e}")))?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO discord_guild_setup (guild_id, guild_name, report, checked_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (guild_id) DO UPDATE SET guild_name = $2, report = $3, checked_at = $4",
            )
            .bind(guild_id.to_string())
            .bind(name)
            .bind(report)
            .bind(now)
            .execute(pool)
            .await
            .op("recording a server's setup")?;
        });
        Ok(())
    }

    /// Every server doorman has seen, the first seen first.
    pub async fn known_guilds(&self) -> Result<Vec<KnownGuild>> {
        let rows: Vec<GuildRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT g.guild_id, s.guild_name, s.report, s.checked_at, g.timeout_seconds \
                 FROM discord_guilds g LEFT JOIN discord_guild_setup s ON s.guild_id = g.guild_id \
                 ORDER BY g.first_connected_at, g.guild_id",
            )
            .fetch_all(pool)
            .await
            .op("listing Discord servers")?
        });
        rows.into_iter()
            .map(|(guild_id, name, report, checked_at, timeout_seconds)| {
                let setup = report
                    .map(|r| serde_json::from_str(&r))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("a server's setup: {e}")))?;
                Ok(KnownGuild {
                    guild_id: stored_id(&guild_id)?,
                    name,
                    setup,
                    checked_at,
                    timeout_seconds,
                })
            })
            .collect()
    }
}
