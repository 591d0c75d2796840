//! The admin UI under `/admin`: server-rendered pages that call the same service
//! operations as the API, behind a session opened with the admin key.
//!
//! Every request passes, from the outside in: security headers, the cross-site check
//! (Fetch metadata and `Origin`), the session lookup, and, for a state-changing request,
//! the session's CSRF token. Pages then take a [`session::SignedIn`], which sends anyone
//! without a session to the sign-in page and back.

mod assets;
mod csrf;
mod events;
mod headers;
pub mod join;
mod layout;
mod overview;
mod pages;
mod session;
mod sign_in;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::api::AppState;

/// The UI's routes, and `/` sending people to it.
pub fn routes(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/admin", get(overview::page))
        .route("/admin/", get(|| async { Redirect::permanent("/admin") }))
        .route("/admin/events", get(events::page))
        .route("/admin/invitees", get(pages::invitees))
        .route("/admin/import", get(pages::import))
        .route("/admin/emails", get(pages::emails))
        .route("/admin/discord", get(pages::discord))
        .route("/admin/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/admin/sign-out", post(sign_in::sign_out))
        .route(
            "/admin/{*rest}",
            get(pages::not_found).post(pages::not_found),
        )
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
