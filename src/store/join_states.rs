//! One-click join's states (`join_states`), keyed by the hash of the state Discord carries
//! back, and the invitee writes only this path needs.

use chrono::{DateTime, Utc};

use super::events::insert_event;
use super::invitees::{COLUMNS, InviteeRow};
use super::{BeginWrite, Op, Result, Store, on_pool};
use crate::domain::event::NewEvent;
use crate::domain::invitee::Invitee;

/// A state about to be stored: hashes only.
#[derive(Debug, Clone)]
pub struct NewJoinState {
    pub id: String,
    pub browser_hash: String,
    pub invitee_id: i64,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// A state as it was stored, now taken (deleted).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TakenJoinState {
    pub browser_hash: String,
    pub invitee_id: i64,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// The invitee whose current token has this keyed hash.
    pub async fn invitee_by_token_hash(&self, token_hash: &str) -> Result<Option<Invitee>> {
        let sql = format!("SELECT {COLUMNS} FROM invitees WHERE token_hash = $1");
        let row: Option<InviteeRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await
                .op("finding an invitation by its link")?
        });
        Ok(row.map(Invitee::from))
    }

    /// Stores a state with its event, forgetting expired ones, in one transaction.
    pub async fn open_join_state(
        &self,
        state: &NewJoinState,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const OP: &str = "starting a join";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            sqlx::query("DELETE FROM join_states WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await
                .op("forgetting expired join states")?;
            sqlx::query(
                "INSERT INTO join_states (id, browser_hash, invitee_id, token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&state.id)
            .bind(&state.browser_hash)
            .bind(state.invitee_id)
            .bind(&state.token_hash)
            .bind(now)
            .bind(state.expires_at)
            .execute(&mut *tx)
            .await
            .op(OP)?;
            insert_event!(&mut *tx, event, now).await?;
            tx.commit().await.op(OP)?;
        });
        Ok(())
    }

    /// Deletes the state with this id and returns it: of two callbacks with one state,
    /// only one gets it.
    pub async fn take_join_state(&self, id: &str) -> Result<Option<TakenJoinState>> {
        let sql = "DELETE FROM join_states WHERE id = $1 \
                   RETURNING browser_hash, invitee_id, token_hash, expires_at";
        on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .op("taking a join state")
        })
    }

    /// Takes back a verification that Discord's refusal left without its member: only
    /// while it is still the one this join made (verified, linked to this account).
    pub async fn undo_join(
        &self,
        invitee_id: i64,
        discord_user_id: &str,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const OP: &str = "taking back a join";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            let undone = sqlx::query(
                "UPDATE invitees SET is_verified = FALSE, verified_at = NULL, discord_user_id = NULL, \
                 updated_at = $1 WHERE id = $2 AND discord_user_id = $3 AND is_verified = TRUE",
            )
            .bind(now)
            .bind(invitee_id)
            .bind(discord_user_id)
            .execute(&mut *tx)
            .await
            .op(OP)?
            .rows_affected();
            if undone > 0 {
                insert_event!(&mut *tx, event, now).await?;
            }
            tx.commit().await.op(OP)?;
            Ok(undone > 0)
        })
    }
}
