//! The append-only event log.

use chrono::{DateTime, Utc};

use super::{Op, Result, Store, StoreError, on_pool};
use crate::domain::event::{Actor, Channel, EventFilter, EventKind, NewEvent, RecordedEvent};

pub(super) const INSERT_EVENT: &str = "INSERT INTO events (kind, invitee_id, actor, channel, detail, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Appends `$event` through any executor (a pool or the transaction that made the change,
/// so the log and the change commit together). Evaluates to a future of the store's
/// `Result`.
macro_rules! insert_event {
    ($executor:expr, $event:expr, $now:expr) => {{
        let event: &$crate::domain::event::NewEvent = $event;
        let executor = $executor;
        let query = sqlx::query($crate::store::events::INSERT_EVENT)
            .bind(event.kind.as_str())
            .bind(event.invitee_id)
            .bind(event.actor.to_string())
            .bind(event.channel.map(|c| c.as_str()))
            .bind(event.detail.to_string())
            .bind($now);
        async move { $crate::store::Op::op(query.execute(executor).await, "recording an event") }
    }};
}
pub(crate) use insert_event;

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

impl TryFrom<EventRow> for RecordedEvent {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("event {} {what}", row.id));
        let detail =
            serde_json::from_str(&row.detail).map_err(|e| corrupt(&format!("detail: {e}")))?;
        let kind = EventKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?;
        let actor = Actor::parse(&row.actor).ok_or_else(|| corrupt("actor"))?;
        let channel = match row.channel.as_deref() {
            None => None,
            Some(name) => Some(Channel::parse(name).ok_or_else(|| corrupt("channel"))?),
        };
        Ok(Self {
            id: row.id,
            kind,
            invitee_id: row.invitee_id,
            actor,
            channel,
            detail,
            created_at: row.created_at,
        })
    }
}

impl Store {
    pub async fn record_event(&self, event: &NewEvent, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => {
            insert_event!(pool, event, now).await?;
        });
        Ok(())
    }

    /// Events newest first.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<RecordedEvent>> {
        // A NULL parameter switches its condition off, so one statement serves every filter.
        let sql = "SELECT id, kind, invitee_id, actor, channel, detail, created_at FROM events \
                   WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR invitee_id = $2) \
                   AND ($5 IS NULL OR actor = $5 OR actor LIKE $5 || ':%') \
                   ORDER BY id DESC LIMIT $3 OFFSET $4";
        let rows: Vec<EventRow> = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(filter.kind.map(EventKind::as_str))
                .bind(filter.invitee_id)
                .bind(filter.limit)
                .bind(filter.offset)
                .bind(filter.actor.as_deref())
                .fetch_all(pool)
                .await
                .op("listing events")?
        });
        rows.into_iter().map(RecordedEvent::try_from).collect()
    }
}
