//! Import: choose a CSV file, see how doorman read it and what importing it would do,
//! then import it as a background job whose progress the page follows, ending with the
//! summary and the refused rows (also as a CSV file).
//!
//! The upload is multipart, which the CSRF check does not read: the form is sent by
//! htmx, with the token in its header like every other request the page makes.

use std::io::{Seek, Write};

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::import_views::{JobView, PreviewView, RefusedFile};
use super::layout::{self, Layout, Section};
use super::session::SignedIn;
use crate::api::AppState;
use crate::domain::event::Actor;
use crate::service::{ImportError, JobState, ServiceError};

#[derive(Template, WebTemplate)]
#[template(path = "import.html")]
struct ImportPage {
    layout: Layout,
    max_mb: u64,
    job: Option<JobView>,
}

fn page_with(signed_in: &SignedIn, state: &AppState, job: Option<JobView>) -> Response {
    ImportPage {
        layout: Layout::new(Section::Import, &signed_in.session.csrf_token),
        max_mb: state.max_upload_bytes / (1024 * 1024),
        job,
    }
    .into_response()
}

/// The form, and the latest import (running or done), so that coming back finds it.
pub async fn page(signed_in: SignedIn, State(state): State<AppState>) -> Response {
    match state.doorman.latest_import_job().await {
        Ok(job) => page_with(&signed_in, &state, job.map(JobView::from)),
        Err(e) => layout::internal(e),
    }
}

/// A refusal shown where the preview would be. htmx swaps only successful answers, so
/// it gets a 200 and the fragment; a plain request gets the real status and a page.
fn refused(headers: &HeaderMap, status: StatusCode, message: String) -> Response {
    if super::paging::wants_part(headers) {
        return RefusedFile { message }.into_response();
    }
    let page = RefusedPage {
        assets: layout::Assets::new(),
        message,
    };
    (status, page).into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "import_refused_page.html")]
struct RefusedPage {
    assets: layout::Assets,
    message: String,
}

/// Refuses an upload declared larger than `limit` at once, in words on the page (the
/// route's own limit would answer in the API's JSON, which the page cannot show).
pub async fn refuse_oversized(
    State(limit): State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if crate::api::limits::declares_over(&request, limit) {
        let message = format!(
            "The file is larger than the {} MB limit (MAX_UPLOAD_MB).",
            limit / (1024 * 1024)
        );
        return refused(request.headers(), StatusCode::PAYLOAD_TOO_LARGE, message);
    }
    next.run(request).await
}

/// Spools the upload's `file` field to a temporary file, within the size limit.
async fn spool(state: &AppState, multipart: &mut Multipart) -> Result<std::fs::File, String> {
    let unreadable = |_| "The upload could not be read; choose the file again.".to_owned();
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        if field.name() != Some("file") {
            continue;
        }
        let limit = state.max_upload_bytes;
        let mut file = tempfile::tempfile().map_err(|e| e.to_string())?;
        let mut size = 0u64;
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            size += chunk.len() as u64;
            if size > limit {
                return Err(format!(
                    "The file is larger than the {} MB limit (MAX_UPLOAD_MB).",
                    limit / (1024 * 1024)
                ));
            }
            file.write_all(&chunk).map_err(|e| e.to_string())?;
        }
        file.rewind().map_err(|e| e.to_string())?;
        return Ok(file);
    }
    Err("Choose a CSV file first.".into())
}

pub async fn preview(
    signed_in: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Ok(mut multipart) = multipart else {
        return refused(
            &headers,
            StatusCode::BAD_REQUEST,
            "Choose a CSV file first.".into(),
        );
    };
    let file = match spool(&state, &mut multipart).await {
        Ok(file) => file,
        Err(message) => return refused(&headers, StatusCode::BAD_REQUEST, message),
    };
    match state.doorman.stage_import(file).await {
        Ok(staged) => PreviewView::new(staged.id, &signed_in.session.csrf_token, staged.preview)
            .into_response(),
        Err(ImportError::Csv(e)) => refused(
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("doorman cannot import this file: {e}."),
        ),
        Err(e) => layout::internal(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    staged: String,
}

pub async fn start(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Response {
    match state.doorman.start_import(&form.staged, Actor::Ui).await {
        Ok(job) if super::paging::wants_part(&headers) => JobView::from(job).into_response(),
        Ok(job) => Redirect::to(&format!("/admin/import/jobs/{}", job.id)).into_response(),
        Err(ServiceError::NotFound) => refused(
            &headers,
            StatusCode::CONFLICT,
            "This file was imported already, or doorman no longer holds it; choose it again."
                .into(),
        ),
        Err(e) => layout::internal(e),
    }
}

fn no_job() -> Response {
    layout::problem(
        StatusCode::NOT_FOUND,
        "No such import",
        "doorman does not know this import (it keeps only the latest ones). The invitees it added are kept.",
    )
}

/// The job's progress or summary; the page polls this while the job runs.
pub async fn job(
    signed_in: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let job = match state.doorman.import_job(&id).await {
        Ok(job) => job,
        Err(e) => return layout::internal(e),
    };
    let Some(job) = job else {
        if super::paging::wants_part(&headers) {
            // Said where the progress was, which also ends the polling.
            return JobView::forgotten(id).into_response();
        }
        return no_job();
    };
    if super::paging::wants_part(&headers) {
        return JobView::from(job).into_response();
    }
    page_with(&signed_in, &state, Some(JobView::from(job)))
}

/// The refused rows of a finished import, as CSV: line, email, reason.
pub async fn refused_rows(
    _signed_in: SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let job = match state.doorman.import_job(&id).await {
        Ok(job) => job,
        Err(e) => return layout::internal(e),
    };
    let Some(JobState::Finished(report)) = job.map(|job| job.state) else {
        return no_job();
    };
    let write = || -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(["line", "email", "reason"])?;
        for error in &report.errors {
            let email = error.email.as_deref().unwrap_or("");
            csv.write_record([
                &error.line.to_string(),
                &inert(email),
                &inert(&error.message),
            ])?;
        }
        Ok(csv.into_inner()?)
    };
    match write() {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"refused-rows.csv\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => layout::internal(e),
    }
}

/// A field a spreadsheet would run as a formula is opened with an apostrophe.
fn inert(field: &str) -> String {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_made_inert() {
        assert_eq!(super::inert("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::inert("ana@example.org"), "ana@example.org");
    }
}
