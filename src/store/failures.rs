//! Failed verification attempts, counted per email, per source (a Discord account or a
//! client address) and per pair of both, to throttle guessing (written by
//! [`super::OutcomeWriter`], which checks the limits and records a failure in one step).

use chrono::{DateTime, Utc};

use sqlx::{FromRow, Row};

use super::invitees::InviteeRow;
use super::{Op, Result, Store, on_pool};
use crate::domain::invitee::Invitee;
use crate::domain::throttle::RecentFailures;

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
    ($row:expr, $operation:expr) => {{
        use $crate::domain::throttle::{FailureCount, RecentFailures};
        let row = $row;
        let count = |n: &str, o: &str| -> $crate::store::Result<FailureCount> {
            Ok(FailureCount {
                count: $crate::store::Op::op(sqlx::Row::try_get(row, n), $operation)?,
                oldest: $crate::store::Op::op(sqlx::Row::try_get(row, o), $operation)?,
            })
        };
        (|| -> $crate::store::Result<RecentFailures> {
            Ok(RecentFailures {
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
        const OP: &str = "looking up a verification attempt";
        on_pool!(self, pool => {
            let row = sqlx::query(&sql)
                .bind(email)
                .bind(source)
                .bind(since)
                .fetch_one(pool)
                .await
                .op(OP)?;
            let failures = counts_from_row!(&row, OP)?;
            let invitee = match row.try_get::<Option<i64>, _>("id").op(OP)? {
                Some(_) => Some(Invitee::from(InviteeRow::from_row(&row).op(OP)?)),
                None => None,
            };
            Ok((failures, invitee))
        })
    }
}
