//! Readying a claimed email: it is still wanted, and carries a token with life left.

use serde_json::json;

use crate::domain::EmailKind;
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::domain::token::Token;
use crate::email::{Outgoing, Recipient};
use crate::service::{Doorman, ServiceError};
use crate::store::{ClaimedEmail, EmailResult};

/// A token this close to expiry is replaced before it is emailed.
const MIN_TOKEN_LIFE: chrono::Duration = chrono::Duration::hours(1);

const DELETED: &str = "the invitee was deleted";
const VERIFIED: &str = "the invitee verified before the email was sent";

/// What to do with a claimed email before any sending.
pub(super) enum Prepared {
    Ready(Box<Outgoing>),
    Skip(EmailResult, NewEvent),
}

impl Doorman {
    pub(super) async fn prepare(&self, email: &ClaimedEmail) -> Result<Prepared, ServiceError> {
        let cancel = |reason: &str| {
            let event = NewEvent::new(EventKind::EmailCancelled, Actor::System)
                .detail(json!({ "email_id": email.id, "kind": email.kind, "reason": reason }));
            let event = match email.invitee_id {
                Some(id) => event.invitee(id),
                None => event,
            };
            let result = EmailResult::Cancelled {
                reason: reason.into(),
            };
            Ok(Prepared::Skip(result, event))
        };
        let (Some(invitee_id), Some(verified)) = (email.invitee_id, email.is_verified) else {
            return cancel(DELETED);
        };
        if verified {
            return cancel(VERIFIED);
        }
        let now = self.now();
        let current = match (&email.token_sealed, email.token_expires_at) {
            (Some(sealed), Some(expires)) if expires - now > MIN_TOKEN_LIFE => {
                match self.keys().open(sealed, invitee_id) {
                    Ok(token) => Some((token, expires)),
                    Err(e) => {
                        let error = e.to_string();
                        let event = NewEvent::new(EventKind::EmailFailed, Actor::System)
                            .invitee(invitee_id)
                            .detail(
                                json!({ "email_id": email.id, "kind": email.kind, "error": error }),
                            );
                        return Ok(Prepared::Skip(EmailResult::Failed { error }, event));
                    }
                }
            }
            _ => None,
        };
        // A reminder after the token expired carries a fresh one.
        let (token, expires_at): (Token, _) = match current {
            Some(pair) => pair,
            None => match self.refresh_token(invitee_id, Actor::System).await {
                Ok(issued) => (issued.token, issued.expires_at),
                Err(ServiceError::NotFound) => return cancel(DELETED),
                Err(e) => return Err(e),
            },
        };
        let name = email
            .invitee_name
            .as_deref()
            .unwrap_or(&email.recipient_name);
        let recipient = Recipient {
            name,
            email: &email.recipient,
            token: &token.grouped(),
            expires_at,
            reminder: email.kind == EmailKind::Reminder,
        };
        let values = self.email().mailer.composer.values(&recipient, self.now());
        Ok(Prepared::Ready(Box::new(Outgoing {
            to: email.recipient.clone(),
            values,
            invitee_id: Some(invitee_id),
            email_id: Some(email.id),
        })))
    }
}
