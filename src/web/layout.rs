//! What every page around its content needs: the navigation, the assets, the CSRF token.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::assets;

/// The asset addresses, with their content hashes.
pub struct Assets {
    pub css_url: String,
    pub htmx_url: String,
    pub icon_url: String,
}

impl Assets {
    pub fn new() -> Self {
        Self {
            css_url: assets::url("doorman.css"),
            htmx_url: assets::url("htmx-2.0.11.min.js"),
            icon_url: assets::url("icon.svg"),
        }
    }
}

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The sections, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Invitees,
    Import,
    Emails,
    Discord,
    Events,
}

impl Section {
    const ALL: [(Section, &'static str, &'static str); 6] = [
        (Section::Overview, "/admin", "Overview"),
        (Section::Invitees, "/admin/invitees", "Invitees"),
        (Section::Import, "/admin/import", "Import"),
        (Section::Emails, "/admin/emails", "Emails"),
        (Section::Discord, "/admin/discord", "Discord"),
        (Section::Events, "/admin/events", "Events"),
    ];
}

/// The frame of a signed-in page (`templates/base.html`).
pub struct Layout {
    pub nav: Vec<NavItem>,
    pub csrf_token: String,
    pub css_url: String,
    pub htmx_url: String,
    pub icon_url: String,
}

impl Layout {
    pub fn new(current: Section, csrf_token: &str) -> Self {
        let Assets {
            css_url,
            htmx_url,
            icon_url,
        } = Assets::new();
        Self {
            nav: Section::ALL
                .iter()
                .map(|(section, href, label)| NavItem {
                    href,
                    label,
                    current: *section == current,
                })
                .collect(),
            csrf_token: csrf_token.to_owned(),
            css_url,
            htmx_url,
            icon_url,
        }
    }
}

/// "This form has expired": a refused state-changing request.
#[derive(Template, WebTemplate)]
#[template(path = "expired.html")]
pub struct ExpiredPage {
    pub assets: Assets,
}

pub fn expired() -> Response {
    let page = ExpiredPage {
        assets: Assets::new(),
    };
    (StatusCode::FORBIDDEN, page).into_response()
}

/// A page that explains a problem in words (not found, something broke).
#[derive(Template, WebTemplate)]
#[template(path = "problem.html")]
pub struct ProblemPage {
    pub assets: Assets,
    pub heading: &'static str,
    pub explanation: &'static str,
}

pub fn problem(status: StatusCode, heading: &'static str, explanation: &'static str) -> Response {
    let page = ProblemPage {
        assets: Assets::new(),
        heading,
        explanation,
    };
    (status, page).into_response()
}

/// Something failed on the server; the details are in the log, never on the page.
pub fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "admin page failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "doorman could not finish this request. The details are in its log; try again in a moment.",
    )
}
