//! Counting HTTP requests by route template and status, and timing them.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::Metrics;

/// Requests no route matched (404s, probes) share one label, whatever their path.
const UNMATCHED: &str = "unmatched";

/// Inside the routes: hands the matched route's template out to [`count`] on the response.
pub async fn note_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Around the whole router: counts and times every request, and names its route in the
/// request's log span.
pub async fn count(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str);
    // A join link's route is logged as `/join/…`: nothing of an invitation in the log.
    tracing::Span::current().record("route", crate::web::join::loggable_path(route));
    metrics.http_request(
        method.as_str(),
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
