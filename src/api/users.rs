//! Invitees ("users" in the original API's words): list, read, delete, refresh tokens.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{AuthErrors, ByIdErrors, ServerErrors, TimeoutErrors};
use super::extract::{ApiPath, ApiQuery};
use super::views::InviteeView;
use super::{ApiError, AppState, ErrorBody};
use crate::domain::event::Actor;
use crate::domain::invitee::InviteeFilter;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Case-insensitive substring of the email or the name.
    search: Option<String>,
    verified: Option<bool>,
    /// At most this many (all when absent).
    #[param(minimum = 0)]
    limit: Option<i64>,
    #[serde(default)]
    #[param(minimum = 0)]
    offset: i64,
}

/// Total matching invitees, whatever `limit` and `offset` say.
const TOTAL_COUNT_HEADER: &str = "x-total-count";

/// List invitees, oldest first. Without a query, all of them, as the original API did;
/// the body is streamed, so a large list does not sit in the server's memory.
#[utoipa::path(get, path = "/api/users", tag = "users", params(ListUsersQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = [InviteeView], headers(("x-total-count" = i64, description = "invitees matching the filters"))),
        (status = 400, body = ErrorBody, description = "a malformed or negative parameter"),
        AuthErrors, ServerErrors,
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListUsersQuery>,
) -> Result<Response, ApiError> {
    if query.limit.is_some_and(|l| l < 0) || query.offset < 0 {
        return Err(ApiError::BadRequest(
            "limit and offset must not be negative".into(),
        ));
    }
    let filter = InviteeFilter {
        search: query.search,
        verified: query.verified,
        limit: query.limit,
        offset: query.offset,
    };
    let total = state.doorman.count_invitees(&filter).await?;
    let rows = state.doorman.stream_invitees(&filter);
    let body = json_array(rows.map(|row| row.map(InviteeView::from)));
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::HeaderName::from_static(TOTAL_COUNT_HEADER),
                total.to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

/// Serialises a stream of rows as one JSON array, a few hundred rows per chunk.
fn json_array<T, E>(rows: impl futures::Stream<Item = Result<T, E>> + Send + 'static) -> Body
where
    T: Serialize + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let items = rows.ready_chunks(256).scan(true, |first, chunk| {
        let mut buf = Vec::with_capacity(chunk.len() * 400);
        for row in chunk {
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    // Headers are gone already: all we can do is cut the body short, which
                    // the client sees as a broken (never a truncated but valid) response.
                    tracing::error!(error = %e, "listing failed mid-stream");
                    return futures::future::ready(Some(Err(std::io::Error::other(
                        "listing failed",
                    ))));
                }
            };
            if !std::mem::take(first) {
                buf.push(b',');
            }
            serde_json::to_writer(&mut buf, &row).expect("invitees serialise");
        }
        futures::future::ready(Some(Ok(Bytes::from(buf))))
    });
    let open = stream::once(async { Ok(Bytes::from_static(b"[")) });
    let close = stream::once(async { Ok(Bytes::from_static(b"]")) });
    Body::from_stream(open.chain(items).chain(close))
}

/// One invitee.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = InviteeView),
        ByIdErrors, AuthErrors, ServerErrors, TimeoutErrors,
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<InviteeView>, ApiError> {
    Ok(Json(state.doorman.invitee(id).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    #[schema(example = "User deleted successfully")]
    pub message: String,
}

/// Delete one invitee (the original's path).
#[utoipa::path(delete, path = "/api/{id}", tag = "users", params(("id" = i64, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = MessageResponse),
        ByIdErrors, AuthErrors, ServerErrors, TimeoutErrors,
    ))]
pub async fn delete_user_legacy(
    state: State<AppState>,
    id: ApiPath<i64>,
) -> Result<Json<MessageResponse>, ApiError> {
    delete_user(state, id).await
}

/// Delete one invitee.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = MessageResponse),
        ByIdErrors, AuthErrors, ServerErrors, TimeoutErrors,
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.doorman.delete_invitee(id, Actor::ApiKey).await?;
    Ok(Json(MessageResponse {
        message: "User deleted successfully".into(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteAllResponse {
    #[schema(example = "All users deleted successfully")]
    pub message: String,
    pub deleted: u64,
}

/// Delete every invitee.
#[utoipa::path(delete, path = "/api/all", tag = "users",
    security(("api_key" = [])),
    responses((status = 200, body = DeleteAllResponse), AuthErrors, ServerErrors, TimeoutErrors))]
pub async fn delete_all_users(
    State(state): State<AppState>,
) -> Result<Json<DeleteAllResponse>, ApiError> {
    let deleted = state.doorman.delete_all_invitees(Actor::ApiKey).await?;
    Ok(Json(DeleteAllResponse {
        message: "All users deleted successfully".into(),
        deleted,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshTokenResponse {
    #[schema(example = "Token refreshed successfully")]
    pub message: String,
    /// The new token. This is the only response that ever contains it.
    #[schema(example = "K7QM4WZP")]
    pub new_token: String,
    pub token_expires_at: DateTime<Utc>,
}

/// Issue a new token; the previous one stops working at once.
#[utoipa::path(post, path = "/api/refresh-token/{id}", tag = "users", params(("id" = i64, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = RefreshTokenResponse),
        ByIdErrors, AuthErrors, ServerErrors, TimeoutErrors,
    ))]
pub async fn refresh_token(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RefreshTokenResponse>, ApiError> {
    let issued = state.doorman.refresh_token(id, Actor::ApiKey).await?;
    Ok(Json(RefreshTokenResponse {
        message: "Token refreshed successfully".into(),
        new_token: issued.token.expose().to_owned(),
        token_expires_at: issued.expires_at,
    }))
}
