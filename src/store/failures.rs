//! Failed verification attempts, counted per email, per source (a Discord account or a
//! client address) and per pair of both, to throttle guessing (written by
//! [`super::OutcomeWriter`], which checks the limits and records a failure in one step).

use chrono::{DateTime, Utc};

use sqlx::{FromRow, Row};

use super::{Result, Store, on_pool};
use crate::domain::invitee::Invitee;

/// Failures in one count since a moment, and the oldest of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailureCount {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

/// Recent failures for an email and source: of that pair, of the email from any source,
/// and of the source for any email.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecentFailures {
    pub pair: FailureCount,
    pub email: FailureCount,
    pub source: FailureCount,
}

/// How many failures each count may hold within the window.
#[derive(Debug, Clone, Copy)]
pub struct FailureLimits {
    pub pair: i64,
    pub email: i64,
    pub source: i64,
    pub window: chrono::Duration,
}

impl RecentFailures {
    /// When the attempt may be made again, if any count has used up its allowance.
    pub fn refused_until(
        &self,
        limits: &FailureLimits,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        [
            (self.pair, limits.pair),
            (self.email, limits.email),
            (self.source, limits.source),
        ]
        .into_iter()
        .filter(|(count, limit)| count.count >= *limit)
        .map(|(count, _)| count.oldest.unwrap_or(now) + limits.window)
        .max()
    }

    /// Whether one more failure uses up an allowance (worth an event of its own).
    pub fn one_more_reaches(&self, limits: &FailureLimits) -> bool {
        self.pair.count + 1 >= limits.pair
            || self.email.count + 1 >= limits.email
            || self.source.count + 1 >= limits.source
    }
}

/// The counts for `$1` (email) and `$2` (source) since `$3`, as one row.
pub(super) const COUNTS: &str = "SELECT e.pair_failures, e.pair_oldest, e.email_failures, e.email_oldest, \
         s.source_failures, s.source_oldest FROM \
     (SELECT COUNT(*) AS email_failures, MIN(failed_at) AS email_oldest, \
             COALESCE(SUM(CASE WHEN source = $2 THEN 1 ELSE 0 END), 0) AS pair_failures, \
             MIN(CASE WHEN source = $2 THEN failed_at END) AS pair_oldest \
      FROM verification_failures WHERE email = $1 AND failed_at > $3) AS e \
     CROSS JOIN \
     (SELECT COUNT(*) AS source_failures, MIN(failed_at) AS source_oldest \
      FROM verification_failures WHERE source = $2 AND failed_at > $3) AS s";

/// Reads [`COUNTS`]'s columns from a row of either backend.
macro_rules! counts_from_row {
    ($row:expr) => {{
        let row = $row;
        let count = |n: &str, o: &str| -> $crate::store::Result<$crate::store::FailureCount> {
            Ok($crate::store::FailureCount {
                count: sqlx::Row::try_get(row, n)?,
                oldest: sqlx::Row::try_get(row, o)?,
            })
        };
        (|| -> $crate::store::Result<$crate::store::RecentFailures> {
            Ok($crate::store::RecentFailures {
                pair: count("pair_failures", "pair_oldest")?,
                email: count("email_failures", "email_oldest")?,
                source: count("source_failures", "source_oldest")?,
            })
        })()
    }};
}
pub(super) use counts_from_row;

impl Store {
    /// What a verification attempt needs to know, in one round trip: the recent failures
    /// of its email and source (for throttling) and the invitee, if there is one.
    pub async fn verification_lookup(
        &self,
        email: &str,
        source: &str,
        since: DateTime<Utc>,
    ) -> Result<(RecentFailures, Option<Invitee>)> {
        let sql = format!(
            "SELECT f.*, {} FROM ({COUNTS}) AS f LEFT JOIN invitees ON invitees.email = $1",
            super::invitees::COLUMNS
        );
        on_pool!(self, pool => {
            let row = sqlx::query(&sql).bind(email).bind(source).bind(since).fetch_one(pool).await?;
            let failures = counts_from_row!(&row)?;
            let invitee = match row.try_get::<Option<i64>, _>("id")? {
                Some(_) => Some(Invitee::from_row(&row)?),
                None => None,
            };
            Ok((failures, invitee))
        })
    }
}
