//! Emails: the queue and what was sent, with status, attempts and last error, filtered
//! and a page at a time; the queue's counts, refreshed while anything is queued; and a
//! test email. One email's own page is in `email_view`.

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
use crate::domain::{EmailState, MailRoute};
use crate::service::{BatchCounts, EmailFilter, EmailRecord};

const ERROR_CHARS: usize = 160;

/// One row of the emails table.
pub struct EmailRow {
    pub id: i64,
    pub recipient: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub attempts: i32,
    pub last_error: String,
    pub at: String,
    pub at_iso: String,
    pub can_retry: bool,
}

impl From<EmailRecord> for EmailRow {
    fn from(email: EmailRecord) -> Self {
        let mut last_error = email.last_error.unwrap_or_default();
        if let Some((cut, _)) = last_error.char_indices().nth(ERROR_CHARS) {
            last_error.truncate(cut);
            last_error.push('…');
        }
        let at = email.sent_at.unwrap_or(email.updated_at);
        Self {
            id: email.id,
            recipient: email.recipient,
            kind: email.kind.as_str(),
            status: email.status.as_str(),
            attempts: email.attempts,
            last_error,
            at: at.format("%Y-%m-%d %H:%M UTC").to_string(),
            at_iso: at.to_rfc3339(),
            can_retry: email.status == EmailState::Failed,
        }
    }
}

/// How a route is named on the page.
pub fn route_label(route: MailRoute) -> &'static str {
    match route {
        MailRoute::SendGrid => "SendGrid",
        MailRoute::Smtp => "SMTP",
        MailRoute::Outbox => "Local outbox",
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EmailsQuery {
    status: Option<String>,
    batch: Option<String>,
    invitee: Option<String>,
    page: Option<String>,
}

/// The query with anything unusable dropped.
struct Chosen {
    status: Option<EmailState>,
    batch: Option<String>,
    invitee: Option<i64>,
    page: i64,
}

impl Chosen {
    fn from(query: &EmailsQuery) -> Self {
        Self {
            status: given(query.status.as_deref()).and_then(|s| s.parse().ok()),
            batch: given(query.batch.as_deref())
                .filter(|b| b.len() <= 64 && b.chars().all(|c| c.is_ascii_alphanumeric()))
                .map(str::to_owned),
            invitee: filters::positive_id(query.invitee.as_deref()),
            page: filters::page_number(query.page.as_deref()),
        }
    }

    fn href(&self, page: i64) -> String {
        filters::href(
            "/admin/emails",
            [
                ("status", self.status.map(|s| s.as_str().to_owned())),
                ("batch", self.batch.clone()),
                ("invitee", self.invitee.map(|i| i.to_string())),
                ("page", (page > 1).then(|| page.to_string())),
            ],
        )
    }
}

/// The queue's counts; polls itself while anything is still queued.
#[derive(Template, WebTemplate)]
#[template(path = "emails_progress.html")]
pub struct Progress {
    pub counts: BatchCounts,
    pub batch: Option<String>,
    pub total: i64,
    pub done: i64,
    pub poll_href: String,
}

impl Progress {
    fn new(counts: BatchCounts, batch: Option<String>) -> Self {
        let poll_href = match &batch {
            Some(batch) => format!("/admin/emails/progress?batch={batch}"),
            None => "/admin/emails/progress".to_owned(),
        };
        Self {
            total: counts.sent + counts.failed + counts.queued + counts.cancelled,
            done: counts.sent + counts.failed + counts.cancelled,
            counts,
            batch,
            poll_href,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "emails.html")]
struct EmailsPage {
    layout: Layout,
    route: &'static str,
    is_outbox: bool,
    statuses: Vec<Choice>,
    batch: String,
    invitee: String,
    progress: Progress,
    results: Results,
}

impl std::ops::Deref for EmailsPage {
    type Target = Results;
    fn deref(&self) -> &Results {
        &self.results
    }
}

/// The part htmx swaps when a filter changes or a page turns.
#[derive(Template, WebTemplate)]
#[template(path = "emails.html", block = "results")]
struct Results {
    emails: Vec<EmailRow>,
    empty: &'static str,
    pager: Pager,
    csrf_token: String,
}

pub async fn page(
    signed_in: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EmailsQuery>,
) -> Response {
    let chosen = Chosen::from(&query);
    let read = async |limit, offset| {
        let filter = EmailFilter {
            status: chosen.status,
            batch_id: chosen.batch.clone(),
            invitee_id: chosen.invitee,
            limit,
            offset,
        };
        state.doorman.list_emails(&filter).await
    };
    let (emails, pager) = match read_page(chosen.page, |page| chosen.href(page), read).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let filtered = chosen.status.is_some() || chosen.batch.is_some() || chosen.invitee.is_some();
    let results = Results {
        emails: emails.into_iter().map(EmailRow::from).collect(),
        empty: if filtered {
            "No emails match these filters."
        } else {
            "No email has been queued yet."
        },
        pager,
        csrf_token: signed_in.session.csrf_token.clone(),
    };
    if wants_part(&headers) {
        return results.into_response();
    }
    let counts = match state.doorman.email_counts(chosen.batch.as_deref()).await {
        Ok(counts) => counts,
        Err(e) => return layout::internal(e),
    };
    let route = state.doorman.email_settings().route.kind();
    EmailsPage {
        layout: Layout::new(Section::Emails, &signed_in.session.csrf_token),
        route: route_label(route),
        is_outbox: route == MailRoute::Outbox,
        statuses: choices(
            EmailState::ALL.iter().map(|s| (s.as_str(), s.as_str())),
            chosen.status.map(EmailState::as_str),
        ),
        batch: chosen.batch.clone().unwrap_or_default(),
        invitee: chosen.invitee.map(|i| i.to_string()).unwrap_or_default(),
        progress: Progress::new(counts, chosen.batch.clone()),
        results,
    }
    .into_response()
}

/// The counts alone, for the progress panel's polling: of the batch the listing's query
/// names, whatever else it asks for.
pub async fn progress(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Query(query): Query<EmailsQuery>,
) -> Response {
    let chosen = Chosen::from(&EmailsQuery {
        batch: query.batch,
        ..EmailsQuery::default()
    });
    match state.doorman.email_counts(chosen.batch.as_deref()).await {
        Ok(counts) => Progress::new(counts, chosen.batch).into_response(),
        Err(e) => layout::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(status: &str, batch: &str, page: &str) -> Chosen {
        let some = |v: &str| Some(v.to_owned());
        Chosen::from(&EmailsQuery {
            status: some(status),
            batch: some(batch),
            invitee: None,
            page: some(page),
        })
    }

    #[test]
    fn the_counts_refresh_only_while_something_is_queued() {
        let counts = |queued| BatchCounts {
            sent: 7,
            failed: 1,
            queued,
            cancelled: 0,
        };
        let busy = Progress::new(counts(2), Some("b1".into()))
            .render()
            .unwrap();
        assert!(busy.contains("hx-trigger=\"every 2s\""), "{busy}");
        assert!(
            busy.contains("hx-get=\"/admin/emails/progress?batch=b1\""),
            "{busy}"
        );
        assert!(busy.contains("max=\"10\" value=\"8\""), "{busy}");
        let idle = Progress::new(counts(0), None).render().unwrap();
        assert!(!idle.contains("hx-trigger"), "{idle}");
    }

    #[test]
    fn unusable_filters_are_dropped() {
        let c = chosen("lost", "not a batch!", "-1");
        assert!(c.status.is_none() && c.batch.is_none());
        assert_eq!(c.page, 1);
        let c = chosen("failed", "abc123", "3");
        assert_eq!(c.status, Some(EmailState::Failed));
        assert_eq!(c.href(2), "/admin/emails?status=failed&batch=abc123&page=2");
        assert_eq!(chosen("", "", "").href(1), "/admin/emails");
    }
}
