//! A member who came in through the join link: added by doorman, or already there.

use serde_json::json;
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};

use super::GateRules;
use crate::domain::event::{Actor, Channel, EventKind, NewEvent};
use crate::domain::membership::Input;
use crate::service::{Doorman, ServiceError};

impl Doorman {
    /// Records that the invitee's account was added to the server with its roles
    /// (`added`), or, already a member, had its roles set; either way any pending
    /// verification of theirs is over, so its deadline no longer applies.
    #[tracing::instrument(skip_all, fields(guild_id = %guild_id, user_id = %user_id))]
    pub async fn member_joined_by_link(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        invitee_id: i64,
        added: bool,
        gate: &GateRules,
    ) -> Result<(), ServiceError> {
        let kind = if added {
            EventKind::DiscordMemberAdded
        } else {
            EventKind::DiscordMemberRolesSet
        };
        let mut event = NewEvent::new(kind, Actor::Invitee)
            .channel(Channel::Oauth)
            .detail(json!({ "guild_id": guild_id.to_string(), "user_id": user_id.to_string() }));
        event.invitee_id = Some(invitee_id);
        self.record_event(&event).await?;
        let input = Input::Verified { by_admin: false };
        self.step(
            guild_id,
            user_id,
            input,
            gate,
            (Actor::Invitee, Some(invitee_id)),
        )
        .await?;
        Ok(())
    }
}
