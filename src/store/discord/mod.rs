//! The bot's durable state: servers and members' verification deadlines.
//!
//! Discord ids are stored in their decimal form in the TEXT columns the tables have
//! always had; a stored id that does not read back as one is corruption, not a default.

mod by_admin;
mod changes;
mod guilds;
mod kicks;
mod setup;

pub use guilds::GuildSettings;
pub use setup::KnownGuild;

use chrono::{DateTime, Utc};
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{Op, Result, Store, StoreError, on_pool, text_column};
use crate::domain::{MemberState, Membership};

text_column!(MemberState);

/// One member's verification in one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordMember {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    pub membership: Membership,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    guild_id: String,
    user_id: String,
    state: MemberState,
    deadline: Option<DateTime<Utc>>,
    failed_attempts: i64,
    kick_confirmed: bool,
    kick_refusals: i64,
    refusal_reported_at: Option<DateTime<Utc>>,
}

impl TryFrom<MemberRow> for DiscordMember {
    type Error = StoreError;

    fn try_from(row: MemberRow) -> Result<Self> {
        Ok(Self {
            guild_id: stored_id(&row.guild_id)?,
            user_id: stored_id(&row.user_id)?,
            membership: Membership {
                state: row.state,
                deadline: row.deadline,
                failed_attempts: row.failed_attempts,
                kick_confirmed: row.kick_confirmed,
                kick_refusals: row.kick_refusals,
                refusal_reported_at: row.refusal_reported_at,
            },
        })
    }
}

fn stored_id<T>(raw: &str) -> Result<Id<T>> {
    raw.parse()
        .map_err(|_| StoreError::Corrupt(format!("{raw:?} is not a Discord id")))
}

fn members(rows: Vec<MemberRow>) -> Result<Vec<DiscordMember>> {
    rows.into_iter().map(DiscordMember::try_from).collect()
}

const MEMBER_COLUMNS: &str = "guild_id, user_id, state, deadline, CAST(failed_attempts AS BIGINT) AS failed_attempts, kick_confirmed, \
    CAST(kick_refusals AS BIGINT) AS kick_refusals, refusal_reported_at";

/// A list of states for an `IN (...)`; the words are fixed, never user input.
fn state_list(states: &[MemberState]) -> String {
    let quoted: Vec<String> = states.iter().map(|s| format!("'{s}'")).collect();
    quoted.join(", ")
}

impl Store {
    pub async fn discord_member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<Option<DiscordMember>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM discord_members WHERE guild_id = $1 AND user_id = $2"
        );
        let row: Option<MemberRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(guild_id.to_string())
                .bind(user_id.to_string())
                .fetch_optional(pool)
                .await
                .op("reading a Discord member")?
        });
        row.map(DiscordMember::try_from).transpose()
    }

    /// Members of a server in one state, earliest deadline first.
    pub async fn discord_members_in_state(
        &self,
        guild_id: Id<GuildMarker>,
        state: MemberState,
    ) -> Result<Vec<DiscordMember>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM discord_members WHERE guild_id = $1 AND state = $2 ORDER BY deadline, user_id"
        );
        let rows: Vec<MemberRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(guild_id.to_string())
                .bind(state)
                .fetch_all(pool)
                .await
                .op("listing a server's members in one state")?
        });
        members(rows)
    }

    /// How many members of a server are in `state`.
    pub async fn discord_member_count(
        &self,
        guild_id: Id<GuildMarker>,
        state: MemberState,
    ) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM discord_members WHERE guild_id = $1 AND state = $2")
                .bind(guild_id.to_string())
                .bind(state)
                .fetch_one(pool)
                .await
                .op("counting a server's members in one state")?
        }))
    }
}
