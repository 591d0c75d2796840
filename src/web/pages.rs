//! Pages that do not exist.

use axum::http::StatusCode;
use axum::response::Response;

use super::layout;
use super::session::SignedIn;

pub async fn not_found(_signed_in: SignedIn) -> Response {
    layout::problem(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no such page in doorman's admin UI.",
    )
}
