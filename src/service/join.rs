//! One-click join: the invitation's personal link, the trip to Discord's consent page and
//! back, and the verification it ends in — the same verification as every other channel
//! (channel `oauth`), reached through a state doorman made instead of a typed token.
//!
//! The state is single-use, expires in minutes, and is bound to the invitee (and their
//! token at the time) and to the browser that set off (a cookie). Only hashes of both are
//! stored; the browser's is compared in constant time.

use serde_json::json;
use subtle::ConstantTimeEq;

mod types;

use super::verification::{Attempt, Failure};
use super::{AttemptSource, Doorman, ServiceError, VerifyOutcome, VerifyRequest};
use crate::domain::event::{Actor, Channel, EventKind, NewEvent};
use crate::domain::invitee::{DiscordUserId, Invitee, token_expired};
use crate::store::NewJoinState;
pub use types::{JoinClaim, JoinInvitation, JoinPlan, JoinRefusal, JoinSecret, StartedJoin};

/// How long a trip to Discord's consent page may take.
pub const STATE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// What the throttle counts unknown links under: one allowance for all links, per source
/// and for everyone together, as for one email.
const LINK_KEY: &str = "join link";

fn join_event(kind: EventKind, invitee_id: Option<i64>, detail: serde_json::Value) -> NewEvent {
    let mut event = NewEvent::new(kind, Actor::Invitee)
        .channel(Channel::Oauth)
        .detail(detail);
    event.invitee_id = invitee_id;
    event
}

impl Doorman {
    /// What the personal link with `token` opens. Unknown links count against the
    /// source's allowance as failed verifications do; the link is not used up.
    #[tracing::instrument(skip_all)]
    pub async fn join_invitation(
        &self,
        token: &str,
        source: AttemptSource<'_>,
    ) -> Result<JoinInvitation, ServiceError> {
        Ok(self.find_invitation(token, source).await?.0)
    }

    async fn find_invitation(
        &self,
        token: &str,
        source: AttemptSource<'_>,
    ) -> Result<(JoinInvitation, Option<Invitee>), ServiceError> {
        let now = self.now();
        let source_key = source.key();
        self.lookup_within_limits(LINK_KEY, &source_key, now)
            .await?;
        let hash = self.keys().hash_input(token);
        let Some(invitee) = self.store().invitee_by_token_hash(&hash).await? else {
            let request = VerifyRequest {
                email: LINK_KEY,
                token: "",
                discord_user_id: None,
                channel: Channel::Oauth,
                actor: Actor::Invitee,
                source,
            };
            let attempt = Attempt {
                email: LINK_KEY,
                source: &source_key,
                reason: Failure::UnknownLink,
                request: &request,
                now,
            };
            self.record_failure(attempt, None).await?;
            return Ok((JoinInvitation::Unknown, None));
        };
        let name = invitee.name.clone();
        let found = if invitee.is_verified {
            JoinInvitation::Used { name }
        } else if token_expired(&invitee, now) {
            JoinInvitation::Expired { name }
        } else {
            JoinInvitation::Open {
                name,
                expires_at: invitee.token_expires_at.unwrap_or(now),
            }
        };
        Ok((found, Some(invitee)))
    }

    /// Begins a trip to Discord for the invitation behind `token`: a fresh state, bound
    /// to the browser's cookie (`browser`, or a fresh one). `Err` is what the link opens
    /// instead when it cannot be used.
    #[tracing::instrument(skip_all)]
    pub async fn start_join(
        &self,
        token: &str,
        browser: Option<JoinSecret>,
        source: AttemptSource<'_>,
    ) -> Result<Result<StartedJoin, JoinInvitation>, ServiceError> {
        let (found, invitee) = self.find_invitation(token, source).await?;
        let (JoinInvitation::Open { .. }, Some(invitee)) = (&found, invitee) else {
            return Ok(Err(found));
        };
        let Some(token_hash) = invitee.token_hash.clone() else {
            return Ok(Err(JoinInvitation::Unknown));
        };
        let now = self.now();
        let started = StartedJoin {
            state: JoinSecret::fresh(),
            browser: browser.unwrap_or_else(JoinSecret::fresh),
        };
        let state = NewJoinState {
            id: started.state.hash(),
            browser_hash: started.browser.hash(),
            invitee_id: invitee.id,
            token_hash,
            expires_at: now + STATE_LIFETIME,
        };
        let event = join_event(EventKind::JoinStarted, Some(invitee.id), json!({}));
        self.store().open_join_state(&state, &event, now).await?;
        Ok(Ok(started))
    }

    /// Takes the state Discord brought back. It must be one doorman made, unused, unexpired
    /// and from the browser that set off; whatever the answer, it opens nothing again.
    #[tracing::instrument(skip_all)]
    pub async fn claim_join(
        &self,
        state: &JoinSecret,
        browser: Option<&JoinSecret>,
    ) -> Result<Result<JoinClaim, JoinRefusal>, ServiceError> {
        let now = self.now();
        let taken = self.store().take_join_state(&state.hash()).await?;
        let Some(taken) = taken else {
            self.refuse(None, JoinRefusal::UnknownState).await?;
            return Ok(Err(JoinRefusal::UnknownState));
        };
        let presented = browser.map(JoinSecret::hash).unwrap_or_default();
        let same_browser: bool = presented
            .as_bytes()
            .ct_eq(taken.browser_hash.as_bytes())
            .into();
        let refusal = if !same_browser {
            Some(JoinRefusal::OtherBrowser)
        } else if taken.expires_at <= now {
            Some(JoinRefusal::StateExpired)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.refuse(Some(taken.invitee_id), refusal).await?;
            return Ok(Err(refusal));
        }
        Ok(Ok(JoinClaim {
            invitee_id: taken.invitee_id,
            token_hash: taken.token_hash,
        }))
    }

    /// Records a refusal that happened at Discord (cancelled, failed, refused).
    pub async fn refuse_join(
        &self,
        claim: &JoinClaim,
        refusal: JoinRefusal,
    ) -> Result<(), ServiceError> {
        self.refuse(Some(claim.invitee_id), refusal).await
    }

    async fn refuse(
        &self,
        invitee_id: Option<i64>,
        refusal: JoinRefusal,
    ) -> Result<(), ServiceError> {
        let event = join_event(
            EventKind::JoinRefused,
            invitee_id,
            json!({ "reason": refusal.as_str() }),
        );
        self.record_event(&event).await
    }

    /// Verifies the invitee of `claim` as the Discord account `user`, in the one step that
    /// is safe under concurrency: refused if the invitation was used (by anyone, at any
    /// moment before), or the account belongs to another invitee. On success the account
    /// is linked and the plan says whom to add to the server.
    #[tracing::instrument(skip_all)]
    pub async fn complete_join(
        &self,
        claim: JoinClaim,
        user: &DiscordUserId,
        source: AttemptSource<'_>,
    ) -> Result<Result<JoinPlan, JoinRefusal>, ServiceError> {
        let now = self.now();
        let Some(invitee) = self.store().invitee(claim.invitee_id).await? else {
            self.refuse(None, JoinRefusal::InvitationReplaced).await?;
            return Ok(Err(JoinRefusal::InvitationReplaced));
        };
        let email = invitee.email.as_str().to_owned();
        let request = VerifyRequest {
            email: &email,
            token: "",
            discord_user_id: Some(user),
            channel: Channel::Oauth,
            actor: Actor::Invitee,
            source,
        };
        let source_key = source.key();
        let outcome = self
            .verify_holder(
                invitee,
                claim.token_hash.clone(),
                &request,
                (&email, &source_key),
                now,
            )
            .await?;
        let refusal = match outcome {
            VerifyOutcome::Verified { invitee_id, .. } => {
                let event = join_event(
                    EventKind::DiscordAccountLinked,
                    Some(invitee_id),
                    json!({ "discord_user_id": user.as_str() }),
                );
                self.record_event(&event).await?;
                let invitee = self
                    .store()
                    .invitee(invitee_id)
                    .await?
                    .ok_or(ServiceError::NotFound)?;
                return Ok(Ok(JoinPlan {
                    invitee,
                    discord_user_id: user.clone(),
                }));
            }
            VerifyOutcome::AlreadyVerified => JoinRefusal::InvitationUsed,
            VerifyOutcome::Expired => JoinRefusal::InvitationExpired,
            VerifyOutcome::DiscordAccountInUse => JoinRefusal::AccountLinkedElsewhere,
            VerifyOutcome::InvalidToken | VerifyOutcome::NotFound => {
                JoinRefusal::InvitationReplaced
            }
        };
        self.refuse(Some(claim.invitee_id), refusal).await?;
        Ok(Err(refusal))
    }

    /// Discord would not add the member: the verification this join made is taken back,
    /// so the invitation can be used again.
    #[tracing::instrument(skip_all)]
    pub async fn undo_join(
        &self,
        plan: &JoinPlan,
        refusal: JoinRefusal,
    ) -> Result<(), ServiceError> {
        let event = join_event(
            EventKind::JoinUndone,
            Some(plan.invitee.id),
            json!({ "reason": refusal.as_str(), "discord_user_id": plan.discord_user_id.as_str() }),
        );
        self.store()
            .undo_join(
                plan.invitee.id,
                plan.discord_user_id.as_str(),
                &event,
                self.now(),
            )
            .await?;
        self.refuse(Some(plan.invitee.id), refusal).await
    }
}
