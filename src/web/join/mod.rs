//! One-click join: the invitee's personal link `/join/<token>`, the trip to Discord's
//! consent page, and `/join/callback`. Not part of the admin UI: no session, no CSRF
//! token (the state and its cookie protect the callback), and headers of its own, so a
//! token in the address never leaks through a referrer or a cache.

mod discord;
mod pages;
mod views;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::get;

use crate::api::AppState;
use crate::service::GateRules;
pub use discord::{DiscordError, DiscordOauth};

/// What the join pages need besides the service: Discord, and the bot's rules.
#[derive(Clone)]
pub struct JoinContext {
    pub discord: DiscordOauth,
    pub gate: GateRules,
    pub community: String,
}

impl JoinContext {
    pub fn new(settings: &crate::config::Settings) -> Option<Self> {
        let join = settings.join.clone()?;
        let bot = settings.discord.as_ref()?;
        Some(Self {
            discord: DiscordOauth::new(join, bot.role_rules.clone()),
            gate: GateRules {
                default_timeout: bot.verification_timeout,
                max_attempts: bot.max_verify_attempts,
                kick_burst_limit: bot.kick_burst_limit,
            },
            community: bot.community_name.clone(),
        })
    }
}

/// The join routes; without the feature configured they answer 404 like any unknown path.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/join/callback", get(pages::callback))
        .route("/join/{token}", get(pages::invitation))
        .route("/join/{token}/discord", get(pages::start))
        .layer(from_fn(private_headers))
}

async fn private_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A request's path as logs may show it: a join link's token is left out.
pub fn loggable_path(path: &str) -> &str {
    if path.starts_with("/join/") {
        "/join/…"
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn join_addresses_are_logged_without_their_token() {
        assert_eq!(loggable_path("/join/ABCD2345"), "/join/…");
        assert_eq!(loggable_path("/join/ABCD2345/discord"), "/join/…");
        assert_eq!(loggable_path("/join/callback"), "/join/…");
        assert_eq!(loggable_path("/admin/events"), "/admin/events");
    }
}
