//! Throttling rules: when failures have used up an allowance, and when the caller may try
//! again. The counting happens in the database; the decisions are made here.
//!
//! Verification failures are counted in a sliding window per email and source (and per
//! pair of both); wrong admin keys in fixed windows per client address, so that every
//! replica shares one counter per window.

use chrono::{DateTime, Duration, Utc};

/// Failures in one count since a moment, and the oldest of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCount {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

/// Recent failures for an email and source: of that pair, of the email from any source,
/// and of the source for any email.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentFailures {
    pub pair: FailureCount,
    pub email: FailureCount,
    pub source: FailureCount,
}

/// How many failures each count may hold within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    pub pair: i64,
    pub email: i64,
    pub source: i64,
    pub window: Duration,
}

impl FailureLimits {
    /// Failures after this moment count at `now`.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.window
    }
}

impl RecentFailures {
    /// When the attempt may be made again, if any count has used up its allowance: once
    /// the oldest failure of every full count has left the window.
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

/// Fixed windows of one length, aligned to the Unix epoch, so that every replica puts a
/// moment in the same window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWindows {
    pub length: Duration,
    /// Rejections a window allows; the next one is refused for the rest of the window.
    pub max_rejections: i64,
}

impl FixedWindows {
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let length = self.length.num_seconds().max(1);
        let start = now.timestamp() - now.timestamp().rem_euclid(length);
        DateTime::from_timestamp(start, 0).unwrap_or(now)
    }

    /// Until when a caller is refused after the window starting at `window_start` has
    /// counted `rejected` rejections, if it is.
    pub fn refused_until(
        &self,
        rejected: i64,
        window_start: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        (rejected > self.max_rejections).then(|| window_start + self.length)
    }
}

/// Whole seconds from `now` until `until`, at least one: what `Retry-After` says.
pub fn retry_after_secs(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((until - now).num_seconds())
        .unwrap_or(0)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(minute)
    }

    const LIMITS: FailureLimits = FailureLimits {
        pair: 5,
        email: 500,
        source: 20,
        window: Duration::minutes(15),
    };

    fn count(count: i64, oldest_minute: i64) -> FailureCount {
        FailureCount {
            count,
            oldest: (count > 0).then(|| at(oldest_minute)),
        }
    }

    /// (case, pair, email, source, now in minutes, refused until in minutes)
    type Case = (
        &'static str,
        FailureCount,
        FailureCount,
        FailureCount,
        i64,
        Option<i64>,
    );

    #[test]
    fn an_allowance_used_up_refuses_until_its_oldest_failure_leaves_the_window() {
        let cases: &[Case] = &[
            (
                "nothing yet",
                count(0, 0),
                count(0, 0),
                count(0, 0),
                0,
                None,
            ),
            (
                "under the pair's limit",
                count(4, 0),
                count(4, 0),
                count(4, 0),
                5,
                None,
            ),
            (
                "at the pair's limit",
                count(5, 0),
                count(5, 0),
                count(5, 0),
                5,
                Some(15),
            ),
            (
                "the oldest failure decides",
                count(5, 3),
                count(5, 3),
                count(5, 3),
                5,
                Some(18),
            ),
            (
                "per email, from many sources",
                count(1, 9),
                count(500, 2),
                count(1, 9),
                10,
                Some(17),
            ),
            (
                "per source, for many emails",
                count(1, 9),
                count(1, 9),
                count(20, 4),
                10,
                Some(19),
            ),
            (
                "just under every limit",
                count(4, 0),
                count(499, 0),
                count(19, 0),
                10,
                None,
            ),
            (
                "the latest of several full counts",
                count(5, 6),
                count(500, 1),
                count(20, 2),
                10,
                Some(21),
            ),
        ];
        for &(case, pair, email, source, now, until) in cases {
            let recent = RecentFailures {
                pair,
                email,
                source,
            };
            assert_eq!(
                recent.refused_until(&LIMITS, at(now)),
                until.map(at),
                "{case}"
            );
        }
    }

    #[test]
    fn the_failure_that_fills_an_allowance_is_the_one_worth_an_event() {
        let cases = [
            ("far from every limit", 1, 1, 1, false),
            ("the pair's fifth", 4, 4, 4, true),
            ("the email's 500th", 0, 499, 0, true),
            ("the source's 20th", 0, 0, 19, true),
        ];
        for (case, pair, email, source, reaches) in cases {
            let recent = RecentFailures {
                pair: count(pair, 0),
                email: count(email, 0),
                source: count(source, 0),
            };
            assert_eq!(recent.one_more_reaches(&LIMITS), reaches, "{case}");
        }
    }

    #[test]
    fn the_sliding_window_rolls_over_as_failures_age() {
        // Five failures a minute apart from minute 0; the database counts those after
        // the window's start.
        let failures: Vec<DateTime<Utc>> = (0..5).map(at).collect();
        let recent_at = |now: DateTime<Utc>| {
            let since = LIMITS.window_start(now);
            let kept: Vec<_> = failures.iter().filter(|t| **t > since).collect();
            let counted = FailureCount {
                count: kept.len() as i64,
                oldest: kept.iter().map(|t| **t).min(),
            };
            RecentFailures {
                pair: counted,
                email: counted,
                source: counted,
            }
        };
        let cases = [
            ("all five in the window", 14, Some(15)),
            ("a second before the first leaves", 15, Some(15)),
            ("the first has left", 16, None),
        ];
        for (case, now, until) in cases {
            let now = if now == 15 {
                at(15) - Duration::seconds(1)
            } else {
                at(now)
            };
            assert_eq!(
                recent_at(now).refused_until(&LIMITS, now),
                until.map(at),
                "{case}"
            );
        }
    }

    #[test]
    fn fixed_windows_refuse_past_the_maximum_until_the_window_ends() {
        let windows = FixedWindows {
            length: Duration::minutes(15),
            max_rejections: 10,
        };
        let start = windows.window_start(at(7));
        assert_eq!(start.timestamp() % (15 * 60), 0, "aligned to the epoch");
        assert!(start <= at(7) && at(7) < start + windows.length);
        let cases = [
            ("under the maximum", 9, None),
            ("at the maximum", 10, None),
            ("one past it", 11, Some(start + windows.length)),
        ];
        for (case, rejected, until) in cases {
            assert_eq!(windows.refused_until(rejected, start), until, "{case}");
        }
        assert_eq!(
            windows.window_start(start + windows.length),
            start + windows.length,
            "the next window starts afresh"
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_and_never_zero() {
        let cases = [
            (Duration::minutes(15), 900),
            (Duration::milliseconds(1500), 1),
            (Duration::zero(), 1),
            (Duration::seconds(-5), 1),
        ];
        for (left, secs) in cases {
            assert_eq!(retry_after_secs(at(0) + left, at(0)), secs, "{left}");
        }
    }
}
