//! Overview: the campaign's funnel and verifications per day, the bot, the email route
//! and queue at a glance, what setup still lacks, and what happened last.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::events::{self, EventRow};
use super::layout::{self, Layout, Section};
use super::overview_parts::{self, Campaign};
use super::session::SignedIn;
use crate::api::AppState;
use crate::config::EmailRoute;

const LATEST_EVENTS: i64 = 10;

/// A state in words, with a class that adds a shape as well as a colour.
struct Status {
    word: &'static str,
    class: &'static str,
    hint: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    bot: Status,
    /// The server the bot is in, and who waits there.
    bot_server: Option<String>,
    email_route: &'static str,
    email_hint: &'static str,
    events: Vec<EventRow>,
    empty: &'static str,
    campaign: Campaign,
}

pub async fn page(signed_in: SignedIn, State(state): State<AppState>) -> Response {
    let latest = match events::latest(&state, None, LATEST_EVENTS).await {
        Ok(latest) => latest.into_iter().map(EventRow::from).collect(),
        Err(response) => return response,
    };
    let stats = match state.doorman.campaign_stats().await {
        Ok(stats) => stats,
        Err(e) => return layout::internal(e),
    };
    let guilds = match state.doorman.known_guilds().await {
        Ok(guilds) => guilds,
        Err(e) => return layout::internal(e),
    };
    let campaign = overview_parts::campaign(&state, &stats, &guilds);
    let bot_server = match guilds.first() {
        Some(guild) if state.discord.is_some() => {
            match state.doorman.discord_status(guild.guild_id).await {
                Ok(status) => Some(format!(
                    "{}: {} waiting to verify, {} kick(s) held.",
                    guild.name.as_deref().unwrap_or("Your server"),
                    status.pending,
                    status.held
                )),
                Err(e) => return layout::internal(e),
            }
        }
        _ => None,
    };
    let bot = match &state.bot {
        None => Status {
            word: "Not set up",
            class: "off",
            hint: "Set DISCORD_TOKEN to let doorman admit people to your Discord server.",
        },
        Some(bot) if bot.is_connected() => Status {
            word: "Connected",
            class: "good",
            hint: "The bot is online and watching for new members.",
        },
        Some(bot) if bot.is_standby() => Status {
            word: "Standby",
            class: "good",
            hint: "Another doorman replica holds the Discord connection; this one takes over if it stops.",
        },
        Some(_) => Status {
            word: "Disconnected",
            class: "bad",
            hint: "doorman keeps trying to reconnect; its log says why if this lasts.",
        },
    };
    let (email_route, email_hint) = match &state.doorman.email_settings().route {
        EmailRoute::SendGrid(_) => ("SendGrid", "Invitations are sent through SendGrid."),
        EmailRoute::Smtp(_) => ("SMTP", "Invitations are sent through your SMTP server."),
        EmailRoute::Outbox => (
            "Local outbox",
            "Invitations are kept in doorman's outbox and not sent: right for trying things out.",
        ),
    };
    OverviewPage {
        layout: Layout::new(Section::Overview, &signed_in.session.csrf_token),
        bot,
        bot_server,
        email_route,
        email_hint,
        events: latest,
        empty: "Nothing has happened yet.",
        campaign,
    }
    .into_response()
}
