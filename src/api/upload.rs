//! `POST /api/upload-csv`: the upload is spooled to a temporary file (so memory stays flat
//! and an oversized upload is refused before anything is written), then imported.

use std::io::{Seek, Write};

use axum::Json;
use axum::extract::State;

use super::error::{AuthErrors, ServerErrors, TimeoutErrors};
use super::extract::ApiMultipart;
use super::{ApiError, AppState, ErrorBody};
use crate::domain::event::Actor;
use crate::import::ImportReport;

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
        (status = 200, body = ImportReport),
        (status = 400, body = ErrorBody, description = "malformed multipart, no `file` field, or a file that is not a CSV, empty, or missing columns"),
        (status = 413, body = ErrorBody, description = "larger than MAX_UPLOAD_MB"),
        (status = 415, body = ErrorBody, description = "not `multipart/form-data`"),
        AuthErrors, ServerErrors, TimeoutErrors,
    ))]
pub async fn upload_csv(
    State(state): State<AppState>,
    ApiMultipart(mut multipart): ApiMultipart,
) -> Result<Json<ImportReport>, ApiError> {
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
        let report = state
            .doorman
            .import_csv(spool, Actor::ApiKey, |_| {})
            .await?;
        return Ok(Json(report));
    }
    Err(ApiError::BadRequest(
        "No file: send the CSV as the multipart field 'file'".into(),
    ))
}
