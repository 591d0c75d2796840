//! The join pages' one template, and what each outcome says: what happened, and what
//! to do next.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::discord::DiscordError;
use crate::service::{AttemptSource, JoinInvitation, JoinRefusal, ServiceError};
use crate::web::layout::Assets;

pub struct Action {
    pub href: String,
    pub label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "join_page.html")]
struct JoinPage {
    assets: Assets,
    title: String,
    heading: String,
    lines: Vec<String>,
    action: Option<Action>,
}

pub(super) fn page(
    status: StatusCode,
    heading: impl Into<String>,
    lines: Vec<String>,
    action: Option<Action>,
) -> Response {
    let heading = heading.into();
    let page = JoinPage {
        assets: Assets::new(),
        title: heading.clone(),
        heading,
        lines,
        action,
    };
    (status, page).into_response()
}

pub(super) fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Page not found",
        vec!["There is nothing at this address.".into()],
        None,
    )
}

const ASK_AGAIN: &str =
    "Ask the organiser for a new invitation; its email will carry a fresh link.";

pub(super) fn source(address: Option<std::net::IpAddr>) -> AttemptSource<'static> {
    address.map_or(AttemptSource::Unknown, AttemptSource::Client)
}

pub(super) fn trouble(error: ServiceError) -> Response {
    match error {
        ServiceError::Throttled { retry_after_secs } => {
            let minutes = retry_after_secs.div_ceil(60);
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                vec![format!(
                    "Too many invitation links that do not work came from your address. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                )],
                None,
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        other => {
            tracing::error!(error = %other, "a join page failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                vec![
                    "doorman could not finish this just now. Please try again in a moment.".into(),
                ],
                None,
            )
        }
    }
}

/// The page for a link that cannot be used.
pub(super) fn unusable(invitation: &JoinInvitation) -> Response {
    match invitation {
        JoinInvitation::Open { .. } => not_found(),
        JoinInvitation::Used { name } => page(
            StatusCode::OK,
            "Already joined",
            vec![
                format!("The invitation for {name} has been used already: they are verified."),
                "If you are not in the server, or it was not you who used it, tell the organiser.".into(),
            ],
            None,
        ),
        JoinInvitation::Expired { name } => page(
            StatusCode::GONE,
            "This invitation has expired",
            vec![format!("The invitation for {name} is no longer valid."), ASK_AGAIN.into()],
            None,
        ),
        JoinInvitation::Unknown => page(
            StatusCode::NOT_FOUND,
            "This link does not work",
            vec![
                "It may have been replaced by a newer invitation, or mistyped. Use the link in your latest invitation email.".into(),
                ASK_AGAIN.into(),
            ],
            None,
        ),
    }
}

pub(super) fn refused(refusal: JoinRefusal, discord: Option<&DiscordError>) -> Response {
    let again = "Open the link in your invitation email again to try once more.";
    let (status, heading, lines): (StatusCode, &str, Vec<String>) = match refusal {
        JoinRefusal::UnknownState | JoinRefusal::StateExpired | JoinRefusal::OtherBrowser => (
            StatusCode::BAD_REQUEST,
            "This sign-in did not come from here",
            vec![
                "It has expired, was used already, or began in another browser.".into(),
                again.into(),
            ],
        ),
        JoinRefusal::ConsentDenied => (
            StatusCode::BAD_REQUEST,
            "You cancelled at Discord",
            vec![
                "Nothing was changed and your invitation still works.".into(),
                again.into(),
            ],
        ),
        JoinRefusal::InvitationUsed => (
            StatusCode::CONFLICT,
            "This invitation has been used already",
            vec![
                "Its Discord account is in the server. If that was not you, tell the organiser."
                    .into(),
            ],
        ),
        JoinRefusal::AccountLinkedElsewhere => (
            StatusCode::CONFLICT,
            "This Discord account belongs to another invitation",
            vec![
                "Sign in to Discord with your own account and try again, or tell the organiser."
                    .into(),
                again.into(),
            ],
        ),
        JoinRefusal::InvitationExpired | JoinRefusal::InvitationReplaced => (
            StatusCode::GONE,
            "This invitation can no longer be used",
            vec![
                "It has expired or was replaced by a newer one.".into(),
                ASK_AGAIN.into(),
            ],
        ),
        JoinRefusal::DiscordFailed | JoinRefusal::DiscordRefused => {
            let failed = matches!(discord, Some(DiscordError::Failed { .. }) | None);
            let what = match discord {
                Some(DiscordError::Refused { what, .. } | DiscordError::Failed { what, .. }) => {
                    *what
                }
                None => "the sign-in",
            };
            let status = if failed {
                StatusCode::BAD_GATEWAY
            } else if refusal == JoinRefusal::DiscordRefused {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            let mut lines = vec![if failed {
                format!("Discord did not answer at {what}. This is usually brief.")
            } else {
                format!("Discord refused {what}.")
            }];
            if refusal == JoinRefusal::DiscordRefused && !failed {
                lines.push("The server's settings need a look: please tell the organiser.".into());
            }
            lines.push("Your invitation still works.".into());
            lines.push(again.into());
            (status, "Discord could not finish this", lines)
        }
    };
    page(status, heading, lines, None)
}
