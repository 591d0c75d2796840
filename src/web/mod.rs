//! The admin UI under `/admin`: server-rendered pages that call the same service
//! operations as the API, behind a session opened with the admin key.
//!
//! Every request passes, from the outside in: security headers, the cross-site check
//! (Fetch metadata and `Origin`), the session lookup, and, for a state-changing request,
//! the session's CSRF token. Pages then take a [`session::SignedIn`], which sends anyone
//! without a session to the sign-in page and back.

mod assets;
mod charts;
mod csrf;
mod discord;
mod discord_actions;
mod email_view;
mod emails;
mod events;
mod filters;
mod headers;
mod import;
mod import_views;
mod invitees;
pub mod join;
mod layout;
mod overview;
mod overview_parts;
mod pages;
mod paging;
mod session;
mod sign_in;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::api::AppState;

/// The body and time limits of the UI's forms, and of its file uploads.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub form: (usize, std::time::Duration),
    pub upload: (usize, std::time::Duration),
}

/// The UI's routes, and `/` sending people to it.
pub fn routes(state: &AppState, limits: Limits) -> Router<AppState> {
    let uploads = crate::api::with_limits(
        Router::new().route("/admin/import/preview", post(import::preview)),
        limits.upload,
    )
    .layer(from_fn_with_state(
        limits.upload.0,
        import::refuse_oversized,
    ));
    let pages = Router::new()
        .route("/admin", get(overview::page))
        .route("/admin/", get(|| async { Redirect::permanent("/admin") }))
        .route("/admin/events", get(events::page))
        .merge(invitees::routes())
        .route("/admin/import", get(import::page))
        .route("/admin/import/start", post(import::start))
        .route("/admin/import/jobs/{id}", get(import::job))
        .route(
            "/admin/import/jobs/{id}/refused.csv",
            get(import::refused_rows),
        )
        .route("/admin/emails", get(emails::page))
        .route("/admin/emails/progress", get(emails::progress))
        .route("/admin/emails/test", post(email_view::send_test))
        .route("/admin/emails/{id}", get(email_view::show))
        .route("/admin/emails/{id}/body", get(email_view::body))
        .route("/admin/emails/{id}/retry", post(email_view::retry))
        .route("/admin/discord", get(discord::page))
        .route(
            "/admin/discord/force-verify",
            post(discord_actions::force_verify),
        )
        .route("/admin/discord/remove", post(discord_actions::remove))
        .route(
            "/admin/discord/confirm-kicks",
            post(discord_actions::confirm_kicks),
        )
        .route(
            "/admin/discord/cancel-kicks",
            post(discord_actions::cancel_kicks),
        )
        .route("/admin/discord/timeout", post(discord_actions::set_timeout))
        .route("/admin/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/admin/sign-out", post(sign_in::sign_out))
        .route(
            "/admin/{*rest}",
            get(pages::not_found).post(pages::not_found),
        );
    let pages = crate::api::with_limits(pages, limits.form)
        .merge(uploads)
        .layer(from_fn(csrf::require_token))
        .layer(from_fn_with_state(state.clone(), session::load))
        .layer(csrf::cross_site_layer(&state.web));
    Router::new()
        .route("/", get(|| async { Redirect::to("/admin") }))
        .route(&format!("{}{{file}}", assets::PREFIX), get(assets::serve))
        .merge(pages)
        .merge(join::routes())
        .layer(from_fn(headers::secure_pages))
}
