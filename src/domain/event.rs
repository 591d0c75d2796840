//! The event log's vocabulary: what happened, who did it, through which channel.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What happened. Stored as its `as_str` name, so names are part of the API: never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    InviteesImported,
    TokenIssued,
    VerificationSucceeded,
    VerificationFailed,
    VerificationThrottled,
    DiscordAccountConflict,
    InviteeDeleted,
    AllInviteesDeleted,
    EmailQueued,
    EmailSent,
    EmailFailed,
    EmailCancelled,
    EmailDelivered,
    EmailBounced,
    EmailDropped,
    EmailDeferred,
    TestEmailSent,
    DiscordMemberJoined,
    DiscordMemberLeft,
    DiscordPrompted,
    DiscordPromptFellBackToChannel,
    DiscordKickedForTimeout,
    DiscordKickedForAttempts,
    DiscordForceVerified,
    DiscordKicksHeld,
    DiscordKicksConfirmed,
    DiscordKicksCancelled,
    DiscordTimeoutSet,
    /// An admin ended a waiting member's time to verify: the bot removes them.
    DiscordRemovalRequested,
    /// Something an admin should fix: a missing role, a missing permission.
    DiscordProblem,
    /// Wrong admin keys from one address within one window, counted in one event.
    ApiKeyRejected,
    /// The admin UI: a session opened with the right key, closed, or a wrong key refused.
    UiSignedIn,
    UiSignedOut,
    UiSignInRefused,
    /// An admin unlinked the Discord account an invitee verified with.
    DiscordAccountUnlinked,
    /// An admin downloaded a view of the invitees as CSV.
    InviteesExported,
    /// A failed email put back on the queue by hand.
    EmailRetried,
    /// One-click join: an invitee set off to Discord, was refused (with the reason), had
    /// their Discord account linked, was added to the server or had their roles set, or
    /// had a verification taken back because Discord refused to add them.
    JoinStarted,
    JoinRefused,
    DiscordAccountLinked,
    DiscordMemberAdded,
    DiscordMemberRolesSet,
    JoinUndone,
}

impl EventKind {
    pub const ALL: [EventKind; 43] = [
        Self::InviteesImported,
        Self::TokenIssued,
        Self::VerificationSucceeded,
        Self::VerificationFailed,
        Self::VerificationThrottled,
        Self::DiscordAccountConflict,
        Self::InviteeDeleted,
        Self::AllInviteesDeleted,
        Self::EmailQueued,
        Self::EmailSent,
        Self::EmailFailed,
        Self::EmailCancelled,
        Self::EmailDelivered,
        Self::EmailBounced,
        Self::EmailDropped,
        Self::EmailDeferred,
        Self::TestEmailSent,
        Self::DiscordMemberJoined,
        Self::DiscordMemberLeft,
        Self::DiscordPrompted,
        Self::DiscordPromptFellBackToChannel,
        Self::DiscordKickedForTimeout,
        Self::DiscordKickedForAttempts,
        Self::DiscordForceVerified,
        Self::DiscordKicksHeld,
        Self::DiscordKicksConfirmed,
        Self::DiscordKicksCancelled,
        Self::DiscordTimeoutSet,
        Self::DiscordRemovalRequested,
        Self::DiscordProblem,
        Self::ApiKeyRejected,
        Self::UiSignedIn,
        Self::UiSignedOut,
        Self::UiSignInRefused,
        Self::DiscordAccountUnlinked,
        Self::InviteesExported,
        Self::EmailRetried,
        Self::JoinStarted,
        Self::JoinRefused,
        Self::DiscordAccountLinked,
        Self::DiscordMemberAdded,
        Self::DiscordMemberRolesSet,
        Self::JoinUndone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InviteesImported => "invitees_imported",
            Self::TokenIssued => "token_issued",
            Self::VerificationSucceeded => "verification_succeeded",
            Self::VerificationFailed => "verification_failed",
            Self::VerificationThrottled => "verification_throttled",
            Self::DiscordAccountConflict => "discord_account_conflict",
            Self::InviteeDeleted => "invitee_deleted",
            Self::AllInviteesDeleted => "all_invitees_deleted",
            Self::EmailQueued => "email_queued",
            Self::EmailSent => "email_sent",
            Self::EmailFailed => "email_failed",
            Self::EmailCancelled => "email_cancelled",
            Self::EmailDelivered => "email_delivered",
            Self::EmailBounced => "email_bounced",
            Self::EmailDropped => "email_dropped",
            Self::EmailDeferred => "email_deferred",
            Self::TestEmailSent => "test_email_sent",
            Self::DiscordMemberJoined => "discord_member_joined",
            Self::DiscordMemberLeft => "discord_member_left",
            Self::DiscordPrompted => "discord_prompted",
            Self::DiscordPromptFellBackToChannel => "discord_prompt_fell_back_to_channel",
            Self::DiscordKickedForTimeout => "discord_kicked_for_timeout",
            Self::DiscordKickedForAttempts => "discord_kicked_for_attempts",
            Self::DiscordForceVerified => "discord_force_verified",
            Self::DiscordKicksHeld => "discord_kicks_held",
            Self::DiscordKicksConfirmed => "discord_kicks_confirmed",
            Self::DiscordKicksCancelled => "discord_kicks_cancelled",
            Self::DiscordTimeoutSet => "discord_timeout_set",
            Self::DiscordRemovalRequested => "discord_removal_requested",
            Self::DiscordProblem => "discord_problem",
            Self::ApiKeyRejected => "api_key_rejected",
            Self::UiSignedIn => "ui_signed_in",
            Self::UiSignedOut => "ui_signed_out",
            Self::UiSignInRefused => "ui_sign_in_refused",
            Self::DiscordAccountUnlinked => "discord_account_unlinked",
            Self::InviteesExported => "invitees_exported",
            Self::EmailRetried => "email_retried",
            Self::JoinStarted => "join_started",
            Self::JoinRefused => "join_refused",
            Self::DiscordAccountLinked => "discord_account_linked",
            Self::DiscordMemberAdded => "discord_member_added",
            Self::DiscordMemberRolesSet => "discord_member_roles_set",
            Self::JoinUndone => "join_undone",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A request authenticated with the admin API key.
    ApiKey,
    /// Someone at the server's command line.
    Cli,
    /// doorman itself (timers, workers).
    System,
    /// The invitee, acting for themselves (e.g. through the Discord bot).
    Invitee,
    /// A Discord server administrator, by user id, through a slash command.
    DiscordAdmin(String),
    /// The organiser, signed in to the admin UI.
    Ui,
}

impl Actor {
    /// Reads back what [`Actor`]'s `Display` wrote.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "api_key" => Self::ApiKey,
            "cli" => Self::Cli,
            "system" => Self::System,
            "invitee" => Self::Invitee,
            "ui" => Self::Ui,
            other => Self::DiscordAdmin(other.strip_prefix("discord_admin:")?.to_owned()),
        })
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey => f.write_str("api_key"),
            Self::Cli => f.write_str("cli"),
            Self::System => f.write_str("system"),
            Self::Invitee => f.write_str("invitee"),
            Self::DiscordAdmin(user_id) => write!(f, "discord_admin:{user_id}"),
            Self::Ui => f.write_str("ui"),
        }
    }
}

/// Where a verification came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Api,
    Discord,
    /// One-click join: the invitation link and Discord's OAuth2.
    Oauth,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Self::Api, Self::Discord, Self::Oauth];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Discord => "discord",
            Self::Oauth => "oauth",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// An event about to be appended. `detail` must never hold a token or a secret.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub invitee_id: Option<i64>,
    pub actor: Actor,
    pub channel: Option<Channel>,
    pub detail: Value,
}

impl NewEvent {
    pub fn new(kind: EventKind, actor: Actor) -> Self {
        Self {
            kind,
            invitee_id: None,
            actor,
            channel: None,
            detail: Value::Object(Default::default()),
        }
    }

    pub fn invitee(mut self, id: i64) -> Self {
        self.invitee_id = Some(id);
        self
    }

    pub fn channel(mut self, channel: Channel) -> Self {
        self.channel = Some(channel);
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub id: i64,
    pub kind: EventKind,
    pub invitee_id: Option<i64>,
    pub actor: Actor,
    pub channel: Option<Channel>,
    pub detail: Value,
    pub created_at: DateTime<Utc>,
}

/// Which events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub kind: Option<EventKind>,
    pub invitee_id: Option<i64>,
    /// An actor as stored (`ui`), or a kind of actor before its `:` (`discord_admin`).
    pub actor: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_read_back_as_what_wrote_them() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        for channel in Channel::ALL {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        let actors = [
            Actor::ApiKey,
            Actor::Cli,
            Actor::System,
            Actor::Invitee,
            Actor::Ui,
            Actor::DiscordAdmin("80351110224678912".into()),
        ];
        for actor in actors {
            assert_eq!(Actor::parse(&actor.to_string()), Some(actor));
        }
        for unknown in ["", "admin", "discord_admin", "API_KEY"] {
            assert_eq!(Actor::parse(unknown), None, "{unknown:?}");
        }
        assert_eq!(EventKind::parse("made_up"), None);
        assert_eq!(Channel::parse("email"), None);
    }
}
