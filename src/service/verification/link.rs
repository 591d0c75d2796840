//! An invitee verified without a Discord account (an admin's "Mark verified", or the
//! API without an account) who then joins the server and proves the invitation to the
//! bot: their account is linked and they pass, instead of being told they are verified
//! already and counted a failure.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{VerifyOutcome, VerifyRequest};
use crate::domain::event::{Channel, EventKind, NewEvent};
use crate::domain::invitee::{Invitee, token_expired};
use crate::service::{Doorman, ServiceError};

impl Doorman {
    /// `None` when this does not apply: the invitee has an account linked already, or
    /// the attempt is not the bot's (the API keeps answering "already verified", and a
    /// join link, once used, stays used).
    pub(super) async fn link_verified_account(
        &self,
        invitee: &Invitee,
        token_hash: &str,
        request: &VerifyRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<VerifyOutcome>, ServiceError> {
        let (None, Some(discord_id), Channel::Discord) = (
            invitee.discord_user_id.as_deref(),
            request.discord_user_id,
            request.channel,
        ) else {
            return Ok(None);
        };
        if token_expired(invitee, now) {
            return Ok(Some(VerifyOutcome::Expired));
        }
        let discord_id = discord_id.as_str();
        if self
            .linked_elsewhere(discord_id, invitee.id, request)
            .await?
        {
            return Ok(Some(VerifyOutcome::DiscordAccountInUse));
        }
        let event = NewEvent::new(EventKind::DiscordAccountLinked, request.actor.clone())
            .invitee(invitee.id)
            .channel(request.channel)
            .detail(json!({ "discord_user_id": discord_id }));
        let linked = self
            .store()
            .link_verified_account(invitee.id, token_hash, discord_id, &event, now)
            .await;
        match linked {
            Ok(true) => Ok(Some(VerifyOutcome::Verified {
                invitee_id: invitee.id,
                discord_user_id: Some(discord_id.to_owned()),
            })),
            // Changed meanwhile (unlinked, linked, token replaced): as if not verified by hand.
            Ok(false) => Ok(None),
            Err(e) if e.is_unique_violation("invitees_discord_user_id_key") => {
                Ok(Some(VerifyOutcome::DiscordAccountInUse))
            }
            Err(e) => Err(e.into()),
        }
    }
}
