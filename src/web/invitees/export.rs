//! The current view as CSV: the whole selection (search and status tab), not the page,
//! streamed as it is read. Never a token; cells that a spreadsheet would run as a formula
//! are written as text.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::super::session::SignedIn;
use super::{Chosen, ListQuery};
use crate::api::AppState;
use crate::domain::event::Actor;
use crate::store::ListedInvitee;

const HEADER: [&str; 13] = [
    "id",
    "email",
    "name",
    "college",
    "branch",
    "year",
    "status",
    "verified_at",
    "discord_user_id",
    "email_status",
    "email_error",
    "token_expires_at",
    "created_at",
];

/// A cell a spreadsheet would read as a formula starts with a quote instead.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn record(listed: &ListedInvitee) -> [String; 13] {
    let i = &listed.invitee;
    let at =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    [
        i.id.to_string(),
        cell(i.email.as_str()),
        cell(&i.name),
        cell(&i.college),
        cell(&i.branch),
        cell(&i.year),
        listed.status.as_str().to_owned(),
        at(i.verified_at),
        i.discord_user_id.clone().unwrap_or_default(),
        i.email_status.as_str().to_owned(),
        cell(i.email_error.as_deref().unwrap_or_default()),
        at(i.token_expires_at),
        i.created_at.to_rfc3339(),
    ]
}

fn lines<R: AsRef<[u8]>, I: IntoIterator<Item = R>>(rows: impl IntoIterator<Item = I>) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.write_record(row).expect("writing to memory");
    }
    Bytes::from(writer.into_inner().expect("writing to memory"))
}

pub async fn csv(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Response {
    let chosen = Chosen::from(&query);
    let rows = match state
        .doorman
        .export_selected(&chosen.selection(), Actor::Ui)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return super::super::layout::internal(e),
    };
    let head = futures::stream::once(async { Ok::<_, std::io::Error>(lines([HEADER])) });
    let body = rows.ready_chunks(256).map(|chunk| {
        let mut records = Vec::with_capacity(chunk.len());
        for row in chunk {
            match row {
                Ok(listed) => records.push(record(&listed)),
                Err(e) => {
                    // The headers are gone: cutting the body short is all that is left.
                    tracing::error!(error = %e, "export failed mid-stream");
                    return Err(std::io::Error::other("export failed"));
                }
            }
        }
        Ok(lines(records))
    });
    let name = match chosen.status {
        Some(status) => format!("invitees-{}.csv", status.as_str()),
        None => "invitees.csv".to_owned(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(head.chain(body)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text() {
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("Ana"), "Ana");
    }
}
