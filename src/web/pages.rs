//! Sections whose pages come next, and pages that do not exist.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::layout::{self, Layout, Section};
use super::session::SignedIn;

#[derive(Template, WebTemplate)]
#[template(path = "coming.html")]
struct ComingPage {
    layout: Layout,
    title: &'static str,
    purpose: &'static str,
}

fn coming(signed_in: &SignedIn, section: Section, purpose: &'static str) -> Response {
    ComingPage {
        layout: Layout::new(section, &signed_in.session.csrf_token),
        title: section.label(),
        purpose,
    }
    .into_response()
}

pub async fn invitees(signed_in: SignedIn) -> Response {
    coming(
        &signed_in,
        Section::Invitees,
        "Everyone invited: search, filter by status, resend, issue a new token, verify or delete.",
    )
}

pub async fn discord(signed_in: SignedIn) -> Response {
    coming(
        &signed_in,
        Section::Discord,
        "Members waiting to verify, held kicks, the verification timeout and the bot's setup.",
    )
}

pub async fn not_found(_signed_in: SignedIn) -> Response {
    layout::problem(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no such page in doorman's admin UI.",
    )
}
