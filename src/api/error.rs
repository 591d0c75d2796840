//! The one place where errors become HTTP responses: `{"detail": "..."}` with a status.

use axum::extract::multipart::MultipartError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

use crate::import::reader::CsvError;
use crate::service::{ApiKeyRefusal, ImportError, ServiceError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a value is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no `x-api-key` header.
    #[error("Missing API key: send it in the x-api-key header")]
    MissingApiKey,
    /// 403: an `x-api-key` that is not the admin key.
    #[error("Invalid API key")]
    InvalidApiKey,
    /// 401: a webhook request without its provider's signature.
    #[error("Missing signature")]
    Unsigned,
    /// 403: a webhook request whose signature does not verify.
    #[error("Invalid signature")]
    BadSignature,
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 413: an upload over `MAX_UPLOAD_MB`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429, with `Retry-After`.
    #[error("Too many failed attempts; try again in {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: a dependency (the database) is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged in full, never echoed.
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
    /// 415: a body of another kind than the endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
}

/// Every error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "User not found")]
    pub detail: String,
}

// The error sets the routes share, named once so the OpenAPI document cannot drift from
// what the middleware answers. They exist only for the document, never constructed.

/// What the API key check answers, on every route behind it.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum AuthErrors {
    /// No `x-api-key` header.
    #[response(status = 401)]
    Missing(ErrorBody),
    /// An `x-api-key` that is not the admin key.
    #[response(status = 403)]
    Invalid(ErrorBody),
    /// Too many attempts (wrong keys from one address, or failed verifications); wait for
    /// `Retry-After`.
    #[response(status = 429, headers(("retry-after" = u64, description = "seconds to wait")))]
    Throttled(ErrorBody),
}

/// What a route with a JSON body answers when the body is not what it documents.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum JsonBodyErrors {
    /// Not JSON, not `application/json`, or a field missing, mistyped or invalid.
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// Larger than the route accepts.
    #[response(status = 413)]
    TooLarge(ErrorBody),
}

/// For routes that look an invitee up by id.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ByIdErrors {
    /// the id is not an integer
    #[response(status = 400)]
    BadId(ErrorBody),
    /// No invitee with this id.
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// What any route may answer when the server, not the request, is at fault.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ServerErrors {
    /// Logged in full; the body says nothing more.
    #[response(status = 500)]
    Internal(ErrorBody),
}

/// What a route that answers in one piece says when it takes too long, or the database
/// cannot be reached. Streaming routes have sent their status before that could happen.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum TimeoutErrors {
    /// The request took longer than the server allows.
    #[response(status = 408)]
    Timeout(ErrorBody),
    /// A dependency (the database) is unreachable or too slow.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MissingApiKey | Self::Unsigned => StatusCode::UNAUTHORIZED,
            Self::BadSignature => StatusCode::FORBIDDEN,
            Self::InvalidApiKey => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The log says which operation failed (a store error names it); the client learns
        // nothing of it.
        if let Self::Internal(error) = &self {
            match error.downcast_ref::<StoreError>() {
                Some(StoreError::Query { operation, .. }) => {
                    tracing::error!(operation, error = format!("{error:#}"), "request failed");
                }
                _ => tracing::error!(error = format!("{error:#}"), "request failed"),
            }
        }
        let status = self.status();
        let mut response = (
            status,
            axum::Json(ErrorBody {
                detail: self.to_string(),
            }),
        )
            .into_response();
        if let Self::TooManyRequests { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound => Self::NotFound("User not found".into()),
            ServiceError::Invalid(message) => Self::BadRequest(message),
            ServiceError::Throttled { retry_after_secs } => {
                Self::TooManyRequests { retry_after_secs }
            }
            ServiceError::Store(e) => Self::internal(e),
        }
    }
}

impl From<ApiKeyRefusal> for ApiError {
    fn from(refusal: ApiKeyRefusal) -> Self {
        match refusal {
            ApiKeyRefusal::Missing => Self::MissingApiKey,
            ApiKeyRefusal::Invalid => Self::InvalidApiKey,
            // Refused like a throttled verification, failing like any other operation.
            ApiKeyRefusal::Throttled { retry_after_secs } => {
                ServiceError::Throttled { retry_after_secs }.into()
            }
            ApiKeyRefusal::Store(e) => ServiceError::Store(e).into(),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Csv(CsvError::Io(e)) => Self::internal(e),
            ImportError::Csv(e) => Self::BadRequest(e.to_string()),
            ImportError::Store(e) => Self::internal(e),
            e @ ImportError::Interrupted { .. } => {
                let message = e.to_string();
                tracing::error!(
                    error = format!("{:#}", anyhow::Error::from(e)),
                    "import interrupted"
                );
                Self::Unavailable(upper_first(&message))
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge("Request body is too large".into());
        }
        // serde's message names the missing or mistyped field, and never echoes values.
        Self::BadRequest(rejection.body_text())
    }
}

/// A path or query that does not parse is the client's mistake; axum's text names the
/// parameter.
macro_rules! bad_request_from {
    ($($rejection:ty),+) => {$(
        impl From<$rejection> for ApiError {
            fn from(rejection: $rejection) -> Self {
                Self::BadRequest(rejection.body_text())
            }
        }
    )+};
}

bad_request_from!(PathRejection, QueryRejection);

impl From<MultipartError> for ApiError {
    fn from(error: MultipartError) -> Self {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge("The upload is larger than MAX_UPLOAD_MB allows".into());
        }
        Self::BadRequest(format!("Malformed multipart upload: {}", error.body_text()))
    }
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
