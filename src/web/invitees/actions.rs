//! One invitee's actions: resend its invitation, issue a new token (shown once), mark it
//! verified, unlink its Discord account, delete it. Each is the service's operation, with
//! actor `ui`; each answers with a page saying what happened.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::super::assets;
use super::super::layout::{self, Layout, Section};
use super::super::session::SignedIn;
use super::back_to;
use crate::api::AppState;
use crate::domain::event::Actor;
use crate::service::{HandChange, Recipients, ServiceError};

#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    back: Option<String>,
}

/// A token shown the one time it is issued.
pub struct ShownToken {
    pub token: String,
    pub expires: String,
}

/// The answer to an action: what was done, and the way back to the listing.
#[derive(Template, WebTemplate)]
#[template(path = "invitee_outcome.html")]
pub struct Outcome {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    /// `info` or `error`.
    pub tone: &'static str,
    pub token: Option<ShownToken>,
    pub back: String,
    pub script_url: String,
}

impl Outcome {
    pub fn new(signed_in: &SignedIn, heading: &str, message: String, back: String) -> Self {
        Self {
            layout: Layout::new(Section::Invitees, &signed_in.session.csrf_token),
            heading: heading.to_owned(),
            message,
            tone: "info",
            token: None,
            back,
            script_url: assets::url("invitees.js"),
        }
    }

    pub fn refused(mut self) -> Self {
        self.tone = "error";
        self
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

pub async fn resend(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Response {
    let back = back_to(form.back.as_deref());
    let batch = match state
        .doorman
        .queue_invitations(Recipients::Ids(vec![id]), false, Actor::Ui)
        .await
    {
        Ok(batch) => batch,
        Err(e) => return failed(e),
    };
    if let Some(skipped) = batch.skipped.first() {
        let why = super::bulk::reason_words(skipped.reason);
        if skipped.reason == crate::domain::SkipReason::NotFound {
            return failed(ServiceError::NotFound);
        }
        let message = format!("Nothing was sent: {why}.");
        return Outcome::new(&signed_in, "Invitation not sent", message, back)
            .refused()
            .into_response();
    }
    let to = match state.doorman.invitee(id).await {
        Ok(invitee) => invitee.email.to_string(),
        Err(e) => return failed(e),
    };
    let message = format!("An invitation with a fresh token is on its way to {to}.");
    Outcome::new(&signed_in, "Invitation queued", message, back).into_response()
}

pub async fn new_token(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Response {
    let back = back_to(form.back.as_deref());
    let (issued, invitee) = match state.doorman.refresh_token(id, Actor::Ui).await {
        Ok(issued) => match state.doorman.invitee(id).await {
            Ok(invitee) => (issued, invitee),
            Err(e) => return failed(e),
        },
        Err(e) => return failed(e),
    };
    let message = format!(
        "{} has a new token; the previous one no longer works. It is shown only now: copy it \
         and hand it over yourself, or resend the invitation instead.",
        invitee.email
    );
    let mut outcome = Outcome::new(&signed_in, "New token issued", message, back);
    outcome.token = Some(ShownToken {
        token: issued.token.expose().to_owned(),
        expires: issued.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    });
    outcome.into_response()
}

pub async fn verify(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Response {
    let back = back_to(form.back.as_deref());
    match state.doorman.force_verify_invitee(id, Actor::Ui).await {
        Ok(HandChange::Done(invitee)) => Outcome::new(
            &signed_in,
            "Marked verified",
            format!("{} is verified, without a token.", invitee.email),
            back,
        )
        .into_response(),
        Ok(HandChange::NothingToDo(invitee)) => Outcome::new(
            &signed_in,
            "Already verified",
            format!("{} was verified already; nothing changed.", invitee.email),
            back,
        )
        .refused()
        .into_response(),
        Err(e) => failed(e),
    }
}

pub async fn unlink(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Response {
    let back = back_to(form.back.as_deref());
    match state.doorman.unlink_discord(id, Actor::Ui).await {
        Ok(HandChange::Done(invitee)) => Outcome::new(
            &signed_in,
            "Discord account unlinked",
            format!(
                "{} is no longer linked to Discord account {}; they may verify with another.",
                invitee.email,
                invitee.discord_user_id.unwrap_or_default()
            ),
            back,
        )
        .into_response(),
        Ok(HandChange::NothingToDo(invitee)) => Outcome::new(
            &signed_in,
            "No Discord account",
            format!(
                "{} has no Discord account linked; nothing changed.",
                invitee.email
            ),
            back,
        )
        .refused()
        .into_response(),
        Err(e) => failed(e),
    }
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

#[derive(Debug, Default, Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

pub async fn confirm_delete(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<BackQuery>,
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

pub async fn delete(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Response {
    let back = back_to(form.back.as_deref());
    match state.doorman.delete_invitee(id, Actor::Ui).await {
        Ok(invitee) => Outcome::new(
            &signed_in,
            "Invitee deleted",
            format!("{} is deleted; their token no longer works.", invitee.email),
            back,
        )
        .into_response(),
        Err(e) => failed(e),
    }
}
