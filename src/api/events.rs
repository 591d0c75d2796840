//! `GET /api/events`: the event log, newest first.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{AuthErrors, ServerErrors, TimeoutErrors};
use super::extract::ApiQuery;
use super::views::EventView;
use super::{ApiError, AppState, ErrorBody};
use crate::domain::event::{EventFilter, EventKind};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events of this kind (e.g. `verification_failed`).
    #[param(schema_with = event_kind_schema)]
    kind: Option<String>,
    /// Only events about this invitee.
    invitee_id: Option<i64>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    #[serde(default)]
    #[param(minimum = 0)]
    offset: i64,
}

fn event_kind_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(EventKind::ALL.iter().map(|k| k.as_str())))
        .build()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<EventView>,
    pub limit: i64,
    pub offset: i64,
    /// The offset of the next page, if there may be one.
    pub next_offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/events", tag = "events", params(EventsQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = EventsPage),
        (status = 400, body = ErrorBody, description = "a malformed or out-of-range parameter, or an unknown kind"),
        AuthErrors, ServerErrors, TimeoutErrors,
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventsPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) || query.offset < 0 {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, and offset not negative"
        )));
    }
    let kind = query.kind.as_deref().map(parse_kind).transpose()?;
    let filter = EventFilter {
        kind,
        invitee_id: query.invitee_id,
        actor: None,
        limit,
        offset: query.offset,
    };
    let events: Vec<EventView> = state
        .doorman
        .events(&filter)
        .await?
        .into_iter()
        .map(EventView::from)
        .collect();
    let next_offset = (events.len() as i64 == limit)
        .then(|| query.offset.checked_add(limit))
        .flatten();
    Ok(Json(EventsPage {
        events,
        limit,
        offset: query.offset,
        next_offset,
    }))
}

fn parse_kind(kind: &str) -> Result<EventKind, ApiError> {
    EventKind::parse(kind).ok_or_else(|| {
        let known: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::BadRequest(format!(
            "Unknown event kind '{kind}'; known kinds: {}",
            known.join(", ")
        ))
    })
}
