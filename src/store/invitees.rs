//! Invitees: reading, listing, and the writes that change them (each with its event).

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use super::{BeginWrite, Result, Store, events::insert_event, on_pool};
use crate::domain::event::NewEvent;
use crate::domain::invitee::{Invitee, NewInvitee};

pub(super) const COLUMNS: &str = "id, email, name, college, branch, year, is_verified, verified_at, \
     discord_user_id, token_created_at, token_expires_at, email_status, email_error, invited_at, \
     email_queued_at, created_at, updated_at, token_hash, token_sealed";

/// The same, for listings: the token columns are never shown, so they are not read.
const LISTING_COLUMNS: &str = "id, email, name, college, branch, year, is_verified, verified_at, \
     discord_user_id, token_created_at, token_expires_at, email_status, email_error, invited_at, \
     email_queued_at, created_at, updated_at, NULL AS token_hash, NULL AS token_sealed";

/// Rows handed from the database task to the response at a time.
const STREAM_CHUNK: usize = 256;

/// Marks an invitee verified if it still qualifies: `$1` now, `$2` Discord id, `$3` id,
/// `$4` the token hash that was checked.
/// The check and the change are one statement, so of many simultaneous attempts exactly
/// one can succeed.
pub(super) const MARK_VERIFIED: &str = "UPDATE invitees SET is_verified = TRUE, verified_at = $1, updated_at = $1, \
     discord_user_id = COALESCE($2, discord_user_id) \
     WHERE id = $3 AND is_verified = FALSE AND token_hash = $4 AND token_expires_at > $1";

/// Rows the importer hands over at a time.
pub const INSERT_BATCH_ROWS: usize = 1000;

/// Rows per INSERT on SQLite. Binding a parameter costs time proportional to the
/// statement's parameter count (SQLite looks names up in a list), so large statements
/// get quadratically slow; PostgreSQL takes a whole batch as five arrays instead.
const SQLITE_INSERT_ROWS: usize = 50;

/// `INSERT ... VALUES` for `rows` rows: `$1` is the timestamp, then five per row.
fn values_insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let b = 1 + i * 5;
            format!(
                "(${}, ${}, ${}, ${}, ${}, $1, $1)",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    format!(
        "INSERT INTO invitees (email, name, college, branch, year, created_at, updated_at) VALUES {} \
         ON CONFLICT (email) DO NOTHING RETURNING id, email",
        values.join(", ")
    )
}

/// Which invitees to list.
#[derive(Debug, Clone, Default)]
pub struct InviteeFilter {
    /// Matched case-insensitively as a substring of the email or the name.
    pub search: Option<String>,
    pub verified: Option<bool>,
    pub limit: Option<i64>,
    pub offset: i64,
}

enum Param {
    Text(String),
    Bool(bool),
    Int(i64),
}

impl InviteeFilter {
    /// The WHERE clause and its parameters, numbered from `$1`.
    fn where_clause(&self) -> (String, Vec<Param>) {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        if let Some(search) = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            params.push(Param::Text(format!(
                "%{}%",
                escape_like(&search.to_lowercase())
            )));
            let n = params.len();
            conditions.push(format!(
                "(email LIKE ${n} ESCAPE '\\' OR lower(name) LIKE ${n} ESCAPE '\\')"
            ));
        }
        if let Some(verified) = self.verified {
            params.push(Param::Bool(verified));
            conditions.push(format!("is_verified = ${}", params.len()));
        }
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        (clause, params)
    }

    fn select(&self) -> (String, Vec<Param>) {
        let (clause, mut params) = self.where_clause();
        params.push(Param::Int(self.limit.unwrap_or(i64::MAX)));
        params.push(Param::Int(self.offset));
        let n = params.len();
        let sql = format!(
            "SELECT {LISTING_COLUMNS} FROM invitees{clause} ORDER BY id LIMIT ${} OFFSET ${n}",
            n - 1
        );
        (sql, params)
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Text(v) => query.bind(v),
                Param::Bool(v) => query.bind(v),
                Param::Int(v) => query.bind(v),
            };
        }
        query
    }};
}

/// What happened to one row offered for insertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewInviteeOutcome {
    Inserted {
        id: i64,
    },
    /// The email was already there (from before, or earlier in the same import).
    Skipped,
}

impl Store {
    pub async fn invitee(&self, id: i64) -> Result<Option<Invitee>> {
        let sql = format!("SELECT {COLUMNS} FROM invitees WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
    }

    /// The invitee with this (already normalised) email.
    pub async fn invitee_by_email(&self, email: &str) -> Result<Option<Invitee>> {
        let sql = format!("SELECT {COLUMNS} FROM invitees WHERE email = $1");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(email).fetch_optional(pool).await?))
    }

    pub async fn count_invitees(&self, filter: &InviteeFilter) -> Result<i64> {
        let (clause, params) = filter.where_clause();
        let sql = format!("SELECT COUNT(*) FROM invitees{clause}");
        Ok(on_pool!(self, pool => {
            bind_params!(sqlx::query_scalar(&sql), params).fetch_one(pool).await?
        }))
    }

    /// Invitees in id order, streamed so that listing a hundred thousand of them does not
    /// hold them all in memory at once.
    pub fn stream_invitees(
        &self,
        filter: &InviteeFilter,
    ) -> futures::stream::BoxStream<'static, Result<Invitee>> {
        let (sql, params) = filter.select();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Invitee>>>(4);
        let store = self.clone();
        tokio::spawn(async move {
            on_pool!(&store, pool => {
                // Rows travel in chunks: one hand-off per row costs more than the row.
                let mut rows = bind_params!(sqlx::query_as::<_, Invitee>(&sql), params)
                    .fetch(pool)
                    .chunks(STREAM_CHUNK);
                while let Some(chunk) = rows.next().await {
                    let chunk: Result<Vec<Invitee>> = chunk.into_iter().map(|r| r.map_err(Into::into)).collect();
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
                let items: Vec<Result<Invitee>> = match chunk {
                    Ok(rows) => rows.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(items)
            })
            .boxed()
    }

    pub async fn list_invitees(&self, filter: &InviteeFilter) -> Result<Vec<Invitee>> {
        let (sql, params) = filter.select();
        Ok(on_pool!(self, pool => {
            bind_params!(sqlx::query_as(&sql), params).fetch_all(pool).await?
        }))
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
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
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
            .await?
            .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            insert_event!(&mut *tx, event, now).await?;
            tx.commit().await?;
        });
        Ok(true)
    }

    /// The invitee linked to this Discord account, if any.
    pub async fn invitee_by_discord_id(&self, discord_user_id: &str) -> Result<Option<Invitee>> {
        let sql = format!("SELECT {COLUMNS} FROM invitees WHERE discord_user_id = $1");
        Ok(on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(discord_user_id).fetch_optional(pool).await?
        }))
    }

    /// Deletes one invitee; returns it, or None if there was none.
    pub async fn delete_invitee(&self, id: i64, event: &NewEvent) -> Result<Option<Invitee>> {
        let sql = format!("DELETE FROM invitees WHERE id = $1 RETURNING {COLUMNS}");
        let now = crate::domain::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted: Option<Invitee> = sqlx::query_as(&sql).bind(id).fetch_optional(&mut *tx).await?;
            if deleted.is_some() {
                insert_event!(&mut *tx, event, now).await?;
                tx.commit().await?;
            }
            Ok(deleted)
        })
    }

    /// Deletes every invitee; `event` is recorded with the count added to its detail.
    pub async fn delete_all_invitees(&self, mut event: NewEvent) -> Result<u64> {
        let now = crate::domain::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM invitees").execute(&mut *tx).await?.rows_affected();
            sqlx::query("DELETE FROM verification_failures").execute(&mut *tx).await?;
            event.detail["deleted"] = deleted.into();
            insert_event!(&mut *tx, &event, now).await?;
            tx.commit().await?;
            Ok(deleted)
        })
    }

    /// Starts an import; see [`ImportWriter`].
    pub async fn import_writer(&self) -> Result<ImportWriter> {
        Ok(match self {
            Store::Sqlite(pool) => ImportWriter::Sqlite {
                conn: pool.acquire().await?,
                pool: pool.clone(),
            },
            Store::Postgres(pool) => ImportWriter::Postgres(pool.clone()),
        })
    }
}

/// Writes an import's batches, each in a transaction of its own.
///
/// SQLite has one write lock for the whole database: one transaction for a whole file would
/// hold it for as long as the file takes, and every verification meanwhile would give up
/// after the busy timeout. Short transactions alone are not enough either, since SQLite's
/// waiters poll (up to every 100 ms) and would mostly find the lock taken again; so after
/// each batch the import lets the other connections of this process finish what they are
/// doing first (see [`ImportWriter::make_way`]).
pub enum ImportWriter {
    Sqlite {
        /// Held for the whole import, so that the other connections in use are others'.
        conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
        pool: sqlx::SqlitePool,
    },
    Postgres(sqlx::PgPool),
}

/// Longer than the longest pause of SQLite's busy handler (100 ms), so that a writer
/// already waiting tries again while the lock is free.
const MAKE_WAY_FOR: std::time::Duration = std::time::Duration::from_millis(150);

impl ImportWriter {
    /// Inserts the rows that are new and commits them, and says for each row whether it
    /// was inserted. Existing emails (including those committed by earlier batches), and
    /// repeats within the batch, are skipped.
    pub async fn insert(
        &mut self,
        rows: &[NewInvitee],
        now: DateTime<Utc>,
    ) -> Result<Vec<NewInviteeOutcome>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let inserted = match self {
            ImportWriter::Sqlite { conn, .. } => {
                let mut tx = sqlx::Connection::begin_with(&mut **conn, "BEGIN IMMEDIATE").await?;
                let mut inserted = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(SQLITE_INSERT_ROWS) {
                    let sql = values_insert_sql(chunk.len());
                    let mut query = sqlx::query_as::<_, (i64, String)>(&sql).bind(now);
                    for row in chunk {
                        query = query
                            .bind(row.email.as_str())
                            .bind(&row.name)
                            .bind(&row.college)
                            .bind(&row.branch)
                            .bind(&row.year);
                    }
                    inserted.extend(query.fetch_all(&mut *tx).await?);
                }
                tx.commit().await?;
                inserted
            }
            ImportWriter::Postgres(pool) => {
                let column = |f: fn(&NewInvitee) -> &str| rows.iter().map(f).collect::<Vec<_>>();
                // One statement is one transaction.
                sqlx::query_as::<_, (i64, String)>(
                    "INSERT INTO invitees (email, name, college, branch, year, created_at, updated_at) \
                     SELECT e, n, c, b, y, $6, $6 \
                     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(e, n, c, b, y) \
                     ON CONFLICT (email) DO NOTHING RETURNING id, email",
                )
                .bind(column(|r| r.email.as_str()))
                .bind(column(|r| &r.name))
                .bind(column(|r| &r.college))
                .bind(column(|r| &r.branch))
                .bind(column(|r| &r.year))
                .bind(now)
                .fetch_all(&*pool)
                .await?
            }
        };
        let mut ids: std::collections::HashMap<String, i64> =
            inserted.into_iter().map(|(id, e)| (e, id)).collect();
        // A repeated email inside one batch is inserted once: the first occurrence claims the id.
        Ok(rows
            .iter()
            .map(|row| match ids.remove(row.email.as_str()) {
                Some(id) => NewInviteeOutcome::Inserted { id },
                None => NewInviteeOutcome::Skipped,
            })
            .collect())
    }

    /// Between batches on SQLite: waits (up to [`MAKE_WAY_FOR`]) while any other
    /// connection of this process is in use, which is where a waiting verification is.
    /// With nobody else about it returns at once, so a lone import runs at full speed.
    /// Writers in other processes are not seen; they get in between batches by chance.
    pub async fn make_way(&self) {
        let ImportWriter::Sqlite { pool, .. } = self else {
            return;
        };
        let others_busy = || pool.size() as usize > pool.num_idle() + 1;
        let deadline = tokio::time::Instant::now() + MAKE_WAY_FOR;
        while others_busy() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Records an event (the import's summary) in a transaction of its own.
    pub async fn record_event(&mut self, event: &NewEvent, now: DateTime<Utc>) -> Result<()> {
        match self {
            ImportWriter::Sqlite { conn, .. } => {
                insert_event!(&mut **conn, event, now).await?;
            }
            ImportWriter::Postgres(pool) => {
                insert_event!(&*pool, event, now).await?;
            }
        }
        Ok(())
    }
}
