//! The append-only event log.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Result, Store, StoreError, on_pool};
use crate::domain::event::NewEvent;

pub(super) const INSERT_EVENT: &str = "INSERT INTO events (kind, invitee_id, actor, channel, detail, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Appends `$event` through any executor (a pool or the transaction that made the change,
/// so the log and the change commit together).
macro_rules! insert_event {
    ($executor:expr, $event:expr, $now:expr) => {{
        let event: &$crate::domain::event::NewEvent = $event;
        sqlx::query($crate::store::events::INSERT_EVENT)
            .bind(event.kind.as_str())
            .bind(event.invitee_id)
            .bind(event.actor.to_string())
            .bind(event.channel.map(|c| c.as_str()))
            .bind(event.detail.to_string())
            .bind($now)
            .execute($executor)
    }};
}
pub(crate) use insert_event;

/// One entry of the log, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventRecord {
    pub id: i64,
    #[schema(example = "verification_succeeded")]
    pub kind: String,
    pub invitee_id: Option<i64>,
    #[schema(example = "api_key")]
    pub actor: String,
    #[schema(example = "api")]
    pub channel: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    kind: String,
    invitee_id: Option<i64>,
    actor: String,
    channel: Option<String>,
    detail: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<EventRow> for EventRecord {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self> {
        let detail = serde_json::from_str(&row.detail)
            .map_err(|e| StoreError::Corrupt(format!("event {} detail: {e}", row.id)))?;
        Ok(Self {
            id: row.id,
            kind: row.kind,
            invitee_id: row.invitee_id,
            actor: row.actor,
            channel: row.channel,
            detail,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub kind: Option<String>,
    pub invitee_id: Option<i64>,
    /// An actor as stored (`ui`), or a kind of actor before its `:` (`discord_admin`).
    pub actor: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    pub async fn record_event(&self, event: &NewEvent) -> Result<()> {
        let now = crate::domain::now();
        on_pool!(self, pool => {
            insert_event!(pool, event, now).await?;
        });
        Ok(())
    }

    /// Events newest first.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>> {
        // A NULL parameter switches its condition off, so one statement serves every filter.
        let sql = "SELECT id, kind, invitee_id, actor, channel, detail, created_at FROM events \
                   WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR invitee_id = $2) \
                   AND ($5 IS NULL OR actor = $5 OR actor LIKE $5 || ':%') \
                   ORDER BY id DESC LIMIT $3 OFFSET $4";
        let rows: Vec<EventRow> = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(filter.kind.as_deref())
                .bind(filter.invitee_id)
                .bind(filter.limit)
                .bind(filter.offset)
                .bind(filter.actor.as_deref())
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(EventRecord::try_from).collect()
    }
}
