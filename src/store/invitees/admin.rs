//! An admin's changes to one invitee: verifying it without a token, and unlinking its
//! Discord account. Each writes its event in the same transaction.

use chrono::{DateTime, Utc};

use super::{COLUMNS, InviteeRow};
use crate::domain::event::NewEvent;
use crate::domain::invitee::Invitee;
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool};

/// What an admin's change found.
#[derive(Debug)]
pub enum AdminChange {
    /// Changed; the invitee as it was before.
    Changed(Invitee),
    /// Nothing to change (already verified, no account linked); the invitee as it is.
    Unchanged(Invitee),
    NotFound,
}

/// A change an admin makes to one invitee by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminEdit {
    /// Verified now, unless it already is.
    Verify,
    /// The Discord account linked to it forgotten, if one is.
    UnlinkDiscord,
}

impl AdminEdit {
    /// What the edit sets (`$1` is now), the condition it needs to change anything, and
    /// what it is called in errors.
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Verify => (
                "is_verified = TRUE, verified_at = $1, updated_at = $1",
                "is_verified = FALSE",
                "verifying an invitee by hand",
            ),
            Self::UnlinkDiscord => (
                "discord_user_id = NULL, updated_at = $1",
                "discord_user_id IS NOT NULL",
                "unlinking a Discord account",
            ),
        }
    }
}

impl Store {
    /// Reads the invitee (locked) and applies `edit` if it changes anything, with its
    /// event, in one transaction.
    pub async fn edit_by_admin(
        &self,
        id: i64,
        edit: AdminEdit,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<AdminChange> {
        let (set, only_if, operation) = edit.sql();
        let lock = match self {
            Store::Sqlite(_) => "",
            Store::Postgres(_) => " FOR UPDATE",
        };
        let read = format!("SELECT {COLUMNS} FROM invitees WHERE id = $1{lock}");
        let update = format!("UPDATE invitees SET {set} WHERE id = $2 AND {only_if}");
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(operation)?;
            let before: Option<InviteeRow> =
                sqlx::query_as(&read).bind(id).fetch_optional(&mut *tx).await.op(operation)?;
            let Some(before) = before.map(Invitee::from) else {
                return Ok(AdminChange::NotFound);
            };
            let changed = sqlx::query(&update)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await
                .op(operation)?
                .rows_affected();
            if changed == 0 {
                return Ok(AdminChange::Unchanged(before));
            }
            insert_event!(&mut *tx, event, now).await?;
            tx.commit().await.op(operation)?;
            Ok(AdminChange::Changed(before))
        })
    }
}
