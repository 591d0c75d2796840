//! Invitees: everyone invited, searched, by status tab, sorted and paged along an
//! index; bulk actions on a selection or on all that match; one invitee's actions; the
//! current view as CSV. The statuses and the email rules are the service's.

mod actions;
mod bulk;
mod export;
mod view;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::filters::{self, given};
use super::layout::{self, Layout, Section};
use super::session::SignedIn;
use crate::api::AppState;
use crate::domain::invitee_status::{
    InviteePageRequest, InviteeSelection, InviteeSort, InviteeStatus, PageCursor,
};
use view::{InviteeRow, SortChoice, Tab};

const PAGE_SIZE: i64 = 50;
/// Longer searches are cut: nobody types more, and it bounds the work.
const MAX_SEARCH_CHARS: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/invitees", get(page))
        .route("/admin/invitees/export.csv", get(export::csv))
        .route("/admin/invitees/bulk", post(bulk::review))
        .route("/admin/invitees/bulk/confirm", post(bulk::confirm))
        .route("/admin/invitees/{id}/resend", post(actions::resend))
        .route("/admin/invitees/{id}/token", post(actions::new_token))
        .route("/admin/invitees/{id}/verify", post(actions::verify))
        .route("/admin/invitees/{id}/unlink", post(actions::unlink))
        .route(
            "/admin/invitees/{id}/delete",
            get(actions::confirm_delete).post(actions::delete),
        )
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

/// The view a URL asks for, with anything unusable dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chosen {
    pub search: String,
    pub status: Option<InviteeStatus>,
    pub sort: InviteeSort,
    pub cursor: Option<PageCursor>,
}

impl Chosen {
    pub fn from_parts(q: Option<&str>, status: Option<&str>, sort: Option<&str>) -> Self {
        Self {
            search: given(q)
                .map(|q| q.chars().take(MAX_SEARCH_CHARS).collect())
                .unwrap_or_default(),
            status: given(status).and_then(|s| s.parse().ok()),
            sort: given(sort).and_then(|s| s.parse().ok()).unwrap_or_default(),
            cursor: None,
        }
    }

    fn from(query: &ListQuery) -> Self {
        let id = |v: &Option<String>| filters::positive_id(v.as_deref());
        Self {
            cursor: id(&query.after)
                .map(PageCursor::After)
                .or_else(|| id(&query.before).map(PageCursor::Before)),
            ..Self::from_parts(
                query.q.as_deref(),
                query.status.as_deref(),
                query.sort.as_deref(),
            )
        }
    }

    pub fn selection(&self) -> InviteeSelection {
        InviteeSelection {
            search: (!self.search.is_empty()).then(|| self.search.clone()),
            status: self.status,
        }
    }

    /// The listing's address for this view with another status and cursor.
    fn href_with(&self, status: Option<InviteeStatus>, cursor: Option<PageCursor>) -> String {
        let (after, before) = match cursor {
            Some(PageCursor::After(id)) => (Some(id), None),
            Some(PageCursor::Before(id)) => (None, Some(id)),
            None => (None, None),
        };
        filters::href(
            "/admin/invitees",
            [
                ("q", (!self.search.is_empty()).then(|| self.search.clone())),
                ("status", status.map(|s| s.as_str().to_owned())),
                (
                    "sort",
                    (self.sort != InviteeSort::default()).then(|| self.sort.as_str().to_owned()),
                ),
                ("after", after.map(|id: i64| id.to_string())),
                ("before", before.map(|id: i64| id.to_string())),
            ],
        )
    }

    /// This view's address, on its first page.
    pub fn href(&self) -> String {
        self.href_with(self.status, None)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invitees.html")]
struct InviteesPage {
    layout: Layout,
    search: String,
    sorts: Vec<SortChoice>,
    script_url: String,
    results: Results,
}

impl std::ops::Deref for InviteesPage {
    type Target = Results;
    fn deref(&self) -> &Results {
        &self.results
    }
}

/// What htmx swaps when the search, the tab, the sort or the page changes.
#[derive(Template, WebTemplate)]
#[template(path = "invitees.html", block = "results")]
struct Results {
    csrf_token: String,
    tabs: Vec<Tab>,
    rows: Vec<InviteeRow>,
    status: String,
    search: String,
    matching: i64,
    here: String,
    export_href: String,
    previous_href: Option<String>,
    next_href: Option<String>,
    empty: &'static str,
}

pub async fn page(
    signed_in: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let chosen = Chosen::from(&query);
    let request = InviteePageRequest {
        selection: chosen.selection(),
        sort: chosen.sort,
        cursor: chosen.cursor,
        size: PAGE_SIZE,
    };
    let search = given(Some(&chosen.search));
    let (page, counts) = match tokio::try_join!(
        state.doorman.invitee_page(&request),
        state.doorman.invitee_counts(search)
    ) {
        Ok(found) => found,
        Err(e) => return layout::internal(e),
    };
    let now = state.doorman.now();
    let matching = chosen.status.map_or(counts.total, |s| counts.of(s));
    let first = page.rows.first().map(|r| r.invitee.id);
    let last = page.rows.last().map(|r| r.invitee.id);
    let mut export = chosen.clone();
    export.cursor = None;
    let export_href = export
        .href()
        .replacen("/admin/invitees", "/admin/invitees/export.csv", 1);
    let results = Results {
        csrf_token: signed_in.session.csrf_token.clone(),
        tabs: view::tabs(&chosen, &counts),
        rows: page
            .rows
            .into_iter()
            .map(|r| InviteeRow::new(r, now))
            .collect(),
        status: chosen
            .status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        search: chosen.search.clone(),
        matching,
        here: chosen.href_with(chosen.status, chosen.cursor),
        export_href,
        previous_href: page
            .has_previous
            .then(|| first.map(|id| chosen.href_with(chosen.status, Some(PageCursor::Before(id)))))
            .flatten(),
        next_href: page
            .has_next
            .then(|| last.map(|id| chosen.href_with(chosen.status, Some(PageCursor::After(id)))))
            .flatten(),
        empty: if counts.total == 0 && chosen.search.is_empty() {
            "Nobody is invited yet: import a CSV of invitees first."
        } else {
            "Nobody here matches."
        },
    };
    if crate::web::paging::wants_part(&headers) {
        return results.into_response();
    }
    InviteesPage {
        layout: Layout::new(Section::Invitees, &signed_in.session.csrf_token),
        search: chosen.search.clone(),
        sorts: view::sorts(chosen.sort),
        script_url: super::assets::url("invitees.js"),
        results,
    }
    .into_response()
}

/// Where a form says to go back to: only the listing itself, never elsewhere.
pub fn back_to(given: Option<&str>) -> String {
    given
        .filter(|href| {
            (*href == "/admin/invitees" || href.starts_with("/admin/invitees?"))
                && !href.contains(['\r', '\n'])
        })
        .unwrap_or("/admin/invitees")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str, status: &str, sort: &str, after: &str) -> ListQuery {
        let some = |v: &str| Some(v.to_owned());
        ListQuery {
            q: some(q),
            status: some(status),
            sort: some(sort),
            after: some(after),
            before: None,
        }
    }

    #[test]
    fn unusable_choices_are_dropped() {
        let c = Chosen::from(&query("  ", "nonsense", "sideways", "-4"));
        assert_eq!(c, Chosen::default());
        let c = Chosen::from(&query(" ana ", "expired", "email_desc", "12"));
        assert_eq!(c.search, "ana");
        assert_eq!(c.status, Some(InviteeStatus::Expired));
        assert_eq!(c.sort, InviteeSort::EmailZa);
        assert_eq!(c.cursor, Some(PageCursor::After(12)));
    }

    #[test]
    fn links_keep_the_view() {
        let c = Chosen::from(&query("a&b", "verified", "newest", "3"));
        assert_eq!(
            c.href(),
            "/admin/invitees?q=a%26b&status=verified&sort=newest"
        );
        assert_eq!(
            c.href_with(None, Some(PageCursor::Before(9))),
            "/admin/invitees?q=a%26b&sort=newest&before=9"
        );
        assert_eq!(Chosen::default().href(), "/admin/invitees");
    }

    #[test]
    fn going_back_stays_on_the_listing() {
        assert_eq!(back_to(Some("/admin/invitees?q=x")), "/admin/invitees?q=x");
        for elsewhere in [
            "https://evil.example",
            "//evil.example",
            "/admin/invitees.evil",
            "/api",
        ] {
            assert_eq!(back_to(Some(elsewhere)), "/admin/invitees", "{elsewhere}");
        }
        assert_eq!(back_to(None), "/admin/invitees");
    }
}
