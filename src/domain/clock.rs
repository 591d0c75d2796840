//! Where doorman reads the time. Every rule that depends on time asks the clock it was
//! given, so tests move time forward instead of sleeping or rewriting stored timestamps.

use std::sync::Mutex;

use chrono::{DateTime, SubsecRound, Utc};

pub trait Clock: Send + Sync + 'static {
    /// The current time, at the microsecond precision both databases store, so a
    /// timestamp reads back exactly as it was written and as the API first reported it.
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// The machine's clock moved forward by however much it has been advanced. Time still
/// passes, so work that waits on real time behaves as in production, and a test can
/// skip a deadline or a back-off by advancing it.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    ahead: Mutex<chrono::Duration>,
}

impl ShiftedClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.ahead.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let ahead = *self.ahead.lock().unwrap_or_else(|e| e.into_inner());
        SystemClock.now() + ahead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_runs_ahead_by_what_it_was_advanced() {
        let clock = ShiftedClock::new();
        let before = SystemClock.now();
        clock.advance(chrono::Duration::hours(2));
        let shifted = clock.now();
        assert!(shifted >= before + chrono::Duration::hours(2));
        assert!(
            shifted < SystemClock.now() + chrono::Duration::hours(2) + chrono::Duration::seconds(5)
        );
    }

    #[test]
    fn times_are_kept_to_the_microsecond() {
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1000, 0);
    }
}
