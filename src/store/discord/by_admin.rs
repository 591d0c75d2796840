//! What an admin asks for away from Discord (in the admin UI), kept until the bot that
//! holds the Discord connection carries it out: roles to give, members to remove.

use chrono::{DateTime, Utc};
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::{MEMBER_COLUMNS, MemberRecord, MemberRow};
use crate::domain::event::NewEvent;
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

impl Store {
    /// The member's roles were given (or need not be any more).
    pub async fn role_grant_done(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE discord_members SET roles_due = FALSE, lease_until = NULL \
                 WHERE guild_id = $1 AND user_id = $2 AND roles_due",
            )
            .bind(guild_id.to_string())
            .bind(user_id.to_string())
            .execute(pool)
            .await
            .op("noting a member's roles were given")?;
        });
        Ok(())
    }

    /// A waiting member's time ends now, confirmed: the next sweep removes them as for a
    /// passed deadline (the burst limit does not hold them). With `event`, in one
    /// transaction; None when they were not waiting.
    pub async fn end_verification_now(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        event: impl FnOnce() -> NewEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<MemberRecord>> {
        const OP: &str = "ending a member's time to verify";
        let sql = format!(
            "UPDATE discord_members SET state = 'pending', deadline = $3, kick_confirmed = TRUE, lease_until = NULL, \
             updated_at = $3 WHERE guild_id = $1 AND user_id = $2 AND state IN ('pending', 'held') \
             RETURNING {MEMBER_COLUMNS}"
        );
        let row: Option<MemberRow> = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            let row: Option<MemberRow> = sqlx::query_as(&sql)
                .bind(guild_id.to_string())
                .bind(user_id.to_string())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .op(OP)?;
            if row.is_some() {
                insert_event!(&mut *tx, &event(), now).await.op(OP)?;
            }
            tx.commit().await.op(OP)?;
            row
        });
        row.map(MemberRecord::try_from).transpose()
    }
}
