//! Events: the audit log, filterable by kind, actor and invitee, a page at a time.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::filters::{self, Choice, choices, given};
use super::layout::{self, Layout, Section};
use super::paging::{Pager, read_page, wants_part};
use super::session::SignedIn;
use crate::api::AppState;
use crate::domain::event::EventKind;
use crate::domain::event::{EventFilter, RecordedEvent};

const DETAIL_CHARS: usize = 240;

/// The actors the filter offers: the stored word, or its part before `:`.
const ACTORS: [(&str, &str); 6] = [
    ("ui", "Admin UI"),
    ("api_key", "API (admin key)"),
    ("cli", "Command line"),
    ("discord_admin", "Discord admin"),
    ("invitee", "Invitee"),
    ("system", "doorman itself"),
];

/// One row of an events table.
pub struct EventRow {
    pub at: String,
    pub at_iso: String,
    pub kind: String,
    pub actor: String,
    pub invitee_id: Option<i64>,
    pub detail: String,
}

impl From<RecordedEvent> for EventRow {
    fn from(event: RecordedEvent) -> Self {
        let mut detail = readable(&event.detail);
        if let Some((cut, _)) = detail.char_indices().nth(DETAIL_CHARS) {
            detail.truncate(cut);
            detail.push('…');
        }
        Self {
            at: event.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            at_iso: event.created_at.to_rfc3339(),
            kind: event.kind.as_str().to_owned(),
            actor: actor_label(&event.actor.to_string()),
            invitee_id: event.invitee_id,
            detail,
        }
    }
}

/// An event's detail as `name: value` pairs, for reading rather than parsing.
fn readable(detail: &serde_json::Value) -> String {
    use serde_json::Value;
    let Value::Object(map) = detail else {
        return detail.to_string();
    };
    map.iter()
        .map(|(name, value)| match value {
            Value::String(text) => format!("{name}: {text}"),
            Value::Null => format!("{name}: —"),
            other => format!("{name}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn actor_label(actor: &str) -> String {
    match actor.split_once(':') {
        Some(("discord_admin", user)) => format!("Discord admin {user}"),
        _ => ACTORS
            .iter()
            .find(|(word, _)| *word == actor)
            .map_or_else(|| actor.to_owned(), |(_, label)| (*label).to_owned()),
    }
}

/// The latest `count` events of `kind` (of any kind: `None`), newest first.
pub async fn latest(
    state: &AppState,
    kind: Option<EventKind>,
    count: i64,
) -> Result<Vec<RecordedEvent>, Response> {
    let filter = EventFilter {
        kind,
        limit: count,
        ..EventFilter::default()
    };
    state
        .doorman
        .events(&filter)
        .await
        .map_err(layout::internal)
}

#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    kind: Option<String>,
    actor: Option<String>,
    invitee: Option<String>,
    page: Option<String>,
}

/// The query with anything unusable dropped: a filter that cannot match is no filter.
struct Chosen {
    kind: Option<EventKind>,
    actor: Option<&'static str>,
    invitee: Option<i64>,
    page: i64,
}

impl Chosen {
    fn from(query: &EventsQuery) -> Self {
        Self {
            kind: given(query.kind.as_deref()).and_then(EventKind::parse),
            actor: given(query.actor.as_deref()).and_then(|a| {
                ACTORS
                    .iter()
                    .find(|(word, _)| *word == a)
                    .map(|(word, _)| *word)
            }),
            invitee: filters::positive_id(query.invitee.as_deref()),
            page: filters::page_number(query.page.as_deref()),
        }
    }

    fn href(&self, page: i64) -> String {
        filters::href(
            "/admin/events",
            [
                ("kind", self.kind.map(|kind| kind.as_str().to_owned())),
                ("actor", self.actor.map(str::to_owned)),
                ("invitee", self.invitee.map(|i| i.to_string())),
                ("page", (page > 1).then(|| page.to_string())),
            ],
        )
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "events.html")]
struct EventsPage {
    layout: Layout,
    kinds: Vec<Choice>,
    actors: Vec<Choice>,
    invitee: String,
    results: Results,
}

/// The page's template reads the results' fields as its own.
impl std::ops::Deref for EventsPage {
    type Target = Results;
    fn deref(&self) -> &Results {
        &self.results
    }
}

/// The part htmx swaps when a filter changes or a page turns.
#[derive(Template, WebTemplate)]
#[template(path = "events.html", block = "results")]
struct Results {
    events: Vec<EventRow>,
    empty: &'static str,
    pager: Pager,
}

pub async fn page(
    signed_in: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Response {
    let chosen = Chosen::from(&query);
    let read = async |limit, offset| {
        let filter = EventFilter {
            kind: chosen.kind,
            invitee_id: chosen.invitee,
            actor: chosen.actor.map(str::to_owned),
            limit,
            offset,
        };
        state.doorman.events(&filter).await
    };
    let (events, pager) = match read_page(chosen.page, |page| chosen.href(page), read).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let filtered = chosen.kind.is_some() || chosen.actor.is_some() || chosen.invitee.is_some();
    let results = Results {
        events: events.into_iter().map(EventRow::from).collect(),
        empty: if filtered {
            "No events match these filters."
        } else {
            "Nothing has happened yet."
        },
        pager,
    };
    if wants_part(&headers) {
        return results.into_response();
    }
    EventsPage {
        layout: Layout::new(Section::Events, &signed_in.session.csrf_token),
        kinds: choices(
            EventKind::ALL.iter().map(|k| (k.as_str(), k.as_str())),
            chosen.kind.map(EventKind::as_str),
        ),
        actors: choices(ACTORS, chosen.actor),
        invitee: chosen.invitee.map(|i| i.to_string()).unwrap_or_default(),
        results,
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(kind: &str, actor: &str, invitee: &str, page: &str) -> Chosen {
        let some = |v: &str| Some(v.to_owned());
        Chosen::from(&EventsQuery {
            kind: some(kind),
            actor: some(actor),
            invitee: some(invitee),
            page: some(page),
        })
    }

    #[test]
    fn unusable_filters_are_dropped() {
        let c = chosen("no_such_kind", "someone", "-3", "0");
        assert!(c.kind.is_none() && c.actor.is_none() && c.invitee.is_none());
        assert_eq!(c.page, 1);
        let c = chosen("ui_signed_in", "ui", "7", "999999999");
        assert_eq!(c.kind, Some(EventKind::UiSignedIn));
        assert_eq!(c.actor, Some("ui"));
        assert_eq!(c.invitee, Some(7));
        assert_eq!(c.page, filters::MAX_PAGE);
    }

    #[test]
    fn page_links_keep_the_filters() {
        let c = chosen("ui_signed_in", "discord_admin", "", "2");
        assert_eq!(
            c.href(1),
            "/admin/events?kind=ui_signed_in&actor=discord_admin"
        );
        assert_eq!(
            c.href(3),
            "/admin/events?kind=ui_signed_in&actor=discord_admin&page=3"
        );
        assert_eq!(chosen("", "", "", "").href(1), "/admin/events");
    }

    #[test]
    fn details_read_as_pairs() {
        let detail = serde_json::json!({ "address": "127.0.0.1", "count": 3, "gone": null });
        assert_eq!(readable(&detail), "address: 127.0.0.1 · count: 3 · gone: —");
        assert_eq!(readable(&serde_json::json!({})), "");
    }

    #[test]
    fn actors_read_as_words() {
        assert_eq!(actor_label("ui"), "Admin UI");
        assert_eq!(actor_label("discord_admin:42"), "Discord admin 42");
        assert_eq!(actor_label("something_new"), "something_new");
    }
}
