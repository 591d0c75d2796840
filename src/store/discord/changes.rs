//! Writing one member's change together with the event that explains it.

use chrono::{DateTime, Utc};
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{MEMBER_COLUMNS, MemberRecord, MemberRow, state_list};
use crate::domain::event::NewEvent;
use crate::domain::{Change, MemberState};
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

/// Every new round and every verification clears what the last round counted.
const FRESH_ROUND: &str = "failed_attempts = 0, kick_confirmed = FALSE, lease_until = NULL, \
    kick_refusals = 0, refusal_reported_at = NULL, roles_due = FALSE";

/// A value bound after the ids ($1, $2) and `now` ($3), from $4 on.
#[derive(Clone, Copy)]
enum Param {
    State(MemberState),
    Time(Option<DateTime<Utc>>),
}

/// The statement that writes `change` and returns the member as written.
fn statement(change: Change) -> Option<(String, Vec<Param>)> {
    use Param::{State, Time};
    let (sql, params) = match change {
        Change::None => return None,
        Change::Start { deadline } => (
            format!(
                "INSERT INTO discord_members (guild_id, user_id, state, deadline, updated_at) VALUES ($1, $2, $4, $5, $3) \
                 ON CONFLICT (guild_id, user_id) DO UPDATE SET state = $4, deadline = $5, {FRESH_ROUND}, updated_at = $3 \
                 WHERE discord_members.state IN ({})",
                state_list(MemberState::RESTARTABLE)
            ),
            vec![State(MemberState::Pending), Time(Some(deadline))],
        ),
        Change::Verify => (
            format!(
                "INSERT INTO discord_members (guild_id, user_id, state, deadline, updated_at) VALUES ($1, $2, $4, NULL, $3) \
                 ON CONFLICT (guild_id, user_id) DO UPDATE SET state = $4, deadline = NULL, {FRESH_ROUND}, updated_at = $3"
            ),
            vec![State(MemberState::Verified)],
        ),
        Change::Move { from, to } => {
            let kicked_at = if to == MemberState::Kicked {
                "$3"
            } else {
                "kicked_at"
            };
            (
                format!(
                    "UPDATE discord_members SET state = $4, lease_until = NULL, updated_at = $3, kicked_at = {kicked_at} \
                     WHERE guild_id = $1 AND user_id = $2 AND state IN ({})",
                    state_list(from)
                ),
                vec![State(to)],
            )
        }
        // The deadline names the verification round: a restart gives a new one.
        Change::CountAttempt { round } => (
            "UPDATE discord_members SET failed_attempts = failed_attempts + 1, updated_at = $3 \
             WHERE guild_id = $1 AND user_id = $2 AND state = 'pending' \
             AND ((deadline IS NULL AND $4 IS NULL) OR deadline = $4)"
                .to_owned(),
            vec![Time(round)],
        ),
        // The retry time is the lease the sweeper respects, so a restart keeps it.
        Change::PostponeKick {
            retry_at,
            reported_at,
        } => (
            "UPDATE discord_members SET kick_refusals = kick_refusals + 1, lease_until = $4, \
             refusal_reported_at = COALESCE($5, refusal_reported_at), updated_at = $3 \
             WHERE guild_id = $1 AND user_id = $2 AND state = 'pending'"
                .to_owned(),
            vec![Time(Some(retry_at)), Time(reported_at)],
        ),
    };
    Some((format!("{sql} RETURNING {MEMBER_COLUMNS}"), params))
}

/// Fetches the member a change's statement writes (None: its guard held it back),
/// through any executor.
macro_rules! write_change {
    ($executor:expr, $sql:expr, $params:expr, $guild:expr, $user:expr, $now:expr) => {{
        let mut query = sqlx::query_as::<_, MemberRow>($sql)
            .bind($guild)
            .bind($user)
            .bind($now);
        for param in $params {
            query = match *param {
                Param::State(state) => query.bind(state),
                Param::Time(time) => query.bind(time),
            };
        }
        query
            .fetch_optional($executor)
            .await
            .op("changing a Discord member")
    }};
}

impl Store {
    /// Writes `change` for one member and `event` with it, in one transaction. The member
    /// as written, or None when the change's guard found them moved on (or there was
    /// nothing to write); the event is recorded either way. With `roles_due`, a written
    /// change also leaves the member's roles due: whichever replica holds the Discord
    /// connection gives them (see [`super::MemberClaim::RoleGrants`]).
    pub async fn change_member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        change: Change,
        event: Option<&NewEvent>,
        roles_due: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<MemberRecord>> {
        let write = statement(change);
        let (guild, user) = (guild_id.to_string(), user_id.to_string());
        let row: Option<MemberRow> = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("changing a Discord member")?;
            let mut row = None;
            if let Some((sql, params)) = &write {
                row = write_change!(&mut *tx, sql, params, &guild, &user, now)?;
            }
            if roles_due && row.is_some() {
                sqlx::query("UPDATE discord_members SET roles_due = TRUE WHERE guild_id = $1 AND user_id = $2")
                    .bind(&guild)
                    .bind(&user)
                    .execute(&mut *tx)
                    .await
                    .op("noting a member's roles are due")?;
            }
            if let Some(event) = event {
                insert_event!(&mut *tx, event, now)
                    .await
                    .op("recording a Discord member's event")?;
            }
            tx.commit().await.op("changing a Discord member")?;
            row
        });
        row.map(MemberRecord::try_from).transpose()
    }

    /// Writes each member's change in one server, and the event `event` makes of the
    /// members whose change was written (none written: no event), in one transaction.
    /// Returns those members.
    pub async fn change_members(
        &self,
        guild_id: Id<GuildMarker>,
        changes: &[(Id<UserMarker>, Change)],
        event: impl FnOnce(&[Id<UserMarker>]) -> NewEvent,
        now: DateTime<Utc>,
    ) -> Result<Vec<Id<UserMarker>>> {
        let guild = guild_id.to_string();
        let mut written = Vec::with_capacity(changes.len());
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op("changing Discord members")?;
            for (user_id, change) in changes {
                let Some((sql, params)) = statement(*change) else { continue };
                let user = user_id.to_string();
                if write_change!(&mut *tx, &sql, &params, &guild, &user, now)?.is_some() {
                    written.push(*user_id);
                }
            }
            if !written.is_empty() {
                insert_event!(&mut *tx, &event(&written), now)
                    .await
                    .op("recording Discord members' event")?;
            }
            tx.commit().await.op("changing Discord members")?;
        });
        Ok(written)
    }

    /// Records an event about a server that changes no member.
    pub async fn record_discord_event(&self, event: &NewEvent, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => {
            insert_event!(pool, event, now).await.op("recording a Discord event")?;
        });
        Ok(())
    }
}
