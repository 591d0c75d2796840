//! An admin's selection of invitees (a search and a status tab): the status rule as SQL,
//! a page read along an index, the counts per status, and reading or deleting all that
//! match. Each status's condition is written here once; every use builds on it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use super::filter::{LISTING_COLUMNS, Param, bind_params, escape_like};
use super::{InviteeRow, STREAM_CHUNK};
use crate::domain::EmailStatus;
use crate::domain::event::NewEvent;
use crate::domain::invitee::Invitee;
use crate::domain::invitee_status::{
    InviteePageRequest, InviteeSelection, InviteeSort, InviteeStatus, PageCursor,
};
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

fn words(statuses: &[EmailStatus]) -> String {
    let quoted: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", quoted.join(", "))
}

/// Whether an invitee fits `status`, before asking whether an earlier status took it.
fn fits(status: InviteeStatus, now: &str) -> String {
    use EmailStatus::{Bounced, Delivered, Dropped, Failed, Queued, Sent};
    match status {
        InviteeStatus::Verified => "is_verified = TRUE".into(),
        InviteeStatus::BouncedOrFailed => {
            format!("email_status IN {}", words(&[Bounced, Dropped, Failed]))
        }
        InviteeStatus::Expired => {
            format!("(token_expires_at IS NOT NULL AND token_expires_at <= {now})")
        }
        InviteeStatus::Delivered => format!("email_status IN {}", words(&[Delivered])),
        InviteeStatus::Emailed => format!("email_status IN {}", words(&[Queued, Sent])),
        InviteeStatus::NotEmailed => "TRUE".into(),
    }
}

/// Exactly the invitees whose status is `status`: it fits, and no status before it does.
fn is_status(status: InviteeStatus, now: &str) -> String {
    let mut parts: Vec<String> = InviteeStatus::ALL
        .iter()
        .take_while(|earlier| **earlier != status)
        .map(|earlier| format!("NOT ({})", fits(*earlier, now)))
        .collect();
    parts.push(fits(status, now));
    format!("({})", parts.join(" AND "))
}

/// Each invitee's status, as a column: the first that fits.
fn status_column(now: &str) -> String {
    let cases: Vec<String> = InviteeStatus::ALL
        .iter()
        .map(|status| format!("WHEN {} THEN '{}'", fits(*status, now), status.as_str()))
        .collect();
    format!("CASE {} END", cases.join(" "))
}

/// A statement's parameters, `now` among them only once something needs it.
struct Statement {
    params: Vec<Param>,
    now: DateTime<Utc>,
    now_placeholder: Option<String>,
    conditions: Vec<String>,
}

impl Statement {
    fn new(selection: &InviteeSelection, now: DateTime<Utc>) -> Self {
        let mut statement = Self {
            params: Vec::new(),
            now,
            now_placeholder: None,
            conditions: Vec::new(),
        };
        if let Some(search) = selection
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let like = format!("%{}%", escape_like(&search.to_lowercase()));
            let n = statement.push(Param::Text(like));
            statement.conditions.push(format!(
                "(email LIKE {n} ESCAPE '\\' OR lower(name) LIKE {n} ESCAPE '\\')"
            ));
        }
        if let Some(status) = selection.status {
            let now = statement.now();
            statement.conditions.push(is_status(status, &now));
        }
        statement
    }

    fn push(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    fn now(&mut self) -> String {
        if let Some(placeholder) = &self.now_placeholder {
            return placeholder.clone();
        }
        let placeholder = self.push(Param::Time(self.now));
        self.now_placeholder = Some(placeholder.clone());
        placeholder
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }
}

/// The page's SELECT: keyset paging along the sort's index, one row more than the page
/// to know whether another follows. `reversed`: read backwards (a previous page).
fn page_statement(request: &InviteePageRequest, now: DateTime<Utc>) -> (String, Vec<Param>, bool) {
    let mut statement = Statement::new(&request.selection, now);
    let (key, ascending) = match request.sort {
        InviteeSort::Oldest => ("id", true),
        InviteeSort::Newest => ("id", false),
        InviteeSort::EmailAz => ("email", true),
        InviteeSort::EmailZa => ("email", false),
    };
    let reversed = matches!(request.cursor, Some(PageCursor::Before(_)));
    if let Some(PageCursor::After(id) | PageCursor::Before(id)) = request.cursor {
        let n = statement.push(Param::Int(id));
        let value = if key == "id" {
            n
        } else {
            format!("(SELECT {key} FROM invitees WHERE id = {n})")
        };
        let op = if ascending != reversed { ">" } else { "<" };
        statement.conditions.push(format!("{key} {op} {value}"));
    }
    let direction = if ascending != reversed { "ASC" } else { "DESC" };
    let now = statement.now();
    let limit = statement.push(Param::Int(request.size + 1));
    let sql = format!(
        "SELECT {LISTING_COLUMNS}, {} AS status FROM invitees{} ORDER BY {key} {direction} LIMIT {limit}",
        status_column(&now),
        statement.where_clause()
    );
    (sql, statement.params, reversed)
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
        let params = statement.params;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<ListedInvitee>>>(4);
        let store = self.clone();
        tokio::spawn(async move {
            on_pool!(&store, pool => {
                let mut rows = bind_params!(sqlx::query_as::<_, ListedRow>(&sql), params)
                    .fetch(pool)
                    .chunks(STREAM_CHUNK);
                while let Some(chunk) = rows.next().await {
                    let chunk: Result<Vec<ListedInvitee>> = chunk
                        .into_iter()
                        .map(|row| row.map(ListedInvitee::from).op("exporting invitees"))
                        .collect();
                    let failed = chunk.is_err();
                    if tx.send(chunk).await.is_err() || failed {
                        break;
                    }
                }
            })
        });
        ReceiverStream::new(rx)
            .flat_map(|chunk| {
                let items: Vec<Result<ListedInvitee>> = match chunk {
                    Ok(rows) => rows.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(items)
            })
            .boxed()
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
