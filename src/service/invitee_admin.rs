//! An admin's work on invitees: a selection's pages, counts and export; verifying one by
//! hand; unlinking its Discord account; deleting a selection.

use futures::stream::BoxStream;
use serde_json::json;

use super::{Doorman, ServiceError};
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::invitee::Invitee;
use crate::domain::invitee_status::{InviteePageRequest, InviteeSelection, InviteeStatus};
use crate::store::{AdminChange, AdminEdit, InviteePage, ListedInvitee};

/// How many invitees the search finds, per status and in all.
#[derive(Debug, Clone, Default)]
pub struct InviteeCounts {
    pub by_status: Vec<(InviteeStatus, i64)>,
    pub total: i64,
}

impl InviteeCounts {
    pub fn of(&self, status: InviteeStatus) -> i64 {
        self.by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }
}

/// What an admin's change to one invitee did.
#[derive(Debug)]
pub enum HandChange {
    /// Done; the invitee as it was before.
    Done(Invitee),
    /// There was nothing to do (already verified, no account linked).
    NothingToDo(Invitee),
}

impl Doorman {
    /// One page of an admin's selection, each invitee with its status.
    #[tracing::instrument(skip_all)]
    pub async fn invitee_page(
        &self,
        request: &InviteePageRequest,
    ) -> Result<InviteePage, ServiceError> {
        Ok(self.store().invitee_page(request, self.now()).await?)
    }

    /// How the database reads such a page: its query plan.
    pub async fn explain_invitee_page(
        &self,
        request: &InviteePageRequest,
    ) -> Result<String, ServiceError> {
        Ok(self
            .store()
            .explain_invitee_page(request, self.now())
            .await?)
    }

    /// How many invitees the search finds with each status (the tabs' counts).
    #[tracing::instrument(skip_all)]
    pub async fn invitee_counts(
        &self,
        search: Option<&str>,
    ) -> Result<InviteeCounts, ServiceError> {
        let counts = self.store().count_by_status(search, self.now()).await?;
        let by_status: Vec<(InviteeStatus, i64)> = InviteeStatus::ALL
            .iter()
            .map(|status| (*status, counts.get(status).copied().unwrap_or(0)))
            .collect();
        let total = by_status.iter().map(|(_, n)| n).sum();
        Ok(InviteeCounts { by_status, total })
    }

    /// How many invitees the selection holds now.
    pub async fn count_selected(&self, selection: &InviteeSelection) -> Result<i64, ServiceError> {
        Ok(self.store().count_selected(selection, self.now()).await?)
    }

    /// The whole selection with each invitee's status, read as the stream is consumed;
    /// the export itself is an event, naming the selection and how many it held.
    pub async fn export_selected(
        &self,
        selection: &InviteeSelection,
        actor: Actor,
    ) -> Result<BoxStream<'static, Result<ListedInvitee, ServiceError>>, ServiceError> {
        use futures::StreamExt;
        let now = self.now();
        let count = self.store().count_selected(selection, now).await?;
        let event = NewEvent::new(EventKind::InviteesExported, actor).detail(json!({
            "search": selection.search,
            "status": selection.status.map(|s| s.as_str()),
            "count": count,
        }));
        self.store().record_event(&event, now).await?;
        Ok(self
            .store()
            .stream_selected(selection, now)
            .map(|row| row.map_err(ServiceError::from))
            .boxed())
    }

    /// An admin lets an invitee in without a token: it is verified from now on. The
    /// event is `/force_verify`'s.
    #[tracing::instrument(skip_all, fields(invitee_id = id))]
    pub async fn force_verify_invitee(
        &self,
        id: i64,
        actor: Actor,
    ) -> Result<HandChange, ServiceError> {
        let event = NewEvent::new(EventKind::DiscordForceVerified, actor)
            .invitee(id)
            .detail(json!({ "verified": "invitee" }));
        let change = self
            .store()
            .edit_by_admin(id, AdminEdit::Verify, &event, self.now())
            .await?;
        hand_change(change)
    }

    /// Forgets the Discord account an invitee verified with, so that it may verify with
    /// another; the invitee stays verified.
    #[tracing::instrument(skip_all, fields(invitee_id = id))]
    pub async fn unlink_discord(&self, id: i64, actor: Actor) -> Result<HandChange, ServiceError> {
        let Some(linked) = self.invitee(id).await?.discord_user_id else {
            return Ok(HandChange::NothingToDo(self.invitee(id).await?));
        };
        let event = NewEvent::new(EventKind::DiscordAccountUnlinked, actor)
            .invitee(id)
            .detail(json!({ "discord_user_id": linked }));
        let change = self
            .store()
            .edit_by_admin(id, AdminEdit::UnlinkDiscord, &event, self.now())
            .await?;
        hand_change(change)
    }

    /// Deletes every invitee the selection holds now, each with its event; how many.
    #[tracing::instrument(skip_all)]
    pub async fn delete_selected(
        &self,
        selection: &InviteeSelection,
        actor: Actor,
    ) -> Result<u64, ServiceError> {
        let event = NewEvent::new(EventKind::InviteeDeleted, actor).detail(json!({}));
        Ok(self
            .store()
            .delete_selected(selection, &event, self.now())
            .await?)
    }

    /// Deletes the invitees with these ids (those that still exist); how many.
    #[tracing::instrument(skip_all)]
    pub async fn delete_invitees(&self, ids: &[i64], actor: Actor) -> Result<u64, ServiceError> {
        let mut deleted = 0;
        for id in ids {
            match self.delete_invitee(*id, actor.clone()).await {
                Ok(_) => deleted += 1,
                Err(ServiceError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

fn hand_change(change: AdminChange) -> Result<HandChange, ServiceError> {
    match change {
        AdminChange::Changed(before) => Ok(HandChange::Done(before)),
        AdminChange::Unchanged(now) => Ok(HandChange::NothingToDo(now)),
        AdminChange::NotFound => Err(ServiceError::NotFound),
    }
}
