//! An admin's selection of invitees (a search and a status tab): a page read along an
//! index, the counts per status, and reading or deleting all that match. The SQL,
//! with each status's condition, is `selection_sql`'s.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::InviteeRow;
use super::filter::{LISTING_COLUMNS, bind_params};
use super::selection_sql::{Statement, page_statement, status_column};
use crate::domain::event::NewEvent;
use crate::domain::invitee::Invitee;
use crate::domain::invitee_status::{InviteePageRequest, InviteeSelection, InviteeStatus};
use crate::store::events::insert_event;
use crate::store::{BeginWrite, Op, Result, Store, on_pool, text_column};

text_column!(InviteeStatus);

/// An invitee with its status, as the admin's views list it (never its token).
#[derive(Debug, Clone)]
pub struct ListedInvitee {
    pub invitee: Invitee,
    pub status: InviteeStatus,
}

#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    row: InviteeRow,
    status: InviteeStatus,
}

impl From<ListedRow> for ListedInvitee {
    fn from(listed: ListedRow) -> Self {
        Self {
            invitee: listed.row.into(),
            status: listed.status,
        }
    }
}

/// A page of a selection, in its order, and whether pages lie on either side.
#[derive(Debug, Clone, Default)]
pub struct InviteePage {
    pub rows: Vec<ListedInvitee>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl Store {
    /// One page of the selection.
    pub async fn invitee_page(
        &self,
        request: &InviteePageRequest,
        now: DateTime<Utc>,
    ) -> Result<InviteePage> {
        let (sql, params, reversed) = page_statement(request, now);
        let rows: Vec<ListedRow> = on_pool!(self, pool => {
            bind_params!(sqlx::query_as(&sql), params)
                .fetch_all(pool)
                .await
                .op("listing a page of invitees")?
        });
        let mut rows: Vec<ListedInvitee> = rows.into_iter().map(ListedInvitee::from).collect();
        let more = rows.len() as i64 > request.size;
        rows.truncate(usize::try_from(request.size).unwrap_or(0));
        if reversed {
            rows.reverse();
        }
        let came_from_a_page = request.cursor.is_some();
        Ok(InviteePage {
            rows,
            has_previous: if reversed { more } else { came_from_a_page },
            has_next: if reversed { came_from_a_page } else { more },
        })
    }

    /// How the database means to read a page (its query plan), to check it follows an index.
    pub async fn explain_invitee_page(
        &self,
        request: &InviteePageRequest,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let (sql, params, _) = page_statement(request, now);
        let sqlite_sql = format!("EXPLAIN QUERY PLAN {sql}");
        let postgres_sql = format!("EXPLAIN {sql}");
        let lines: Vec<String> = match self {
            Store::Sqlite(pool) => {
                let rows: Vec<(i64, i64, i64, String)> =
                    bind_params!(sqlx::query_as(&sqlite_sql), params)
                        .fetch_all(pool)
                        .await
                        .op("explaining a page of invitees")?;
                rows.into_iter().map(|row| row.3).collect()
            }
            Store::Postgres(pool) => bind_params!(sqlx::query_scalar(&postgres_sql), params)
                .fetch_all(pool)
                .await
                .op("explaining a page of invitees")?,
        };
        Ok(lines.join("\n"))
    }

    /// How many of the invitees the search finds have each status.
    pub async fn count_by_status(
        &self,
        search: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<HashMap<InviteeStatus, i64>> {
        let selection = InviteeSelection {
            search: search.map(str::to_owned),
            status: None,
        };
        let mut statement = Statement::new(&selection, now);
        let now = statement.now();
        let sql = format!(
            "SELECT status, COUNT(*) FROM (SELECT {} AS status FROM invitees{}) AS s GROUP BY status",
            status_column(&now),
            statement.where_clause()
        );
        let rows: Vec<(InviteeStatus, i64)> = on_pool!(self, pool => {
            bind_params!(sqlx::query_as(&sql), statement.params)
                .fetch_all(pool)
                .await
                .op("counting invitees by status")?
        });
        Ok(rows.into_iter().collect())
    }

    /// How many invitees the selection holds.
    pub async fn count_selected(
        &self,
        selection: &InviteeSelection,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let statement = Statement::new(selection, now);
        let sql = format!("SELECT COUNT(*) FROM invitees{}", statement.where_clause());
        on_pool!(self, pool => {
            bind_params!(sqlx::query_scalar(&sql), statement.params)
                .fetch_one(pool)
                .await
                .op("counting selected invitees")
        })
    }

    /// Every invitee the selection holds, in id order.
    pub async fn selected_invitees(
        &self,
        selection: &InviteeSelection,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitee>> {
        let statement = Statement::new(selection, now);
        let sql = format!(
            "SELECT {LISTING_COLUMNS} FROM invitees{} ORDER BY id",
            statement.where_clause()
        );
        let rows: Vec<InviteeRow> = on_pool!(self, pool => {
            bind_params!(sqlx::query_as(&sql), statement.params)
                .fetch_all(pool)
                .await
                .op("reading selected invitees")?
        });
        Ok(rows.into_iter().map(Invitee::from).collect())
    }

    /// The selection with each invitee's status, in id order, read as it is consumed.
    pub fn stream_selected(
        &self,
        selection: &InviteeSelection,
        now: DateTime<Utc>,
    ) -> futures::stream::BoxStream<'static, Result<ListedInvitee>> {
        let mut statement = Statement::new(selection, now);
        let now = statement.now();
        let sql = format!(
            "SELECT {LISTING_COLUMNS}, {} AS status FROM invitees{} ORDER BY id",
            status_column(&now),
            statement.where_clause()
        );
        self.stream_rows::<ListedRow, ListedInvitee>(sql, statement.params, "exporting invitees")
    }

    /// Deletes every invitee the selection holds, recording `event` for each (with its
    /// id and email); returns how many were deleted.
    pub async fn delete_selected(
        &self,
        selection: &InviteeSelection,
        event: &NewEvent,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        const OP: &str = "deleting selected invitees";
        let statement = Statement::new(selection, now);
        let sql = format!(
            "DELETE FROM invitees{} RETURNING id, email",
            statement.where_clause()
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            let deleted: Vec<(i64, String)> = bind_params!(sqlx::query_as(&sql), statement.params)
                .fetch_all(&mut *tx)
                .await
                .op(OP)?;
            for (id, email) in &deleted {
                let mut event = event.clone();
                event.invitee_id = Some(*id);
                event.detail["email"] = email.as_str().into();
                insert_event!(&mut *tx, &event, now).await?;
            }
            tx.commit().await.op(OP)?;
            Ok(deleted.len() as u64)
        })
    }
}
