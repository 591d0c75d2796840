//! What a verification attempt says, and how it can end.

use std::net::IpAddr;

use crate::domain::event::{Actor, Channel};
use crate::domain::invitee::DiscordUserId;

/// An attempt, as typed by the person.
#[derive(Debug, Clone)]
pub struct VerifyRequest<'a> {
    pub email: &'a str,
    pub token: &'a str,
    pub discord_user_id: Option<&'a DiscordUserId>,
    pub channel: Channel,
    pub actor: Actor,
    /// Who is trying, for throttling: failures count against this source, so that
    /// nobody else's failures can lock an invitee out.
    pub source: AttemptSource<'a>,
}

/// Where an attempt comes from.
#[derive(Debug, Clone, Copy)]
pub enum AttemptSource<'a> {
    Discord(&'a DiscordUserId),
    Client(IpAddr),
    /// The client address could not be known; all such attempts share one allowance.
    Unknown,
}

impl AttemptSource<'_> {
    pub(in crate::service) fn key(&self) -> String {
        match self {
            Self::Discord(id) => format!("discord:{}", id.as_str()),
            Self::Client(addr) => format!("ip:{}", addr.to_canonical()),
            Self::Unknown => "unknown".into(),
        }
    }
}

/// How an attempt ended. Throttling is an error instead, since the attempt was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    Verified {
        invitee_id: i64,
        discord_user_id: Option<String>,
    },
    NotFound,
    InvalidToken,
    AlreadyVerified,
    Expired,
    /// The Discord account is already linked to another invitee.
    DiscordAccountInUse,
}

impl VerifyOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Verified { .. })
    }

    /// The original system's wording, which its clients match on.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Verified { .. } => "User verified successfully",
            Self::NotFound => "User not found with this email",
            Self::InvalidToken => "Invalid verification token",
            Self::AlreadyVerified => "User is already verified",
            Self::Expired => "Verification token has expired",
            Self::DiscordAccountInUse => {
                "This Discord account is already linked to another invitation"
            }
        }
    }
}
