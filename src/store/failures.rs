//! Failed verification attempts, counted per email to throttle guessing (written by
//! [`super::OutcomeWriter`]).

use chrono::{DateTime, Utc};

use sqlx::{FromRow, Row};

use super::{Result, Store, on_pool};
use crate::domain::invitee::Invitee;

/// Failures for one email since a moment, and the oldest of them.
#[derive(Debug, Clone, Copy)]
pub struct RecentFailures {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

impl Store {
    /// What a verification attempt needs to know, in one round trip: the email's recent
    /// failures (for throttling) and the invitee, if there is one.
    pub async fn verification_lookup(
        &self,
        email: &str,
        since: DateTime<Utc>,
    ) -> Result<(RecentFailures, Option<Invitee>)> {
        let sql = format!(
            "SELECT f.failures, f.oldest_failure, {} FROM \
             (SELECT COUNT(*) AS failures, MIN(failed_at) AS oldest_failure FROM verification_failures \
              WHERE email = $1 AND failed_at > $2) AS f \
             LEFT JOIN invitees ON invitees.email = $1",
            super::invitees::COLUMNS
        );
        on_pool!(self, pool => {
            let row = sqlx::query(&sql).bind(email).bind(since).fetch_one(pool).await?;
            let failures = RecentFailures { count: row.try_get("failures")?, oldest: row.try_get("oldest_failure")? };
            let invitee = match row.try_get::<Option<i64>, _>("id")? {
                Some(_) => Some(Invitee::from_row(&row)?),
                None => None,
            };
            Ok((failures, invitee))
        })
    }
}
