//! The SQL of an admin's selection: each status's condition, written here once (the
//! tabs, the counts, the bulk actions and the export all build on it), and a page's
//! statement, read along the sort's index.

use chrono::{DateTime, Utc};

use super::filter::{LISTING_COLUMNS, Param, escape_like};
use crate::domain::EmailStatus;
use crate::domain::invitee_status::{
    InviteePageRequest, InviteeSelection, InviteeSort, InviteeStatus, PageCursor,
};

fn words(statuses: &[EmailStatus]) -> String {
    let quoted: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", quoted.join(", "))
}

/// Whether an invitee fits `status`, before asking whether an earlier status took it.
fn fits(status: InviteeStatus, now: &str) -> String {
    use EmailStatus::{Bounced, Delivered, Dropped, Failed, Queued, Sent};
    match status {
        InviteeStatus::Verified => "is_verified = TRUE".into(),
        InviteeStatus::BouncedOrFailed => {
            format!("email_status IN {}", words(&[Bounced, Dropped, Failed]))
        }
        InviteeStatus::Expired => {
            format!("(token_expires_at IS NOT NULL AND token_expires_at <= {now})")
        }
        InviteeStatus::Delivered => format!("email_status IN {}", words(&[Delivered])),
        InviteeStatus::Emailed => format!("email_status IN {}", words(&[Queued, Sent])),
        InviteeStatus::NotEmailed => "TRUE".into(),
    }
}

/// Exactly the invitees whose status is `status`: it fits, and no status before it does.
fn is_status(status: InviteeStatus, now: &str) -> String {
    let mut parts: Vec<String> = InviteeStatus::ALL
        .iter()
        .take_while(|earlier| **earlier != status)
        .map(|earlier| format!("NOT ({})", fits(*earlier, now)))
        .collect();
    parts.push(fits(status, now));
    format!("({})", parts.join(" AND "))
}

/// Each invitee's status, as a column: the first that fits.
pub(super) fn status_column(now: &str) -> String {
    let cases: Vec<String> = InviteeStatus::ALL
        .iter()
        .map(|status| format!("WHEN {} THEN '{}'", fits(*status, now), status.as_str()))
        .collect();
    format!("CASE {} END", cases.join(" "))
}

/// A statement's parameters, `now` among them only once something needs it.
pub(super) struct Statement {
    pub(super) params: Vec<Param>,
    now: DateTime<Utc>,
    now_placeholder: Option<String>,
    pub(super) conditions: Vec<String>,
}

impl Statement {
    pub(super) fn new(selection: &InviteeSelection, now: DateTime<Utc>) -> Self {
        let mut statement = Self {
            params: Vec::new(),
            now,
            now_placeholder: None,
            conditions: Vec::new(),
        };
        if let Some(search) = selection
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let like = format!("%{}%", escape_like(&search.to_lowercase()));
            let n = statement.push(Param::Text(like));
            statement.conditions.push(format!(
                "(email LIKE {n} ESCAPE '\\' OR lower(name) LIKE {n} ESCAPE '\\')"
            ));
        }
        if let Some(status) = selection.status {
            let now = statement.now();
            statement.conditions.push(is_status(status, &now));
        }
        statement
    }

    pub(super) fn push(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    pub(super) fn now(&mut self) -> String {
        if let Some(placeholder) = &self.now_placeholder {
            return placeholder.clone();
        }
        let placeholder = self.push(Param::Time(self.now));
        self.now_placeholder = Some(placeholder.clone());
        placeholder
    }

    pub(super) fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }
}

/// The page's SELECT: keyset paging along the sort's index, one row more than the page
/// to know whether another follows. `reversed`: read backwards (a previous page).
pub(super) fn page_statement(
    request: &InviteePageRequest,
    now: DateTime<Utc>,
) -> (String, Vec<Param>, bool) {
    let mut statement = Statement::new(&request.selection, now);
    let (key, ascending) = match request.sort {
        InviteeSort::Oldest => ("id", true),
        InviteeSort::Newest => ("id", false),
        InviteeSort::EmailAz => ("email", true),
        InviteeSort::EmailZa => ("email", false),
    };
    let reversed = matches!(request.cursor, Some(PageCursor::Before(_)));
    if let Some(PageCursor::After(id) | PageCursor::Before(id)) = request.cursor {
        let n = statement.push(Param::Int(id));
        let value = if key == "id" {
            n
        } else {
            format!("(SELECT {key} FROM invitees WHERE id = {n})")
        };
        let op = if ascending != reversed { ">" } else { "<" };
        statement.conditions.push(format!("{key} {op} {value}"));
    }
    let direction = if ascending != reversed { "ASC" } else { "DESC" };
    let now = statement.now();
    let limit = statement.push(Param::Int(request.size + 1));
    let sql = format!(
        "SELECT {LISTING_COLUMNS}, {} AS status FROM invitees{} ORDER BY {key} {direction} LIMIT {limit}",
        status_column(&now),
        statement.where_clause()
    );
    (sql, statement.params, reversed)
}
