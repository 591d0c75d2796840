//! Linking a Discord account to an invitee that was verified without one (by an admin,
//! or through the API), when its holder later proves the invitation from Discord.

use chrono::{DateTime, Utc};

use crate::domain::event::NewEvent;
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

impl Store {
    /// Links `discord_user_id` to the invitee if it is verified, has no account linked
    /// and still holds the token whose hash is `token_hash`; with its event. `false` if
    /// any of that no longer holds. A unique violation of `invitees_discord_user_id_key`
    /// means the account belongs to another invitee.
    pub async fn link_verified_account(
        &self,
        id: i64,
        token_hash: &str,
        discord_user_id: &str,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const OPERATION: &str = "linking a Discord account to a verified invitee";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OPERATION)?;
            let changed = sqlx::query(
                "UPDATE invitees SET discord_user_id = $1, updated_at = $2 \
                 WHERE id = $3 AND is_verified AND discord_user_id IS NULL AND token_hash = $4",
            )
            .bind(discord_user_id)
            .bind(now)
            .bind(id)
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .op(OPERATION)?
            .rows_affected();
            if changed == 0 {
                return Ok(false);
            }
            insert_event!(&mut *tx, event, now).await?;
            tx.commit().await.op(OPERATION)?;
            Ok(true)
        })
    }
}
