//! `POST /api/upload-csv`: the upload is spooled to a temporary file (so memory stays flat
//! and an oversized upload is refused before anything is written), then imported.

use std::io::{Seek, Write};

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, header};

use super::error::{AuthErrors, ServerErrors, TimeoutErrors};
use super::views::ImportReportView;
use super::{ApiError, AppState, ErrorBody};
use crate::domain::event::Actor;

/// The multipart form: one file field named `file`. Other fields are ignored; their names
/// travel in part headers, so the document allows only plain tokens there.
pub struct UploadForm;

impl utoipa::PartialSchema for UploadForm {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
            "propertyNames": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        });
        utoipa::openapi::RefOr::T(
            serde_json::from_value(schema).expect("the UploadForm schema is valid"),
        )
    }
}

impl utoipa::ToSchema for UploadForm {}

/// Import invitees from a CSV file with the columns email, name, college, branch, year.
#[utoipa::path(post, path = "/api/upload-csv", tag = "users",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ImportReportView),
        (status = 400, body = ErrorBody, description = "malformed multipart, no `file` field, or a file that is not a CSV, empty, or missing columns"),
        (status = 413, body = ErrorBody, description = "larger than MAX_UPLOAD_MB"),
        (status = 415, body = ErrorBody, description = "not `multipart/form-data`"),
        AuthErrors, ServerErrors, TimeoutErrors,
    ))]
pub async fn upload_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<ImportReportView>, ApiError> {
    let mut multipart = multipart.map_err(|_| refused_body(&headers))?;
    while let Some(mut field) = multipart.next_field().await? {
        if field.name() != Some("file") {
            continue;
        }
        let limit = state.max_upload_bytes;
        let mut spool = tempfile::tempfile().map_err(ApiError::internal)?;
        let mut size = 0u64;
        while let Some(chunk) = field.chunk().await? {
            size += chunk.len() as u64;
            if size > limit {
                return Err(ApiError::PayloadTooLarge(format!(
                    "The file is larger than the {} MB limit (MAX_UPLOAD_MB)",
                    limit / (1024 * 1024)
                )));
            }
            spool.write_all(&chunk).map_err(ApiError::internal)?;
        }
        spool.rewind().map_err(ApiError::internal)?;
        // Batches commit as they go, so the import runs to its end on its own task even
        // if the client stops waiting: a dropped request must not cut a file in two.
        let doorman = state.doorman.clone();
        let import =
            tokio::spawn(async move { doorman.import_csv(spool, Actor::ApiKey, |_| {}).await });
        let report = match import.await {
            Ok(report) => report?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(ApiError::internal(e)),
        };
        return Ok(Json(report.into()));
    }
    Err(ApiError::BadRequest(
        "No file: send the CSV as the multipart field 'file'".into(),
    ))
}

/// Why the body could not be read as a form at all: another kind of body is the wrong
/// media type (415); a form without its boundary is malformed (400).
fn refused_body(headers: &HeaderMap) -> ApiError {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("multipart/form-data"));
    if is_form {
        ApiError::BadRequest("Malformed multipart upload: the Content-Type has no boundary".into())
    } else {
        ApiError::UnsupportedMediaType(
            "Send the CSV as multipart/form-data, in the field 'file'".into(),
        )
    }
}
