//! Reading and removing invitees.

use futures::stream::BoxStream;
use serde_json::json;

use super::{Doorman, ServiceError};
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::invitee::{Invitee, InviteeFilter};

impl Doorman {
    #[tracing::instrument(skip_all, fields(invitee_id = id))]
    pub async fn invitee(&self, id: i64) -> Result<Invitee, ServiceError> {
        self.store()
            .invitee(id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// How many invitees the filter matches, whatever its page.
    #[tracing::instrument(skip_all)]
    pub async fn count_invitees(&self, filter: &InviteeFilter) -> Result<i64, ServiceError> {
        Ok(self.store().count_invitees(filter).await?)
    }

    /// The filter's page of invitees, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_invitees(
        &self,
        filter: &InviteeFilter,
    ) -> Result<Vec<Invitee>, ServiceError> {
        Ok(self.store().list_invitees(filter).await?)
    }

    /// As [`Doorman::list_invitees`], read as the stream is consumed, so that a long
    /// listing is never all in memory.
    pub fn stream_invitees(
        &self,
        filter: &InviteeFilter,
    ) -> BoxStream<'static, Result<Invitee, ServiceError>> {
        use futures::StreamExt;
        self.store()
            .stream_invitees(filter)
            .map(|row| row.map_err(ServiceError::from))
            .boxed()
    }

    #[tracing::instrument(skip_all, fields(invitee_id = id))]
    pub async fn delete_invitee(&self, id: i64, actor: Actor) -> Result<Invitee, ServiceError> {
        let event = NewEvent::new(EventKind::InviteeDeleted, actor).invitee(id);
        let deleted = self.store().delete_invitee(id, &event, self.now()).await?;
        deleted.ok_or(ServiceError::NotFound)
    }

    #[tracing::instrument(skip_all)]
    pub async fn delete_all_invitees(&self, actor: Actor) -> Result<u64, ServiceError> {
        let event = NewEvent::new(EventKind::AllInviteesDeleted, actor).detail(json!({}));
        Ok(self.store().delete_all_invitees(event, self.now()).await?)
    }
}
