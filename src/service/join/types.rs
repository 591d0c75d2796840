//! What one-click join hands back and forth: the browser's secrets, what a link opens,
//! why a join was refused, and the plan for Discord.

use std::fmt;

use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

use chrono::{DateTime, Utc};

use crate::domain::invitee::{DiscordUserId, Invitee};

/// A secret the browser holds (the state, or the cookie binding it). Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinSecret(String);

impl JoinSecret {
    pub fn new(presented: impl Into<String>) -> Self {
        Self(presented.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(super) fn fresh() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub(super) fn hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for JoinSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinSecret([redacted])")
    }
}

/// What a personal link opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinInvitation {
    Open {
        name: String,
        expires_at: DateTime<Utc>,
    },
    Expired {
        name: String,
    },
    Used {
        name: String,
    },
    /// No invitation holds this token: mistyped, or replaced by a newer one.
    Unknown,
}

/// A trip to Discord just begun: the state for Discord, the cookie for the browser.
#[derive(Debug, Clone)]
pub struct StartedJoin {
    pub state: JoinSecret,
    pub browser: JoinSecret,
}

/// A state that came back from Discord and was taken (it opens nothing again).
#[derive(Debug, Clone)]
pub struct JoinClaim {
    pub(super) invitee_id: i64,
    pub(super) token_hash: String,
}

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefusal {
    /// The state is not one doorman made, or was used already.
    UnknownState,
    /// The state was made for another browser.
    OtherBrowser,
    StateExpired,
    /// The person cancelled at Discord.
    ConsentDenied,
    /// Discord did not accept the code or answer as it should.
    DiscordFailed,
    /// Discord refused to add the member (a missing permission, for instance).
    DiscordRefused,
    InvitationUsed,
    InvitationExpired,
    /// The token was replaced by a newer one since the trip began.
    InvitationReplaced,
    AccountLinkedElsewhere,
}

impl JoinRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownState => "unknown_state",
            Self::OtherBrowser => "other_browser",
            Self::StateExpired => "state_expired",
            Self::ConsentDenied => "consent_denied",
            Self::DiscordFailed => "discord_failed",
            Self::DiscordRefused => "discord_refused",
            Self::InvitationUsed => "invitation_used",
            Self::InvitationExpired => "invitation_expired",
            Self::InvitationReplaced => "invitation_replaced",
            Self::AccountLinkedElsewhere => "account_linked_elsewhere",
        }
    }
}

/// What the web layer must do at Discord for a verified invitee.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    pub invitee: Invitee,
    pub discord_user_id: DiscordUserId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_hashed_and_kept_out_of_debug_output() {
        let (a, b) = (JoinSecret::fresh(), JoinSecret::fresh());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert!(!a.hash().contains(a.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
