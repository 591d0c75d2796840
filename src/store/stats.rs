//! Counts for the overview, each one statement that scans a table once.

use chrono::{DateTime, Utc};

use super::{Op, Result, Store, on_pool};

/// How far the campaign has come, counted over every invitee.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct FunnelCounts {
    pub invited: i64,
    pub emailed: i64,
    pub delivered: i64,
    pub verified: i64,
    /// Not verified, no refused email, and their token is past its expiry.
    pub expired: i64,
    /// Not verified, and their latest email bounced, was dropped or failed.
    pub bounced_or_failed: i64,
}

/// The members doorman dealt with in its Discord servers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberCounts {
    pub joined: i64,
    pub kicked: i64,
}

const FUNNEL: &str = "SELECT \
    CAST(COUNT(*) AS BIGINT) AS invited, \
    CAST(COALESCE(SUM(CASE WHEN email_status <> 'not_sent' THEN 1 ELSE 0 END), 0) AS BIGINT) AS emailed, \
    CAST(COALESCE(SUM(CASE WHEN email_status = 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT) AS delivered, \
    CAST(COALESCE(SUM(CASE WHEN is_verified THEN 1 ELSE 0 END), 0) AS BIGINT) AS verified, \
    CAST(COALESCE(SUM(CASE WHEN NOT is_verified AND email_status NOT IN ('bounced', 'dropped', 'failed') \
        AND token_expires_at < $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS expired, \
    CAST(COALESCE(SUM(CASE WHEN NOT is_verified AND email_status IN ('bounced', 'dropped', 'failed') \
        THEN 1 ELSE 0 END), 0) AS BIGINT) AS bounced_or_failed \
    FROM invitees";

const MEMBERS: &str = "SELECT CAST(COUNT(*) AS BIGINT) AS joined, \
    CAST(COALESCE(SUM(CASE WHEN state = 'kicked' THEN 1 ELSE 0 END), 0) AS BIGINT) AS kicked \
    FROM discord_members";

impl Store {
    pub async fn funnel_counts(&self, now: DateTime<Utc>) -> Result<FunnelCounts> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(FUNNEL)
                .bind(now)
                .fetch_one(pool)
                .await
                .op("counting the campaign's funnel")?
        }))
    }

    pub async fn member_counts(&self) -> Result<MemberCounts> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(MEMBERS)
                .fetch_one(pool)
                .await
                .op("counting Discord members")?
        }))
    }

    /// Verifications per UTC day since `since`, as (`YYYY-MM-DD`, count), oldest first;
    /// days without any are left out.
    pub async fn verifications_per_day(&self, since: DateTime<Utc>) -> Result<Vec<(String, i64)>> {
        // Both store the time in UTC: SQLite as RFC 3339 text, whose first ten characters
        // are the date.
        let day = match self {
            Store::Sqlite(_) => "substr(verified_at, 1, 10)",
            Store::Postgres(_) => "to_char(verified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        };
        let sql = format!(
            "SELECT {day} AS day, CAST(COUNT(*) AS BIGINT) AS count FROM invitees \
             WHERE is_verified AND verified_at >= $1 GROUP BY {day} ORDER BY day"
        );
        Ok(on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(since)
                .fetch_all(pool)
                .await
                .op("counting verifications per day")?
        }))
    }

    /// Emails by status, as (status, count).
    pub async fn email_status_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT status, CAST(COUNT(*) AS BIGINT) AS count FROM emails GROUP BY status ORDER BY status",
            )
            .fetch_all(pool)
            .await
            .op("counting emails by status")?
        }))
    }
}
