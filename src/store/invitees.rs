//! Invitees: reading, listing, and the writes that change them (each with its event).

mod admin;
mod filter;
mod import;
mod link;
mod selection;
mod selection_sql;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use super::{BeginWrite, Op, Result, Store, events::insert_event, on_pool};
use crate::domain::event::NewEvent;
use crate::domain::invitee::{Invitee, InviteeFilter};
use crate::domain::{Email, EmailStatus};
use filter::{Param, bind_params, select, where_clause};

pub use admin::{AdminChange, AdminEdit};
pub use import::{INSERT_BATCH_ROWS, ImportWriter, NewInviteeOutcome};
pub use selection::{InviteePage, ListedInvitee};

pub(super) const COLUMNS: &str = "id, email, name, college, branch, year, is_verified, verified_at, \
     discord_user_id, token_created_at, token_expires_at, email_status, email_error, invited_at, \
     email_queued_at, created_at, updated_at, token_hash, token_sealed";

/// Rows handed from the database task to the response at a time.
const STREAM_CHUNK: usize = 256;

/// An invitee as a row of `invitees`.
#[derive(sqlx::FromRow)]
pub(super) struct InviteeRow {
    id: i64,
    email: String,
    name: String,
    college: String,
    branch: String,
    year: String,
    is_verified: bool,
    verified_at: Option<DateTime<Utc>>,
    discord_user_id: Option<String>,
    token_created_at: Option<DateTime<Utc>>,
    token_expires_at: Option<DateTime<Utc>>,
    email_status: EmailStatus,
    email_error: Option<String>,
    invited_at: Option<DateTime<Utc>>,
    email_queued_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    token_hash: Option<String>,
    token_sealed: Option<String>,
}

impl From<InviteeRow> for Invitee {
    fn from(row: InviteeRow) -> Self {
        Self {
            id: row.id,
            email: Email::from_stored(row.email),
            name: row.name,
            college: row.college,
            branch: row.branch,
            year: row.year,
            is_verified: row.is_verified,
            verified_at: row.verified_at,
            discord_user_id: row.discord_user_id,
            token_created_at: row.token_created_at,
            token_expires_at: row.token_expires_at,
            email_status: row.email_status,
            email_error: row.email_error,
            invited_at: row.invited_at,
            email_queued_at: row.email_queued_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            token_hash: row.token_hash,
            token_sealed: row.token_sealed,
        }
    }
}

/// Whether the invitee in the statement may still be verified with the token whose hash
/// is `hash` at `now` (both SQL expressions): not verified yet, holding that token, and
/// the token not expired. The check is part of the statement that makes the change, so
/// of many simultaneous attempts exactly one can succeed.
pub(super) fn still_verifiable(hash: &str, now: &str) -> String {
    format!(
        "invitees.is_verified = FALSE AND invitees.token_hash = {hash} \
         AND invitees.token_expires_at > {now}"
    )
}

/// What verifying at `now` sets, linking the Discord account `discord_user_id` if it is
/// not NULL (both SQL expressions).
pub(super) fn verified_set(now: &str, discord_user_id: &str) -> String {
    format!(
        "is_verified = TRUE, verified_at = {now}, updated_at = {now}, \
         discord_user_id = COALESCE({discord_user_id}, invitees.discord_user_id)"
    )
}

/// Marks an invitee verified if it still qualifies: `$1` now, `$2` Discord id, `$3` id,
/// `$4` the token hash that was checked.
pub(super) fn mark_verified_sql() -> String {
    format!(
        "UPDATE invitees SET {} WHERE invitees.id = $3 AND {}",
        verified_set("$1", "$2"),
        still_verifiable("$4", "$1")
    )
}

impl Store {
    pub async fn invitee(&self, id: i64) -> Result<Option<Invitee>> {
        self.invitee_where("id = $1", Param::Int(id), "reading an invitee")
            .await
    }

    /// The invitee with this (already normalised) email.
    pub async fn invitee_by_email(&self, email: &str) -> Result<Option<Invitee>> {
        self.invitee_where(
            "email = $1",
            Param::Text(email.to_owned()),
            "finding an invitee by email",
        )
        .await
    }

    /// The invitee linked to this Discord account, if any.
    pub async fn invitee_by_discord_id(&self, discord_user_id: &str) -> Result<Option<Invitee>> {
        self.invitee_where(
            "discord_user_id = $1",
            Param::Text(discord_user_id.to_owned()),
            "finding an invitee by Discord account",
        )
        .await
    }

    async fn invitee_where(
        &self,
        condition: &str,
        value: Param,
        operation: &'static str,
    ) -> Result<Option<Invitee>> {
        let sql = format!("SELECT {COLUMNS} FROM invitees WHERE {condition}");
        let row: Option<InviteeRow> = on_pool!(self, pool => {
            bind_params!(sqlx::query_as(&sql), [value])
                .fetch_optional(pool)
                .await
                .op(operation)?
        });
        Ok(row.map(Invitee::from))
    }

    pub async fn count_invitees(&self, filter: &InviteeFilter) -> Result<i64> {
        let (clause, params) = where_clause(filter);
        let sql = format!("SELECT COUNT(*) FROM invitees{clause}");
        on_pool!(self, pool => {
            bind_params!(sqlx::query_scalar(&sql), params)
                .fetch_one(pool)
                .await
                .op("counting invitees")
        })
    }

    /// Invitees in id order, streamed so that listing a hundred thousand of them does not
    /// hold them all in memory at once.
    pub fn stream_invitees(
        &self,
        filter: &InviteeFilter,
    ) -> futures::stream::BoxStream<'static, Result<Invitee>> {
        let (sql, params) = select(filter);
        self.stream_rows::<InviteeRow, Invitee>(sql, params, "listing invitees")
    }

    /// Streams the rows `sql` selects as `T`, read in chunks on a task of their own; the
    /// reading stops when the consumer goes away or a row fails (`op` names it).
    fn stream_rows<R, T>(
        &self,
        sql: String,
        params: Vec<Param>,
        op: &'static str,
    ) -> futures::stream::BoxStream<'static, Result<T>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin
            + 'static,
        T: From<R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<T>>>(4);
        let store = self.clone();
        tokio::spawn(async move {
            on_pool!(&store, pool => {
                // Rows travel in chunks: one hand-off per row costs more than the row.
                let mut rows = bind_params!(sqlx::query_as::<_, R>(&sql), params)
                    .fetch(pool)
                    .chunks(STREAM_CHUNK);
                while let Some(chunk) = rows.next().await {
                    let chunk: Result<Vec<T>> = chunk
                        .into_iter()
                        .map(|row| row.map(T::from).op(op))
                        .collect();
                    let failed = chunk.is_err();
                    // A closed channel means the client went away: stop reading.
                    if tx.send(chunk).await.is_err() || failed {
                        break;
                    }
                }
            })
        });
        ReceiverStream::new(rx)
            .flat_map(|chunk| {
                let items: Vec<Result<T>> = match chunk {
                    Ok(rows) => rows.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(items)
            })
            .boxed()
    }

    pub async fn list_invitees(&self, filter: &InviteeFilter) -> Result<Vec<Invitee>> {
        let (sql, params) = select(filter);
        let rows: Vec<InviteeRow> = on_pool!(self, pool => {
            bind_params!(sqlx::query_as(&sql), params)
                .fetch_all(pool)
                .await
                .op("listing invitees")?
        });
        Ok(rows.into_iter().map(Invitee::from).collect())
    }

    /// Stores a new token (hash and sealed copy) for an invitee; false if there is none.
    pub async fn set_token(
        &self,
        id: i64,
        hash: &str,
        sealed: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
        event: &NewEvent,
    ) -> Result<bool> {
        const OP: &str = "storing a new token";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            let updated = sqlx::query(
                "UPDATE invitees SET token_hash = $1, token_sealed = $2, token_created_at = $3, \
                 token_expires_at = $4, updated_at = $3 WHERE id = $5",
            )
            .bind(hash)
            .bind(sealed)
            .bind(now)
            .bind(expires)
            .bind(id)
            .execute(&mut *tx)
            .await
            .op(OP)?
            .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            insert_event!(&mut *tx, event, now).await?;
            tx.commit().await.op(OP)?;
        });
        Ok(true)
    }

    /// Deletes one invitee; returns it, or None if there was none.
    pub async fn delete_invitee(
        &self,
        id: i64,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitee>> {
        const OP: &str = "deleting an invitee";
        let sql = format!("DELETE FROM invitees WHERE id = $1 RETURNING {COLUMNS}");
        let deleted: Option<InviteeRow> = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            let deleted: Option<InviteeRow> =
                sqlx::query_as(&sql).bind(id).fetch_optional(&mut *tx).await.op(OP)?;
            if deleted.is_some() {
                insert_event!(&mut *tx, event, now).await?;
                tx.commit().await.op(OP)?;
            }
            deleted
        });
        Ok(deleted.map(Invitee::from))
    }

    /// Deletes every invitee; `event` is recorded with the count added to its detail.
    pub async fn delete_all_invitees(
        &self,
        mut event: NewEvent,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        const OP: &str = "deleting every invitee";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            let deleted = sqlx::query("DELETE FROM invitees")
                .execute(&mut *tx)
                .await
                .op(OP)?
                .rows_affected();
            sqlx::query("DELETE FROM verification_failures")
                .execute(&mut *tx)
                .await
                .op(OP)?;
            event.detail["deleted"] = deleted.into();
            insert_event!(&mut *tx, &event, now).await?;
            tx.commit().await.op(OP)?;
            Ok(deleted)
        })
    }
}
