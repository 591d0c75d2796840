//! Discord: members waiting to verify (with a live countdown), held kicks, recent joins,
//! verifications and kicks, the verification timeout, and the server's setup checklist.
//! The actions are in `discord_actions`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use twilight_model::id::Id;
use twilight_model::id::marker::GuildMarker;

use super::events::{self, EventRow};
use super::layout::{self, Layout, Section};
use super::session::SignedIn;
use crate::api::AppState;
use crate::config::DiscordSettings;
use crate::domain::MemberState;
use crate::domain::discord_setup::{SetupNames, SetupStep};
use crate::domain::event::EventKind;
use crate::service::{DiscordMember, KnownGuild, MAX_TIMEOUT_MINUTES};

const RECENT: i64 = 12;
/// Recent activity shown: joins, verifications and kicks.
const RECENT_KINDS: [EventKind; 5] = [
    EventKind::DiscordMemberJoined,
    EventKind::DiscordForceVerified,
    EventKind::VerificationSucceeded,
    EventKind::DiscordKickedForTimeout,
    EventKind::DiscordKickedForAttempts,
];

#[derive(Debug, Default, Deserialize)]
pub struct DiscordQuery {
    guild: Option<String>,
    done: Option<String>,
}

/// "4 min 12 s", "2 h 5 min", "overdue".
pub fn time_left(seconds: i64) -> String {
    match seconds {
        s if s <= 0 => "due now".to_owned(),
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub struct WaitingRow {
    pub user_id: String,
    pub deadline: String,
    pub deadline_iso: String,
    pub seconds_left: i64,
    pub time_left: String,
    pub attempts: i64,
}

fn waiting_row(member: &DiscordMember, now: chrono::DateTime<chrono::Utc>) -> WaitingRow {
    let deadline = member.membership.deadline;
    let seconds_left = deadline.map_or(0, |d| (d - now).num_seconds().max(0));
    WaitingRow {
        user_id: member.user_id.to_string(),
        deadline: deadline.map_or_else(
            || "—".to_owned(),
            |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
        deadline_iso: deadline.map(|d| d.to_rfc3339()).unwrap_or_default(),
        seconds_left,
        time_left: time_left(seconds_left),
        attempts: member.membership.failed_attempts,
    }
}

/// The part htmx refreshes every few seconds: who is waiting, and the held kicks.
#[derive(Template, WebTemplate)]
#[template(path = "discord.html", block = "waiting")]
pub struct Waiting {
    pub guild_id: String,
    pub csrf_token: String,
    pub pending: Vec<WaitingRow>,
    pub held: Vec<WaitingRow>,
}

pub struct GuildChoice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "discord.html")]
struct DiscordPage {
    layout: Layout,
    /// Why there is nothing to show (no bot configured, no server seen yet).
    absent: Option<&'static str>,
    notice: Option<&'static str>,
    guilds: Vec<GuildChoice>,
    guild_name: String,
    waiting: Waiting,
    timeout_minutes: u64,
    timeout_is_default: bool,
    max_minutes: u32,
    setup_checked: Option<String>,
    steps: Vec<SetupStep>,
    recent: Vec<EventRow>,
    countdown_url: String,
}

impl std::ops::Deref for DiscordPage {
    type Target = Waiting;
    fn deref(&self) -> &Waiting {
        &self.waiting
    }
}

/// The words an action's redirect leaves in `done`, as the notice they show.
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "verified" => "Verified. doorman gives them their roles within a few seconds.",
        "removed" => "Their time to verify has ended; doorman removes them within a few seconds.",
        "not-waiting" => "That member is no longer waiting to verify; nothing was changed.",
        "confirmed" => "Held kicks confirmed: doorman carries them out now.",
        "cancelled" => "Held kicks called off: those members have a fresh deadline.",
        "timeout" => "Verification timeout saved. Members already waiting keep their deadline.",
        "bad-timeout" => "The timeout must be a whole number of minutes from 1 to a week (10080).",
        _ => return None,
    })
}

/// The server a request is about: the one asked for if doorman knows it, else the first.
pub fn chosen_guild<'a>(guilds: &'a [KnownGuild], asked: Option<&str>) -> Option<&'a KnownGuild> {
    let asked = asked.and_then(crate::discord::parse_id::<GuildMarker>);
    asked
        .and_then(|id| guilds.iter().find(|g| g.guild_id == id))
        .or_else(|| guilds.first())
}

pub async fn waiting(
    state: &AppState,
    guild_id: Id<GuildMarker>,
    csrf_token: &str,
) -> Result<Waiting, Response> {
    let now = state.doorman.now();
    let list = |member_state| {
        state
            .doorman
            .discord_members_in_state(guild_id, member_state)
    };
    let pending = list(MemberState::Pending).await.map_err(layout::internal)?;
    let held = list(MemberState::Held).await.map_err(layout::internal)?;
    Ok(Waiting {
        guild_id: guild_id.to_string(),
        csrf_token: csrf_token.to_owned(),
        pending: pending.iter().map(|m| waiting_row(m, now)).collect(),
        held: held.iter().map(|m| waiting_row(m, now)).collect(),
    })
}

async fn recent(state: &AppState) -> Result<Vec<EventRow>, Response> {
    let mut all = Vec::new();
    for kind in RECENT_KINDS {
        all.extend(events::latest(state, Some(kind), RECENT).await?);
    }
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    all.truncate(RECENT as usize);
    Ok(all.into_iter().map(EventRow::from).collect())
}

fn names(settings: &DiscordSettings) -> SetupNames<'_> {
    SetupNames {
        member_role: &settings.member_role_name,
        unverified_role: &settings.unverified_role_name,
        channel: &settings.verification_channel_name,
    }
}

pub async fn page(
    signed_in: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<DiscordQuery>,
) -> Response {
    let csrf = &signed_in.session.csrf_token;
    let guilds = match state.doorman.known_guilds().await {
        Ok(guilds) => guilds,
        Err(e) => return layout::internal(e),
    };
    let chosen = chosen_guild(&guilds, query.guild.as_deref());
    let absent = match (&state.discord, chosen) {
        (None, _) => Some(
            "The Discord bot is not set up. Set DISCORD_TOKEN (and invite the bot to your server) to let doorman admit people.",
        ),
        (Some(_), None) => Some(
            "The bot has not seen a Discord server yet. Invite it to your server; this page fills in once it connects.",
        ),
        _ => None,
    };
    let (Some(settings), Some(guild)) = (&state.discord, chosen) else {
        return DiscordPage::empty(csrf, absent).into_response();
    };
    let waiting = match waiting(&state, guild.guild_id, csrf).await {
        Ok(waiting) => waiting,
        Err(response) => return response,
    };
    if super::paging::wants_part(&headers) {
        return waiting.into_response();
    }
    let recent = match recent(&state).await {
        Ok(recent) => recent,
        Err(response) => return response,
    };
    let default_minutes = settings.verification_timeout.as_secs().div_ceil(60);
    DiscordPage {
        layout: Layout::new(Section::Discord, csrf),
        absent: None,
        notice: notice(query.done.as_deref()),
        guilds: guilds
            .iter()
            .map(|g| GuildChoice {
                id: g.guild_id.to_string(),
                name: g.name.clone().unwrap_or_else(|| g.guild_id.to_string()),
                selected: g.guild_id == guild.guild_id,
            })
            .collect(),
        guild_name: guild
            .name
            .clone()
            .unwrap_or_else(|| format!("Server {}", guild.guild_id)),
        waiting,
        timeout_minutes: guild
            .timeout_seconds
            .map_or(default_minutes, |s| u64::try_from(s / 60).unwrap_or(0)),
        timeout_is_default: guild.timeout_seconds.is_none(),
        max_minutes: MAX_TIMEOUT_MINUTES,
        setup_checked: guild
            .checked_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        steps: guild
            .setup
            .map(|s| s.steps(names(settings)))
            .unwrap_or_default(),
        recent,
        countdown_url: super::assets::url("countdown.js"),
    }
    .into_response()
}

impl DiscordPage {
    fn empty(csrf: &str, absent: Option<&'static str>) -> Self {
        Self {
            layout: Layout::new(Section::Discord, csrf),
            absent,
            notice: None,
            guilds: Vec::new(),
            guild_name: String::new(),
            waiting: Waiting {
                guild_id: String::new(),
                csrf_token: csrf.to_owned(),
                pending: Vec::new(),
                held: Vec::new(),
            },
            timeout_minutes: 0,
            timeout_is_default: true,
            max_minutes: MAX_TIMEOUT_MINUTES,
            setup_checked: None,
            steps: Vec::new(),
            recent: Vec::new(),
            countdown_url: super::assets::url("countdown.js"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_in_the_largest_units() {
        assert_eq!(time_left(-5), "due now");
        assert_eq!(time_left(42), "42 s");
        assert_eq!(time_left(252), "4 min 12 s");
        assert_eq!(time_left(7500), "2 h 5 min");
        assert_eq!(time_left(90_000), "1 d 1 h");
    }

    #[test]
    fn only_known_words_make_a_notice() {
        assert!(notice(Some("verified")).is_some());
        assert!(notice(Some("<script>")).is_none());
        assert!(notice(None).is_none());
    }
}
