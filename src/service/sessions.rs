//! Admin UI sessions: opened with the admin key, checked on every page, closed on sign-out.
//!
//! The browser holds a random token; the database holds only its hash, so reading the
//! sessions table (or a backup of it) opens no session.

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Doorman, ServiceError};
use crate::domain::event::{Actor, EventKind, NewEvent};
use crate::store::NewAdminSession;

/// How often a session's `last_seen_at` is written: at most once a minute, so browsing
/// is not a stream of writes.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// The token a browser presents for its session. Never logged, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn new(presented: impl Into<String>) -> Self {
        Self(presented.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The session's id in the database.
    fn id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

/// A live session, as a page needs it.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A session just opened: the browser's token (for the cookie) and its CSRF token.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub token: SessionToken,
    pub session: AdminSession,
}

/// 32 bytes from the operating system's CSPRNG, URL-safe: a cookie and form value as is.
fn unguessable() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Doorman {
    /// Opens a session for someone who gave the right admin key. `replaces` is the session
    /// the browser brought, dropped so that every sign-in starts a fresh one.
    #[tracing::instrument(skip_all, fields(client = ?client))]
    pub async fn open_admin_session(
        &self,
        client: Option<IpAddr>,
        lifetime: chrono::Duration,
        replaces: Option<&SessionToken>,
    ) -> Result<OpenedSession, ServiceError> {
        let now = self.now();
        let token = SessionToken(unguessable());
        let session = AdminSession {
            csrf_token: unguessable(),
            expires_at: now + lifetime,
        };
        let client_addr = client.map(|a| a.to_string());
        let event = NewEvent::new(EventKind::UiSignedIn, Actor::Ui)
            .detail(json!({ "address": client_addr, "expires_at": session.expires_at }));
        let new = NewAdminSession {
            id: token.id(),
            csrf_token: session.csrf_token.clone(),
            expires_at: session.expires_at,
            client_addr,
        };
        let replaced = replaces.map(SessionToken::id);
        self.store()
            .open_admin_session(&new, replaced.as_deref(), &event, now)
            .await?;
        Ok(OpenedSession { token, session })
    }

    /// The live session behind `token`, if there is one.
    #[tracing::instrument(skip_all)]
    pub async fn admin_session(
        &self,
        token: &SessionToken,
    ) -> Result<Option<AdminSession>, ServiceError> {
        let now = self.now();
        let id = token.id();
        let Some(stored) = self.store().admin_session(&id, now).await? else {
            return Ok(None);
        };
        if now - stored.last_seen_at >= TOUCH_EVERY {
            self.store().touch_admin_session(&id, now).await?;
        }
        Ok(Some(AdminSession {
            csrf_token: stored.csrf_token,
            expires_at: stored.expires_at,
        }))
    }

    /// Ends the session on the server: its token opens nothing from now on.
    #[tracing::instrument(skip_all)]
    pub async fn close_admin_session(&self, token: &SessionToken) -> Result<bool, ServiceError> {
        let event = NewEvent::new(EventKind::UiSignedOut, Actor::Ui);
        Ok(self
            .store()
            .close_admin_session(&token.id(), &event, self.now())
            .await?)
    }

    /// Records a sign-in refused for a wrong key (the key itself is never recorded).
    #[tracing::instrument(skip_all, fields(client = ?client))]
    pub async fn record_ui_sign_in_refused(
        &self,
        client: Option<IpAddr>,
        reason: &'static str,
    ) -> Result<(), ServiceError> {
        let event = NewEvent::new(EventKind::UiSignInRefused, Actor::Ui)
            .detail(json!({ "address": client.map(|a| a.to_string()), "reason": reason }));
        self.record_event(&event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_id_is_a_hash_of_the_token_not_the_token() {
        let token = SessionToken::new("abc");
        assert_eq!(
            token.id(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!token.id().contains(token.expose()));
    }

    #[test]
    fn fresh_tokens_differ_and_are_cookie_safe() {
        let (a, b) = (unguessable(), unguessable());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let token = SessionToken::new("secret-value");
        assert!(!format!("{token:?}").contains("secret-value"));
    }
}
