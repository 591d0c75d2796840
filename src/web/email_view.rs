//! One email: its record, its contents rendered as the recipient would see them (local
//! outbox only, in a sandboxed frame whose links go nowhere), retrying it if it failed;
//! and the test email form's answer.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::emails::{EmailRow, route_label};
use super::layout::{self, Layout, Section};
use super::session::SignedIn;
use crate::api::AppState;
use crate::domain::event::Actor;
use crate::service::{EmailRecord, ServiceError};

/// For the email's own document: nothing runs, nothing loads but its inline styles and
/// images, no form goes anywhere, and only doorman's own pages may frame it. `sandbox`
/// holds even if the address is opened on its own, outside the frame.
pub const BODY_POLICY: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; \
     img-src data: https:; font-src data: https:; form-action 'none'; frame-ancestors 'self'";

/// Opens every link in a new window, which the frame's sandbox (without `allow-popups`)
/// refuses: a click goes nowhere.
const INERT_LINKS: &str = "<base target=\"_blank\">";

struct Detail {
    row: EmailRow,
    route: &'static str,
    subject: Option<String>,
    text_body: Option<String>,
    has_body: bool,
    created_at: String,
    sent_at: Option<String>,
    next_attempt_at: Option<String>,
    provider_message_id: Option<String>,
    full_error: Option<String>,
    invitee_id: Option<i64>,
}

impl From<EmailRecord> for Detail {
    fn from(email: EmailRecord) -> Self {
        let time =
            |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        let queued = email.status == crate::domain::EmailState::Queued;
        Self {
            route: route_label(email.route),
            subject: email.subject.clone(),
            text_body: email.text_body.clone(),
            has_body: email.html_body.is_some(),
            created_at: time(email.created_at),
            sent_at: email.sent_at.map(time),
            next_attempt_at: queued.then(|| time(email.next_attempt_at)),
            provider_message_id: email.provider_message_id.clone(),
            full_error: email.last_error.clone(),
            invitee_id: email.invitee_id,
            row: EmailRow::from(email),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "email.html")]
struct EmailPage {
    layout: Layout,
    email: Detail,
    notice: Option<&'static str>,
}

fn not_found() -> Response {
    layout::problem(
        StatusCode::NOT_FOUND,
        "No such email",
        "There is no email with this number in doorman's queue or outbox.",
    )
}

async fn record(state: &AppState, id: i64) -> Result<EmailRecord, Response> {
    match state.doorman.email_record(id).await {
        Ok(email) => Ok(email),
        Err(ServiceError::NotFound) => Err(not_found()),
        Err(e) => Err(layout::internal(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    retried: Option<String>,
}

pub async fn show(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::extract::Query(query): axum::extract::Query<ShowQuery>,
) -> Response {
    let email = match record(&state, id).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    EmailPage {
        layout: Layout::new(Section::Emails, &signed_in.session.csrf_token),
        email: Detail::from(email),
        notice: query
            .retried
            .is_some()
            .then_some("The email is back on the queue and will be sent again shortly."),
    }
    .into_response()
}

/// The email's HTML exactly as sent, for the sandboxed frame.
pub async fn body(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    let email = match record(&state, id).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    let Some(html) = email.html_body else {
        return not_found();
    };
    let mut response = Html(with_inert_links(&html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(BODY_POLICY),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    response
}

/// The email with [`INERT_LINKS`] first in its `<head>` (after the doctype otherwise), so
/// that it renders as it would have without it, in standards mode.
fn with_inert_links(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let after = |tag: &str| {
        lower
            .find(tag)
            .and_then(|start| lower[start..].find('>').map(|end| start + end + 1))
    };
    let at = after("<head").or_else(|| after("<!doctype")).unwrap_or(0);
    format!("{}{INERT_LINKS}{}", &html[..at], &html[at..])
}

pub async fn retry(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    match state.doorman.retry_email(id, Actor::Ui).await {
        Ok(_) => Redirect::to(&format!("/admin/emails/{id}?retried=1")).into_response(),
        Err(ServiceError::NotFound) => not_found(),
        Err(ServiceError::Invalid(_)) => layout::problem(
            StatusCode::CONFLICT,
            "This email has not failed",
            "Only an email that failed can be retried. It may have been retried already.",
        ),
        Err(e) => layout::internal(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct TestForm {
    to: String,
}

/// What the provider answered to a test email.
#[derive(Template, WebTemplate)]
#[template(path = "email_test_result.html")]
struct TestResult {
    success: bool,
    to: String,
    route: &'static str,
    status: Option<u16>,
    response: String,
    email_id: Option<i64>,
    refusal: Option<String>,
}

pub async fn send_test(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<TestForm>,
) -> Response {
    let route = route_label(state.doorman.email_settings().route.kind());
    let result = match state.doorman.send_test_email(&form.to, Actor::Ui).await {
        Ok(report) => TestResult {
            success: report.success,
            to: report.to,
            route,
            status: report.status,
            response: report.provider_response,
            email_id: report.email_id,
            refusal: None,
        },
        Err(ServiceError::Invalid(message)) => TestResult {
            success: false,
            to: form.to.trim().to_owned(),
            route,
            status: None,
            response: String::new(),
            email_id: None,
            refusal: Some(message),
        },
        Err(e) => return layout::internal(e),
    };
    if headers.contains_key("hx-request") {
        return result.into_response();
    }
    // Without script, the form leads to the email sent, or back to the page.
    match result.email_id {
        Some(id) => Redirect::to(&format!("/admin/emails/{id}")).into_response(),
        None => (StatusCode::UNPROCESSABLE_ENTITY, result).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::with_inert_links;

    #[test]
    fn links_are_made_inert_inside_the_head() {
        let base = "<base target=\"_blank\">";
        assert_eq!(
            with_inert_links("<!doctype html>\n<HTML><Head lang=x><title>t</title>"),
            format!("<!doctype html>\n<HTML><Head lang=x>{base}<title>t</title>")
        );
        assert_eq!(
            with_inert_links("<!DOCTYPE html><p>hi"),
            format!("<!DOCTYPE html>{base}<p>hi")
        );
        assert_eq!(with_inert_links("<p>hi"), format!("{base}<p>hi"));
    }
}
