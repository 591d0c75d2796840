//! Bulk actions on the invitees ticked on a page or on all that match the view, judged
//! again on the server: first a review that says exactly what would happen (how many
//! would really be emailed, how many skipped and why; how many deleted), then the action.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::super::layout::{self, Layout, Section};
use super::super::session::SignedIn;
use super::actions::{Outcome, Said};
use super::{Chosen, back_to};
use crate::api::AppState;
use crate::domain::SkipReason;
use crate::domain::event::Actor;
use crate::service::{Recipients, Skipped};

/// Ids a page can tick at once; more is not a page's selection.
const MAX_IDS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Resend,
    Delete,
}

/// What the bulk form sent.
#[derive(Debug, Clone)]
struct BulkForm {
    action: Action,
    /// All that match the view, rather than the ticked ones.
    all_matching: bool,
    ids: Vec<i64>,
    chosen: Chosen,
    /// The count the review stated, on confirming.
    expected: Option<i64>,
    back: String,
}

impl BulkForm {
    fn parse(body: &[u8]) -> Self {
        let mut ids = Vec::new();
        let (mut action, mut scope, mut q, mut status, mut expected, mut back) =
            (None, None, None, None, None, None);
        for (name, value) in url::form_urlencoded::parse(body) {
            match &*name {
                "id" => ids.extend(value.parse::<i64>().ok().filter(|id| *id > 0)),
                "action" => action = Some(value.into_owned()),
                "scope" => scope = Some(value.into_owned()),
                "q" => q = Some(value.into_owned()),
                "status" => status = Some(value.into_owned()),
                "expected" => expected = value.parse().ok(),
                "back" => back = Some(value.into_owned()),
                _ => {}
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(MAX_IDS);
        Self {
            action: match action.as_deref() {
                Some("delete") => Action::Delete,
                _ => Action::Resend,
            },
            all_matching: scope.as_deref() == Some("matching"),
            ids,
            chosen: Chosen::from_parts(q.as_deref(), status.as_deref(), None),
            expected,
            back: back_to(back.as_deref()),
        }
    }

    fn recipients(&self) -> Recipients {
        if self.all_matching {
            Recipients::Matching(self.chosen.selection())
        } else {
            Recipients::Ids(self.ids.clone())
        }
    }
}

/// Why an invitee is left out, in words.
pub fn reason_words(reason: SkipReason) -> &'static str {
    match reason {
        SkipReason::AlreadyVerified => "already verified",
        SkipReason::Cooldown => "emailed too recently (the resend cooldown)",
        SkipReason::Bounced | SkipReason::Dropped => "their address bounced or refuses mail",
        SkipReason::NotFound => "no longer there",
        SkipReason::Duplicate => "listed twice",
    }
}

/// The skipped, counted per reason, in a fixed order.
fn skip_lines(skipped: &[Skipped]) -> Vec<String> {
    let mut counted: Vec<(&'static str, usize)> = Vec::new();
    for skip in skipped {
        let words = reason_words(skip.reason);
        match counted.iter_mut().find(|(w, _)| *w == words) {
            Some((_, n)) => *n += 1,
            None => counted.push((words, 1)),
        }
    }
    counted.sort_by_key(|(w, _)| *w);
    counted
        .into_iter()
        .map(|(words, n)| format!("{} skipped: {words}", people(n as i64)))
        .collect()
}

fn people(n: i64) -> String {
    if n == 1 {
        "1 invitee".to_owned()
    } else {
        format!("{n} invitees")
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invitees_review.html")]
struct Review {
    layout: Layout,
    heading: &'static str,
    /// What would be done, exactly.
    summary: String,
    skipped: Vec<String>,
    note: Option<&'static str>,
    /// The confirm button, or None when nothing would be done.
    confirm: Option<&'static str>,
    action: &'static str,
    scope: &'static str,
    ids: Vec<i64>,
    q: String,
    status: String,
    expected: i64,
    back: String,
    danger: bool,
}

async fn review_page(
    signed_in: &SignedIn,
    state: &AppState,
    form: &BulkForm,
    note: Option<&'static str>,
) -> Response {
    let base = |heading, summary, skipped, confirm, expected| Review {
        layout: Layout::new(Section::Invitees, &signed_in.session.csrf_token),
        heading,
        summary,
        skipped,
        note,
        confirm,
        action: match form.action {
            Action::Resend => "resend",
            Action::Delete => "delete",
        },
        scope: if form.all_matching {
            "matching"
        } else {
            "selected"
        },
        ids: form.ids.clone(),
        q: form.chosen.search.clone(),
        status: form
            .chosen
            .status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        expected,
        back: form.back.clone(),
        danger: form.action == Action::Delete,
    };
    if !form.all_matching && form.ids.is_empty() {
        let summary = "No invitees are ticked. Tick some on the list, or choose all that match.";
        return base("Nothing chosen", summary.to_owned(), Vec::new(), None, 0).into_response();
    }
    match form.action {
        Action::Resend => {
            let preview = match state
                .doorman
                .preview_invitations(form.recipients(), false)
                .await
            {
                Ok(preview) => preview,
                Err(e) => return layout::internal(e),
            };
            let n = preview.to_email as i64;
            let summary = format!(
                "{} will be emailed an invitation with a fresh token; {} skipped.",
                people(n),
                preview.skipped.len()
            );
            let confirm = (n > 0).then_some("Send invitations");
            base(
                "Resend invitations?",
                summary,
                skip_lines(&preview.skipped),
                confirm,
                n,
            )
            .into_response()
        }
        Action::Delete => {
            let n = match deletable(state, form).await {
                Ok(n) => n,
                Err(e) => return layout::internal(e),
            };
            let summary = format!(
                "{} will be deleted, with their tokens. This cannot be undone.",
                people(n)
            );
            let confirm = (n > 0).then_some("Delete invitees");
            base("Delete invitees?", summary, Vec::new(), confirm, n).into_response()
        }
    }
}

/// How many the delete would remove now.
async fn deletable(state: &AppState, form: &BulkForm) -> Result<i64, crate::service::ServiceError> {
    if form.all_matching {
        return state.doorman.count_selected(&form.chosen.selection()).await;
    }
    let mut found = 0;
    for id in &form.ids {
        match state.doorman.invitee(*id).await {
            Ok(_) => found += 1,
            Err(crate::service::ServiceError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

pub async fn review(signed_in: SignedIn, State(state): State<AppState>, body: Bytes) -> Response {
    let form = BulkForm::parse(&body);
    review_page(&signed_in, &state, &form, None).await
}

pub async fn confirm(signed_in: SignedIn, State(state): State<AppState>, body: Bytes) -> Response {
    let form = BulkForm::parse(&body);
    match form.action {
        Action::Resend => {
            let doorman = state.doorman.clone();
            let recipients = form.recipients();
            // On a task of its own: closing the tab does not stop it halfway.
            let queued = tokio::spawn(async move {
                doorman
                    .queue_invitations(recipients, false, Actor::Ui)
                    .await
            });
            let batch = match queued.await {
                Ok(Ok(batch)) => batch,
                Ok(Err(e)) => return layout::internal(e),
                Err(e) => return layout::internal(e),
            };
            let mut message = format!(
                "{} queued; the emails go out now.",
                people(batch.queued as i64).replace("invitee", "invitation")
            );
            for line in skip_lines(&batch.skipped) {
                message.push(' ');
                message.push_str(&line);
                message.push('.');
            }
            let said = Said::done("Invitations queued", message);
            Outcome::new(&signed_in, said, form.back).into_response()
        }
        Action::Delete => {
            // The count the organiser agreed to must still be the count deleted.
            let now = match deletable(&state, &form).await {
                Ok(n) => n,
                Err(e) => return layout::internal(e),
            };
            if form.expected != Some(now) {
                let note = "The selection changed since you looked: here it is again.";
                return review_page(&signed_in, &state, &form, Some(note)).await;
            }
            let doorman = state.doorman.clone();
            let (selection, ids, all) =
                (form.chosen.selection(), form.ids.clone(), form.all_matching);
            // On a task of its own: closing the tab does not stop it halfway.
            let deleted = tokio::spawn(async move {
                if all {
                    doorman.delete_selected(&selection, Actor::Ui).await
                } else {
                    doorman.delete_invitees(&ids, Actor::Ui).await
                }
            });
            match deleted.await.map_err(|e| e.to_string()) {
                Err(e) => layout::internal(e),
                Ok(Err(e)) => layout::internal(e),
                Ok(Ok(n)) => {
                    let said =
                        Said::done("Invitees deleted", format!("{} deleted.", people(n as i64)));
                    Outcome::new(&signed_in, said, form.back).into_response()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_ticked_ids_and_the_view() {
        let form = BulkForm::parse(
            b"csrf_token=x&action=delete&scope=selected&id=3&id=1&id=3&id=-2&id=zz&q=ana&status=verified&expected=2&back=%2Fapi",
        );
        assert_eq!(form.action, Action::Delete);
        assert!(!form.all_matching);
        assert_eq!(form.ids, [1, 3]);
        assert_eq!(form.chosen.search, "ana");
        assert_eq!(form.expected, Some(2));
        assert_eq!(form.back, "/admin/invitees");
        let form = BulkForm::parse(b"scope=matching");
        assert_eq!(form.action, Action::Resend);
        assert!(form.all_matching);
    }

    #[test]
    fn skips_are_counted_per_reason() {
        let skip = |reason| Skipped {
            id: 1,
            email: None,
            reason,
        };
        let lines = skip_lines(&[
            skip(SkipReason::Cooldown),
            skip(SkipReason::Bounced),
            skip(SkipReason::Dropped),
            skip(SkipReason::AlreadyVerified),
        ]);
        assert_eq!(
            lines,
            [
                "1 invitee skipped: already verified",
                "1 invitee skipped: emailed too recently (the resend cooldown)",
                "2 invitees skipped: their address bounced or refuses mail",
            ]
        );
    }
}
