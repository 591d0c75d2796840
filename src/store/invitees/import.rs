//! Writing an import's batches of new invitees.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::super::{Op, Result, Store, events::insert_event};
use crate::domain::event::NewEvent;
use crate::domain::invitee::NewInvitee;

/// Rows the importer hands over at a time.
pub const INSERT_BATCH_ROWS: usize = 1000;

/// Rows per INSERT on SQLite. Binding a parameter costs time proportional to the
/// statement's parameter count (SQLite looks names up in a list), so large statements
/// get quadratically slow; PostgreSQL takes a whole batch as five arrays instead.
const SQLITE_INSERT_ROWS: usize = 50;

const OP: &str = "importing invitees";

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
    /// Which of these emails are invited already.
    pub async fn existing_emails(&self, emails: &[&str]) -> Result<HashSet<String>> {
        if emails.is_empty() {
            return Ok(HashSet::new());
        }
        let op = "looking up emails to import";
        let found: Vec<(String,)> = match self {
            Store::Sqlite(pool) => {
                let list = serde_json::to_string(emails).expect("strings serialize");
                sqlx::query_as(
                    "SELECT email FROM invitees WHERE email IN (SELECT value FROM json_each($1))",
                )
                .bind(list)
                .fetch_all(pool)
                .await
                .op(op)?
            }
            Store::Postgres(pool) => {
                sqlx::query_as("SELECT email FROM invitees WHERE email = ANY($1::text[])")
                    .bind(emails)
                    .fetch_all(pool)
                    .await
                    .op(op)?
            }
        };
        Ok(found.into_iter().map(|(email,)| email).collect())
    }

    /// Starts an import; see [`ImportWriter`].
    pub async fn import_writer(&self) -> Result<ImportWriter> {
        Ok(match self {
            Store::Sqlite(pool) => ImportWriter::Sqlite {
                conn: pool.acquire().await.op(OP)?,
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
                let mut tx = sqlx::Connection::begin_with(&mut **conn, "BEGIN IMMEDIATE")
                    .await
                    .op(OP)?;
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
                    inserted.extend(query.fetch_all(&mut *tx).await.op(OP)?);
                }
                tx.commit().await.op(OP)?;
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
                .await
                .op(OP)?
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
