//! The numbers around the state machine: attempts, bursts, back-offs, the catch-up.

use super::Membership;

/// How a counted failed attempt ends; `counted` is the new count, or None when the
/// member changed meanwhile, which must never turn into a kick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    TryAgain {
        attempts_left: u32,
    },
    /// The last allowed attempt failed: kick them.
    OutOfAttempts,
    NotPending,
}

pub fn attempt_outcome(counted: Option<i64>, max_attempts: u32) -> AttemptOutcome {
    let Some(attempts) = counted else {
        return AttemptOutcome::NotPending;
    };
    let max = i64::from(max_attempts);
    if attempts >= max {
        return AttemptOutcome::OutOfAttempts;
    }
    AttemptOutcome::TryAgain {
        attempts_left: u32::try_from(max - attempts).unwrap_or(u32::MAX),
    }
}

/// Whether the unconfirmed kicks that came due must wait for an admin: more than
/// `limit` kicks within a minute (`recent` already made) means an outage or a
/// misconfigured role, not a wave of people who ignored their prompt.
pub fn burst_must_hold(recent: i64, unconfirmed: usize, limit: u32) -> bool {
    let unconfirmed = i64::try_from(unconfirmed).unwrap_or(i64::MAX);
    recent.saturating_add(unconfirmed) > i64::from(limit)
}

/// How far back kicks count towards the burst limit.
pub const BURST_WINDOW: chrono::Duration = chrono::Duration::minutes(1);

/// Whether doorman should look at a member again after downtime: someone who joined
/// since doorman first connected, or one doorman dealt with before, and who has no
/// verification waiting. The unverified role alone proves nothing (another bot may have
/// given it): a member from before doorman is one doorman has never dealt with.
pub fn needs_catch_up(current: Option<&Membership>, joined_since: bool) -> bool {
    match current {
        None => joined_since,
        Some(member) => !member.state.is_waiting(),
    }
}

/// How long after its `refusals`-th refused kick (0 for the first) a member is tried
/// again: a minute, doubling, at most an hour.
pub fn kick_retry_after(refusals: i64) -> chrono::Duration {
    let doublings = u32::try_from(refusals.clamp(0, 6)).unwrap_or(6);
    let wait = chrono::Duration::minutes(1) * 2_i32.pow(doublings);
    wait.min(KICK_RETRY_CAP)
}

const KICK_RETRY_CAP: chrono::Duration = chrono::Duration::hours(1);
