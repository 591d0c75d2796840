//! The SQL for an [`InviteeFilter`]: a WHERE clause and its parameters.

use crate::domain::invitee::InviteeFilter;

/// The listing's columns: the token columns are never shown, so they are not read.
pub(super) const LISTING_COLUMNS: &str = "id, email, name, college, branch, year, is_verified, verified_at, \
     discord_user_id, token_created_at, token_expires_at, email_status, email_error, invited_at, \
     email_queued_at, created_at, updated_at, NULL AS token_hash, NULL AS token_sealed";

pub(super) enum Param {
    Text(String),
    Bool(bool),
    Int(i64),
    Time(chrono::DateTime<chrono::Utc>),
}

/// The WHERE clause and its parameters, numbered from `$1`.
pub(super) fn where_clause(filter: &InviteeFilter) -> (String, Vec<Param>) {
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        params.push(Param::Text(format!(
            "%{}%",
            escape_like(&search.to_lowercase())
        )));
        let n = params.len();
        conditions.push(format!(
            "(email LIKE ${n} ESCAPE '\\' OR lower(name) LIKE ${n} ESCAPE '\\')"
        ));
    }
    if let Some(verified) = filter.verified {
        params.push(Param::Bool(verified));
        conditions.push(format!("is_verified = ${}", params.len()));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (clause, params)
}

/// The listing's SELECT, in id order, with the filter's page.
pub(super) fn select(filter: &InviteeFilter) -> (String, Vec<Param>) {
    let (clause, mut params) = where_clause(filter);
    params.push(Param::Int(filter.limit.unwrap_or(i64::MAX)));
    params.push(Param::Int(filter.offset));
    let n = params.len();
    let sql = format!(
        "SELECT {LISTING_COLUMNS} FROM invitees{clause} ORDER BY id LIMIT ${} OFFSET ${n}",
        n - 1
    );
    (sql, params)
}

pub(super) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                $crate::store::invitees::filter::Param::Text(v) => query.bind(v),
                $crate::store::invitees::filter::Param::Bool(v) => query.bind(v),
                $crate::store::invitees::filter::Param::Int(v) => query.bind(v),
                $crate::store::invitees::filter::Param::Time(v) => query.bind(v),
            };
        }
        query
    }};
}
pub(super) use bind_params;
