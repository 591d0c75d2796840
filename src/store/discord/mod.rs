//! The bot's durable state: servers and members' verification deadlines.
//!
//! Discord ids are stored in their decimal form in the TEXT columns the tables have
//! always had; a stored id that does not read back as one is corruption, not a default.

mod by_admin;
mod changes;
mod guilds;
mod kicks;
mod setup;

pub use setup::KnownGuild;

use chrono::{DateTime, Utc};
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{Op, Result, Store, StoreError, on_pool, text_column};
use crate::domain::{MemberState, Membership};

text_column!(MemberState);

/// One member's verification in one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
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

impl TryFrom<MemberRow> for MemberRecord {
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

fn members(rows: Vec<MemberRow>) -> Result<Vec<MemberRecord>> {
    rows.into_iter().map(MemberRecord::try_from).collect()
}

const MEMBER_COLUMNS: &str = "guild_id, user_id, state, deadline, CAST(failed_attempts AS BIGINT) AS failed_attempts, kick_confirmed, \
    CAST(kick_refusals AS BIGINT) AS kick_refusals, refusal_reported_at";

/// A list of states for an `IN (...)`; the words are fixed, never user input.
fn state_list(states: &[MemberState]) -> String {
    let quoted: Vec<String> = states.iter().map(|s| format!("'{s}'")).collect();
    quoted.join(", ")
}

/// The members a replica leases for a while, for the bot to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberClaim {
    /// Pending members whose deadline has passed, earliest first.
    DueDeadlines,
    /// Verified members whose roles are due, oldest first.
    RoleGrants,
}

impl MemberClaim {
    /// The members the claim may take (`$1` is now), their order, and what it is called
    /// in errors.
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::DueDeadlines => (
                "state = 'pending' AND deadline <= $1 AND (lease_until IS NULL OR lease_until < $1)",
                "deadline",
                "claiming due verification deadlines",
            ),
            Self::RoleGrants => (
                "roles_due AND state = 'verified' AND (lease_until IS NULL OR lease_until < $1)",
                "updated_at",
                "claiming roles to give",
            ),
        }
    }
}

impl Store {
    /// Leases up to `limit` of the members `claim` names until `lease_until`: a claimed
    /// member is not handed to another replica until the lease runs out.
    pub async fn claim_members(
        &self,
        claim: MemberClaim,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<MemberRecord>> {
        let (claimable, order, operation) = claim.sql();
        let pick = format!("FROM discord_members WHERE {claimable} ORDER BY {order} LIMIT $3");
        // On PostgreSQL the picked rows are an array, computed once: as `IN (subquery)`, a
        // generic plan may run the locking subquery again for every row and claim every
        // claimable member in one go, far past the limit.
        let chosen = match self {
            Store::Sqlite(_) => format!("(guild_id, user_id) IN (SELECT guild_id, user_id {pick})"),
            Store::Postgres(_) => {
                format!("ctid = ANY(ARRAY(SELECT ctid {pick} FOR UPDATE SKIP LOCKED))")
            }
        };
        // The claim conditions are repeated outside the subquery: PostgreSQL re-checks them
        // on a row another transaction changed meanwhile, so two replicas never both win.
        let sql = format!(
            "UPDATE discord_members SET lease_until = $2 WHERE {chosen} AND {claimable} \
             RETURNING {MEMBER_COLUMNS}"
        );
        let rows: Vec<MemberRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .fetch_all(pool)
                .await
                .op(operation)?
        });
        members(rows)
    }

    pub async fn discord_member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<Option<MemberRecord>> {
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
        row.map(MemberRecord::try_from).transpose()
    }

    /// Members of a server in one state, earliest deadline first.
    pub async fn discord_members_in_state(
        &self,
        guild_id: Id<GuildMarker>,
        state: MemberState,
    ) -> Result<Vec<MemberRecord>> {
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
