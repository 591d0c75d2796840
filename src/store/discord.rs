//! The bot's durable state: servers and members' verification deadlines.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, on_pool};

/// Where a member stands with verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Asked to verify; kicked when the deadline passes.
    Pending,
    /// Their kick came due in a burst and waits for an admin.
    Held,
    Verified,
    Kicked,
    /// Their deadline passed while they were away; a return starts afresh.
    Lapsed,
}

impl MemberState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Held => "held",
            Self::Verified => "verified",
            Self::Kicked => "kicked",
            Self::Lapsed => "lapsed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "held" => Self::Held,
            "verified" => Self::Verified,
            "kicked" => Self::Kicked,
            _ => Self::Lapsed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DiscordMember {
    pub guild_id: String,
    pub user_id: String,
    pub state: MemberState,
    pub deadline: Option<DateTime<Utc>>,
    pub failed_attempts: i64,
    pub kick_confirmed: bool,
    /// Kicks Discord refused since this verification started.
    pub kick_refusals: i64,
    /// When an admin was last told a kick of this member is refused.
    pub refusal_reported_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    guild_id: String,
    user_id: String,
    state: String,
    deadline: Option<DateTime<Utc>>,
    failed_attempts: i64,
    kick_confirmed: bool,
    kick_refusals: i64,
    refusal_reported_at: Option<DateTime<Utc>>,
}

impl From<MemberRow> for DiscordMember {
    fn from(row: MemberRow) -> Self {
        Self {
            guild_id: row.guild_id,
            user_id: row.user_id,
            state: MemberState::parse(&row.state),
            deadline: row.deadline,
            failed_attempts: row.failed_attempts,
            kick_confirmed: row.kick_confirmed,
            kick_refusals: row.kick_refusals,
            refusal_reported_at: row.refusal_reported_at,
        }
    }
}

const MEMBER_COLUMNS: &str = "guild_id, user_id, state, deadline, CAST(failed_attempts AS BIGINT) AS failed_attempts, kick_confirmed, \
    CAST(kick_refusals AS BIGINT) AS kick_refusals, refusal_reported_at";

impl Store {
    /// When doorman first connected to this server (recorded now if this is the first time).
    pub async fn guild_first_connected(
        &self,
        guild_id: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>> {
        const SELECT: &str = "SELECT first_connected_at FROM discord_guilds WHERE guild_id = $1";
        // Asked on member updates too: read first, so the common case writes nothing.
        Ok(on_pool!(self, pool => {
            let known: Option<DateTime<Utc>> =
                sqlx::query_scalar(SELECT).bind(guild_id).fetch_optional(pool).await?;
            match known {
                Some(first) => first,
                None => {
                    sqlx::query("INSERT INTO discord_guilds (guild_id, first_connected_at) VALUES ($1, $2) ON CONFLICT (guild_id) DO NOTHING")
                        .bind(guild_id)
                        .bind(now)
                        .execute(pool)
                        .await?;
                    sqlx::query_scalar(SELECT).bind(guild_id).fetch_one(pool).await?
                }
            }
        }))
    }

    pub async fn guild_timeout_seconds(&self, guild_id: &str) -> Result<Option<i64>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar::<_, Option<i64>>("SELECT timeout_seconds FROM discord_guilds WHERE guild_id = $1")
                .bind(guild_id)
                .fetch_optional(pool)
                .await?
                .flatten()
        }))
    }

    pub async fn set_guild_timeout_seconds(
        &self,
        guild_id: &str,
        seconds: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO discord_guilds (guild_id, first_connected_at, timeout_seconds) VALUES ($1, $2, $3) \
                 ON CONFLICT (guild_id) DO UPDATE SET timeout_seconds = $3",
            )
            .bind(guild_id)
            .bind(now)
            .bind(seconds)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn discord_member(
        &self,
        guild_id: &str,
        user_id: &str,
    ) -> Result<Option<DiscordMember>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM discord_members WHERE guild_id = $1 AND user_id = $2"
        );
        let row: Option<MemberRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(guild_id).bind(user_id).fetch_optional(pool).await?
        });
        Ok(row.map(Into::into))
    }

    /// Members of a server in one state, earliest deadline first.
    pub async fn discord_members_in_state(
        &self,
        guild_id: &str,
        state: MemberState,
    ) -> Result<Vec<DiscordMember>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM discord_members WHERE guild_id = $1 AND state = $2 ORDER BY deadline, user_id"
        );
        let rows: Vec<MemberRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(guild_id).bind(state.as_str()).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Starts (or restarts) a member's verification with a fresh deadline.
    pub async fn start_pending(
        &self,
        guild_id: &str,
        user_id: &str,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.upsert_member(guild_id, user_id, MemberState::Pending, Some(deadline), now)
            .await
    }

    /// Starts a verification only if none is under way, held or done (no row, or kicked or
    /// lapsed); false when the member's state forbids it.
    pub async fn start_pending_if_idle(
        &self,
        guild_id: &str,
        user_id: &str,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO discord_members (guild_id, user_id, state, deadline, updated_at) VALUES ($1, $2, 'pending', $3, $4) \
                 ON CONFLICT (guild_id, user_id) DO UPDATE SET state = 'pending', deadline = $3, failed_attempts = 0, \
                 kick_confirmed = FALSE, lease_until = NULL, kick_refusals = 0, refusal_reported_at = NULL, updated_at = $4 \
                 WHERE discord_members.state IN ('kicked', 'lapsed')",
            )
            .bind(guild_id)
            .bind(user_id)
            .bind(deadline)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected() == 1
        }))
    }

    pub async fn mark_member_verified(
        &self,
        guild_id: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.upsert_member(guild_id, user_id, MemberState::Verified, None, now)
            .await
    }

    async fn upsert_member(
        &self,
        guild_id: &str,
        user_id: &str,
        state: MemberState,
        deadline: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO discord_members (guild_id, user_id, state, deadline, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (guild_id, user_id) DO UPDATE SET state = $3, deadline = $4, failed_attempts = 0, \
                 kick_confirmed = FALSE, lease_until = NULL, kick_refusals = 0, refusal_reported_at = NULL, \
                 updated_at = $5",
            )
            .bind(guild_id)
            .bind(user_id)
            .bind(state.as_str())
            .bind(deadline)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Counts a failed attempt of a member still in the pending verification that was read
    /// (same deadline); returns the new count, or None if it changed meanwhile (verified,
    /// held, restarted) so the attempt must not count.
    pub async fn add_failed_attempt(
        &self,
        read: &DiscordMember,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        // The deadline names the verification round: a restart gives a new one.
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(
                "UPDATE discord_members SET failed_attempts = failed_attempts + 1, updated_at = $3 \
                 WHERE guild_id = $1 AND user_id = $2 AND state = 'pending' \
                 AND ((deadline IS NULL AND $4 IS NULL) OR deadline = $4) \
                 RETURNING CAST(failed_attempts AS BIGINT)",
            )
            .bind(&read.guild_id)
            .bind(&read.user_id)
            .bind(now)
            .bind(read.deadline)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Records a kick Discord refused: the member is left alone until `retry_at` (the lease
    /// the sweeper respects), and `reported_at`, when given, notes that an admin was told.
    /// False if the member is no longer pending.
    pub async fn record_kick_refusal(
        &self,
        guild_id: &str,
        user_id: &str,
        retry_at: DateTime<Utc>,
        reported_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(on_pool!(self, pool => {
            sqlx::query(
                "UPDATE discord_members SET kick_refusals = kick_refusals + 1, lease_until = $3, \
                 refusal_reported_at = COALESCE($4, refusal_reported_at), updated_at = $5 \
                 WHERE guild_id = $1 AND user_id = $2 AND state = 'pending'",
            )
            .bind(guild_id)
            .bind(user_id)
            .bind(retry_at)
            .bind(reported_at)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected() == 1
        }))
    }

    /// Claims up to `limit` members whose deadline has passed, for `lease`. A claimed member
    /// is not handed to another replica until the lease runs out.
    pub async fn claim_due_members(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DiscordMember>> {
        let skip_locked = if matches!(self, Store::Postgres(_)) {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        // The claim conditions are repeated outside the subquery: PostgreSQL re-checks them
        // on a row another transaction changed meanwhile, so two replicas never both win.
        let sql = format!(
            "UPDATE discord_members SET lease_until = $2 \
             WHERE (guild_id, user_id) IN (SELECT guild_id, user_id FROM discord_members \
                 WHERE state = 'pending' AND deadline <= $1 AND (lease_until IS NULL OR lease_until < $1) \
                 ORDER BY deadline LIMIT $3{skip_locked}) \
             AND state = 'pending' AND deadline <= $1 AND (lease_until IS NULL OR lease_until < $1) \
             RETURNING {MEMBER_COLUMNS}"
        );
        let rows: Vec<MemberRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(now).bind(lease_until).bind(limit).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Moves a member to `state`, releasing any lease. Only from the states in `from`, so
    /// a stale decision cannot undo a newer one (a verification that landed meanwhile).
    pub async fn move_member(
        &self,
        guild_id: &str,
        user_id: &str,
        from: &[MemberState],
        to: MemberState,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let allowed: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let kicked_at = if to == MemberState::Kicked {
            "$4"
        } else {
            "kicked_at"
        };
        let sql = format!(
            "UPDATE discord_members SET state = $3, lease_until = NULL, updated_at = $4, kicked_at = {kicked_at} \
             WHERE guild_id = $1 AND user_id = $2 AND state IN ({})",
            allowed.join(", ")
        );
        Ok(on_pool!(self, pool => {
            sqlx::query(&sql).bind(guild_id).bind(user_id).bind(to.as_str()).bind(now).execute(pool).await?.rows_affected() == 1
        }))
    }

    /// Kicks doorman made since `since`, across all servers.
    pub async fn kicks_since(&self, since: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM discord_members WHERE kicked_at > $1").bind(since).fetch_one(pool).await?
        }))
    }

    /// Held kicks of a server become due again, confirmed (`/confirm_kicks`).
    pub async fn confirm_held_kicks(&self, guild_id: &str, now: DateTime<Utc>) -> Result<u64> {
        Ok(on_pool!(self, pool => {
            sqlx::query(
                "UPDATE discord_members SET state = 'pending', kick_confirmed = TRUE, lease_until = NULL, updated_at = $2 \
                 WHERE guild_id = $1 AND state = 'held'",
            )
            .bind(guild_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// Held kicks of a server are called off: those members get a fresh deadline.
    pub async fn cancel_held_kicks(
        &self,
        guild_id: &str,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let users: Vec<String> = sqlx::query_scalar(
                "UPDATE discord_members SET state = 'pending', deadline = $2, failed_attempts = 0, lease_until = NULL, \
                 updated_at = $3 WHERE guild_id = $1 AND state = 'held' RETURNING user_id",
            )
            .bind(guild_id)
            .bind(deadline)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            users
        }))
    }

    /// Counts of members per state in a server.
    pub async fn discord_member_count(&self, guild_id: &str, state: MemberState) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM discord_members WHERE guild_id = $1 AND state = $2")
                .bind(guild_id)
                .bind(state.as_str())
                .fetch_one(pool)
                .await?
        }))
    }
}
