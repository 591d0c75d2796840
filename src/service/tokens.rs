//! Issuing tokens.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Doorman, ServiceError};
use crate::domain::Email;
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::token::Token;

/// A freshly issued token: the only moment its plaintext leaves doorman's keeping.
#[derive(Debug)]
pub struct IssuedToken {
    pub invitee_id: i64,
    pub token: Token,
    pub expires_at: DateTime<Utc>,
}

impl Doorman {
    /// Issues a new token for the invitee; the previous one stops working at once.
    #[tracing::instrument(skip_all, fields(invitee_id = id))]
    pub async fn refresh_token(&self, id: i64, actor: Actor) -> Result<IssuedToken, ServiceError> {
        let now = self.now();
        let token = Token::generate(self.inner.token_length);
        let expires_at = now + self.inner.token_expiry;
        let hash = self.inner.keys.hash(&token);
        let sealed = self.inner.keys.seal(&token, id);
        let event = NewEvent::new(EventKind::TokenIssued, actor)
            .invitee(id)
            .detail(json!({ "expires_at": expires_at }));
        if !self
            .store()
            .set_token(id, &hash, &sealed, now, expires_at, &event)
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        Ok(IssuedToken {
            invitee_id: id,
            token,
            expires_at,
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn refresh_token_by_email(
        &self,
        email: &str,
        actor: Actor,
    ) -> Result<IssuedToken, ServiceError> {
        let invitee = self
            .store()
            .invitee_by_email(&Email::normalise(email))
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.refresh_token(invitee.id, actor).await
    }
}
