//! One invitee's actions: resend its invitation, issue a new token (shown once), mark it
//! verified, unlink its Discord account, delete it. Each is the service's operation, with
//! actor `ui`; each answers with a page saying what happened.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::super::assets;
use super::super::layout::{self, Layout, Section};
use super::super::session::SignedIn;
use super::back_to;
use crate::api::AppState;
use crate::domain::SkipReason;
use crate::domain::event::Actor;
use crate::service::{HandChange, Recipients, ServiceError};

/// Where an action's page leads back to: a form's field, or the query of the page that
/// asks to confirm a deletion.
#[derive(Debug, Default, Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// A token shown the one time it is issued.
pub struct ShownToken {
    pub token: String,
    pub expires: String,
}

/// What an action did, in the words of its page.
pub struct Said {
    pub heading: String,
    pub message: String,
    /// `info` or `error`.
    pub tone: &'static str,
    pub token: Option<ShownToken>,
}

impl Said {
    pub fn done(heading: &str, message: String) -> Self {
        Self {
            heading: heading.to_owned(),
            message,
            tone: "info",
            token: None,
        }
    }

    /// Nothing was done, and why.
    pub fn refused(heading: &str, message: String) -> Self {
        Self {
            tone: "error",
            ..Self::done(heading, message)
        }
    }
}

/// The answer to an action: what was done, and the way back to the listing.
#[derive(Template, WebTemplate)]
#[template(path = "invitee_outcome.html")]
pub struct Outcome {
    pub layout: Layout,
    pub said: Said,
    pub back: String,
    pub script_url: String,
}

/// The page's template reads what was said as its own fields.
impl std::ops::Deref for Outcome {
    type Target = Said;
    fn deref(&self) -> &Said {
        &self.said
    }
}

impl Outcome {
    pub fn new(signed_in: &SignedIn, said: Said, back: String) -> Self {
        Self {
            layout: Layout::new(Section::Invitees, &signed_in.session.csrf_token),
            said,
            back,
            script_url: assets::url("invitees.js"),
        }
    }
}

/// The page for a failed operation: a missing invitee, or something broken.
fn failed(error: ServiceError) -> Response {
    match error {
        ServiceError::NotFound => layout::problem(
            StatusCode::NOT_FOUND,
            "No such invitee",
            "This invitee does not exist any more: someone may have deleted it.",
        ),
        other => layout::internal(other),
    }
}

/// An action on the invitee the path names, by the admin signed in, with the way back to
/// the listing that its form gave.
pub struct OnInvitee {
    signed_in: SignedIn,
    id: i64,
    back: String,
}

/// Extracted as `(SignedIn, Path<i64>, Form<Back>)` would be, in that order.
impl FromRequest<AppState> for OnInvitee {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let signed_in = SignedIn::from_request_parts(&mut parts, state).await?;
        let Path(id) = Path::<i64>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Form(form) = Form::<Back>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            signed_in,
            id,
            back: back_to(form.back.as_deref()),
        })
    }
}

impl OnInvitee {
    /// Runs the action on the invitee, then shows what it did.
    async fn answer(self, action: impl AsyncFnOnce(i64) -> Result<Said, ServiceError>) -> Response {
        match action(self.id).await {
            Ok(said) => Outcome::new(&self.signed_in, said, self.back).into_response(),
            Err(e) => failed(e),
        }
    }
}

pub async fn resend(State(state): State<AppState>, action: OnInvitee) -> Response {
    action
        .answer(async |id| {
            let batch = state
                .doorman
                .queue_invitations(Recipients::Ids(vec![id]), false, Actor::Ui)
                .await?;
            if let Some(skipped) = batch.skipped.first() {
                if skipped.reason == SkipReason::NotFound {
                    return Err(ServiceError::NotFound);
                }
                let why = super::bulk::reason_words(skipped.reason);
                let message = format!("Nothing was sent: {why}.");
                return Ok(Said::refused("Invitation not sent", message));
            }
            let to = state.doorman.invitee(id).await?.email;
            let message = format!("An invitation with a fresh token is on its way to {to}.");
            Ok(Said::done("Invitation queued", message))
        })
        .await
}

pub async fn new_token(State(state): State<AppState>, action: OnInvitee) -> Response {
    action
        .answer(async |id| {
            let issued = state.doorman.refresh_token(id, Actor::Ui).await?;
            let invitee = state.doorman.invitee(id).await?;
            let message = format!(
                "{} has a new token; the previous one no longer works. It is shown only now: copy \
             it and hand it over yourself, or resend the invitation instead.",
                invitee.email
            );
            Ok(Said {
                token: Some(ShownToken {
                    token: issued.token.expose().to_owned(),
                    expires: issued.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                }),
                ..Said::done("New token issued", message)
            })
        })
        .await
}

pub async fn verify(State(state): State<AppState>, action: OnInvitee) -> Response {
    action
        .answer(async |id| {
            Ok(
                match state.doorman.force_verify_invitee(id, Actor::Ui).await? {
                    HandChange::Done(invitee) => Said::done(
                        "Marked verified",
                        format!("{} is verified, without a token.", invitee.email),
                    ),
                    HandChange::NothingToDo(invitee) => Said::refused(
                        "Already verified",
                        format!("{} was verified already; nothing changed.", invitee.email),
                    ),
                },
            )
        })
        .await
}

pub async fn unlink(State(state): State<AppState>, action: OnInvitee) -> Response {
    action.answer(async |id| {
        Ok(match state.doorman.unlink_discord(id, Actor::Ui).await? {
            HandChange::Done(invitee) => Said::done(
                "Discord account unlinked",
                format!(
                    "{} is no longer linked to Discord account {}; they may verify with another.",
                    invitee.email,
                    invitee.discord_user_id.unwrap_or_default()
                ),
            ),
            HandChange::NothingToDo(invitee) => Said::refused(
                "No Discord account",
                format!(
                    "{} has no Discord account linked; nothing changed.",
                    invitee.email
                ),
            ),
        })
    })
    .await
}

#[derive(Template, WebTemplate)]
#[template(path = "invitee_delete.html")]
struct ConfirmDelete {
    layout: Layout,
    id: i64,
    email: String,
    name: String,
    back: String,
}

pub async fn confirm_delete(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<Back>,
) -> Response {
    match state.doorman.invitee(id).await {
        Ok(invitee) => ConfirmDelete {
            layout: Layout::new(Section::Invitees, &signed_in.session.csrf_token),
            id,
            email: invitee.email.to_string(),
            name: invitee.name,
            back: back_to(query.back.as_deref()),
        }
        .into_response(),
        Err(e) => failed(e),
    }
}

pub async fn delete(State(state): State<AppState>, action: OnInvitee) -> Response {
    action
        .answer(async |id| {
            let invitee = state.doorman.delete_invitee(id, Actor::Ui).await?;
            let message = format!("{} is deleted; their token no longer works.", invitee.email);
            Ok(Said::done("Invitee deleted", message))
        })
        .await
}
