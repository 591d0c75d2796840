//! The overview's parts beyond the bot and email cards: the charts, the email queue, and
//! what setup is still missing.

use super::charts::{self, Daily, Funnel};
use crate::api::AppState;
use crate::config::EmailRoute;
use crate::domain::discord_setup::SetupNames;
use crate::service::{CampaignStats, KnownGuild};

/// One line of the email queue's state.
pub struct QueueLine {
    pub status: String,
    pub count: i64,
}

/// Something setup still lacks, and how to fix it.
pub struct Missing {
    pub what: String,
    pub fix: String,
}

pub struct Campaign {
    pub funnel: Funnel,
    pub daily: Daily,
    pub queue: Vec<QueueLine>,
    pub missing: Vec<Missing>,
}

/// The queue's statuses in the order a mail moves through them.
const QUEUE_ORDER: [&str; 9] = [
    "queued",
    "sent",
    "delivered",
    "deferred",
    "failed",
    "bounced",
    "dropped",
    "cancelled",
    "",
];

fn queue(stats: &CampaignStats) -> Vec<QueueLine> {
    let rank = |s: &str| {
        QUEUE_ORDER
            .iter()
            .position(|o| *o == s)
            .unwrap_or(QUEUE_ORDER.len())
    };
    let mut lines: Vec<QueueLine> = stats
        .emails
        .iter()
        .map(|(status, count)| QueueLine {
            status: status.clone(),
            count: *count,
        })
        .collect();
    lines.sort_by_key(|l| rank(&l.status));
    lines
}

fn missing(state: &AppState, guilds: &[KnownGuild]) -> Vec<Missing> {
    let mut missing = Vec::new();
    if matches!(state.doorman.email_settings().route, EmailRoute::Outbox) {
        missing.push(Missing {
            what: "An email route".into(),
            fix: "Invitations stay in the local outbox. Set SENDGRID_API_KEY or SMTP_URL to send them for real.".into(),
        });
    }
    let Some(settings) = &state.discord else {
        missing.push(Missing {
            what: "A Discord bot token".into(),
            fix: "Set DISCORD_TOKEN to the bot's token (Discord Developer Portal → your application → Bot).".into(),
        });
        return missing;
    };
    let Some(setup) = guilds.first().and_then(|g| g.setup) else {
        missing.push(Missing {
            what: "The bot in your server".into(),
            fix: "Invite the bot to your Discord server; doorman checks its roles and channel once it connects. If it is invited and never connects, turn on its Server Members Intent (Discord Developer Portal → Bot → Privileged Gateway Intents).".into(),
        });
        return missing;
    };
    let names = SetupNames {
        member_role: &settings.member_role_name,
        unverified_role: &settings.unverified_role_name,
        channel: &settings.verification_channel_name,
    };
    missing.extend(
        setup
            .steps(names)
            .into_iter()
            .filter(|s| !s.done)
            .map(|s| Missing {
                what: s.what,
                fix: s.fix,
            }),
    );
    missing
}

pub fn campaign(state: &AppState, stats: &CampaignStats, guilds: &[KnownGuild]) -> Campaign {
    Campaign {
        funnel: charts::funnel(stats),
        daily: charts::daily(stats),
        queue: queue(stats),
        missing: missing(state, guilds),
    }
}
