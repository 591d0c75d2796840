//! The rules of the door, as pure decisions: given where a member stands and what just
//! happened, where they stand next and what the bot must do about it. The service reads
//! the member, asks [`decide`], and writes the change with its event in one transaction.
//! Nothing here knows Discord's ids: a member is whatever record the caller read.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::event::EventKind;
use super::text_enum;

mod decide;
mod limits;

pub use decide::{Change, Decision, Input, Then, decide};
pub use limits::{
    AttemptOutcome, BURST_WINDOW, attempt_outcome, burst_must_hold, kick_retry_after,
    needs_catch_up,
};

text_enum! {
    /// Where a member stands with verification.
    pub enum MemberState {
        /// Asked to verify; kicked when the deadline passes.
        Pending = "pending",
        /// Their kick came due in a burst and waits for an admin.
        Held = "held",
        Verified = "verified",
        Kicked = "kicked",
        /// Their deadline passed while they were away; a return starts afresh.
        Lapsed = "lapsed",
    }
}

impl MemberState {
    /// The states a new verification round may start from (besides no record at all):
    /// nothing is under way, held or done.
    pub const RESTARTABLE: &'static [Self] = &[Self::Kicked, Self::Lapsed];

    /// A verification is under way or waits for an admin: nothing may start another.
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Pending | Self::Held)
    }
}

/// One member's verification in one server, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub state: MemberState,
    pub deadline: Option<DateTime<Utc>>,
    pub failed_attempts: i64,
    /// An admin confirmed this held kick: the burst limit no longer applies.
    pub kick_confirmed: bool,
    /// Kicks Discord refused since this verification started.
    pub kick_refusals: i64,
    /// When an admin was last told a kick of this member is refused.
    pub refusal_reported_at: Option<DateTime<Utc>>,
}

/// What the rules need to know besides the member.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub now: DateTime<Utc>,
    /// The time a newcomer has in this server.
    pub timeout: Duration,
    /// When doorman first saw this server; members who joined before are left alone.
    pub first_connected: DateTime<Utc>,
}

impl Rules {
    /// The deadline of a verification that starts now.
    pub fn fresh_deadline(&self) -> DateTime<Utc> {
        deadline_after(self.now, self.timeout)
    }
}

/// `now` plus `timeout`, however long the timeout.
pub fn deadline_after(now: DateTime<Utc>, timeout: Duration) -> DateTime<Utc> {
    let timeout = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
    now.checked_add_signed(timeout)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Why a member is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    Timeout,
    Attempts,
}

impl KickReason {
    pub fn event_kind(self) -> EventKind {
        match self {
            Self::Timeout => EventKind::DiscordKickedForTimeout,
            Self::Attempts => EventKind::DiscordKickedForAttempts,
        }
    }
}

/// What a member's answer to `/verify` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationRequest {
    /// Under way (or just started): verify by `deadline`.
    Pending {
        deadline: DateTime<Utc>,
    },
    AlreadyVerified,
    /// Their kick waits for an admin; nothing changes until one decides.
    Held,
    /// Doorman does not ask them to verify (in the server since before doorman).
    NotNeeded,
}

impl VerificationRequest {
    /// What a known state already says; None when a verification may start.
    pub fn from_state(member: &Membership) -> Option<Self> {
        match (member.state, member.deadline) {
            (MemberState::Verified, _) => Some(Self::AlreadyVerified),
            (MemberState::Held, _) => Some(Self::Held),
            (MemberState::Pending, Some(deadline)) => Some(Self::Pending { deadline }),
            _ => None,
        }
    }
}

/// Whether an admin should hear about a refused kick now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalNotice {
    /// The first refusal: tell them.
    First,
    /// Still refused hours later: remind them.
    Reminder,
    /// Told recently; stay quiet.
    Quiet,
}

#[cfg(test)]
mod tests {
    use super::decide::{FROM_PENDING, FROM_WAITING};
    use super::*;

    use MemberState::{Held, Kicked, Lapsed, Pending, Verified};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + chrono::Duration::minutes(minutes)
    }

    /// Now is minute 0; doorman first saw the server at minute -60; newcomers get 10 minutes.
    fn rules() -> Rules {
        Rules {
            now: at(0),
            timeout: Duration::from_secs(600),
            first_connected: at(-60),
        }
    }

    fn member(state: MemberState, deadline: Option<i64>) -> Membership {
        Membership {
            state,
            deadline: deadline.map(at),
            failed_attempts: 0,
            kick_confirmed: false,
            kick_refusals: 0,
            refusal_reported_at: None,
        }
    }

    const FRESH: i64 = 10;

    fn decision(change: Change, event: Option<EventKind>, then: Then) -> Decision {
        Decision::new(change, event, then)
    }

    fn start() -> Change {
        Change::Start {
            deadline: at(FRESH),
        }
    }

    fn moved(from: &'static [MemberState], to: MemberState) -> Change {
        Change::Move { from, to }
    }

    #[test]
    fn every_transition() {
        use EventKind as E;
        let joined = Some(E::DiscordMemberJoined);
        let prompt = |m| Then::Prompt { deadline: at(m) };
        let answer = Then::Answer;
        let newcomer = Input::AskedToVerify {
            joined_at: Some(at(-1)),
        };
        let confirmed = Membership {
            kick_confirmed: true,
            ..member(Pending, Some(-1))
        };
        #[rustfmt::skip]
        let table: Vec<(&str, Option<Membership>, Input, Decision)> = vec![
            // join
            ("a newcomer starts a round", None, Input::Joined { verified_before: false },
                decision(start(), joined, prompt(FRESH))),
            ("a linked, verified account is welcomed", None, Input::Joined { verified_before: true },
                decision(Change::Verify, joined, Then::Welcome)),
            ("a member verified here before is welcomed", Some(member(Verified, None)), Input::Joined { verified_before: false },
                decision(Change::Verify, joined, Then::Welcome)),
            // rejoin
            ("rejoining while pending keeps the deadline", Some(member(Pending, Some(3))), Input::Joined { verified_before: false },
                decision(Change::None, joined, prompt(3))),
            ("rejoining while held keeps the deadline", Some(member(Held, Some(-2))), Input::Joined { verified_before: false },
                decision(Change::None, joined, prompt(-2))),
            ("rejoining after a kick starts afresh", Some(member(Kicked, Some(-30))), Input::Joined { verified_before: false },
                decision(start(), joined, prompt(FRESH))),
            ("rejoining after a lapse starts afresh", Some(member(Lapsed, Some(-30))), Input::Joined { verified_before: false },
                decision(start(), joined, prompt(FRESH))),
            // prompt
            ("a prompt by DM is recorded", Some(member(Pending, Some(3))), Input::Prompted { fell_back: false },
                decision(Change::None, Some(E::DiscordPrompted), Then::Nothing)),
            ("a prompt in the channel is recorded", Some(member(Pending, Some(3))), Input::Prompted { fell_back: true },
                decision(Change::None, Some(E::DiscordPromptFellBackToChannel), Then::Nothing)),
            // asking to verify
            ("a newcomer asking starts a round", None, newcomer,
                decision(start(), None, answer(VerificationRequest::Pending { deadline: at(FRESH) }))),
            ("asking while pending gives the same deadline", Some(member(Pending, Some(3))), newcomer,
                decision(Change::None, None, answer(VerificationRequest::Pending { deadline: at(3) }))),
            ("asking when verified", Some(member(Verified, None)), newcomer,
                decision(Change::None, None, answer(VerificationRequest::AlreadyVerified))),
            ("asking while held changes nothing", Some(member(Held, Some(-2))), newcomer,
                decision(Change::None, None, answer(VerificationRequest::Held))),
            ("a member from before doorman is not asked", None, Input::AskedToVerify { joined_at: Some(at(-61)) },
                decision(Change::None, None, answer(VerificationRequest::NotNeeded))),
            ("nor one who joined when doorman arrived", None, Input::AskedToVerify { joined_at: Some(at(-60)) },
                decision(Change::None, None, answer(VerificationRequest::NotNeeded))),
            ("nor one whose join time is unknown", None, Input::AskedToVerify { joined_at: None },
                decision(Change::None, None, answer(VerificationRequest::NotNeeded))),
            ("a kicked newcomer asking starts afresh", Some(member(Kicked, Some(-30))), newcomer,
                decision(start(), None, answer(VerificationRequest::Pending { deadline: at(FRESH) }))),
            // attempts
            ("a failed attempt counts in the round that was read", Some(member(Pending, Some(3))), Input::FailedAttempt,
                decision(Change::CountAttempt { round: Some(at(3)) }, None, Then::Nothing)),
            ("a failed attempt when not pending never counts", Some(member(Held, Some(3))), Input::FailedAttempt,
                decision(Change::None, None, Then::NotPending)),
            ("nor when doorman never asked", None, Input::FailedAttempt,
                decision(Change::None, None, Then::NotPending)),
            // verify
            ("a member proves their invitation", Some(member(Pending, Some(3))), Input::Verified { by_admin: false },
                decision(Change::Verify, None, Then::Welcome)),
            ("an admin lets a member in", Some(member(Held, Some(-2))), Input::Verified { by_admin: true },
                decision(Change::Verify, Some(E::DiscordForceVerified), Then::Welcome)),
            // leave
            ("leaving is recorded and changes nothing", Some(member(Pending, Some(3))), Input::Left,
                decision(Change::None, Some(E::DiscordMemberLeft), Then::Nothing)),
            // deadline
            ("a due member is kicked", Some(member(Pending, Some(-1))), Input::DeadlineReached { burst: false },
                decision(Change::None, None, Then::Kick(KickReason::Timeout))),
            ("a due member who left meanwhile lapses", Some(member(Pending, Some(-1))), Input::DueButGone,
                decision(moved(FROM_PENDING, Lapsed), None, Then::Nothing)),
            ("a due member let in by hand is verified", Some(member(Pending, Some(-1))), Input::DueButLetIn,
                decision(moved(FROM_PENDING, Verified), None, Then::Nothing)),
            ("a timeout kick is recorded", Some(member(Pending, Some(-1))), Input::Kicked(KickReason::Timeout),
                decision(moved(FROM_WAITING, Kicked), Some(E::DiscordKickedForTimeout), Then::Nothing)),
            ("a kick for attempts is recorded", Some(member(Pending, Some(3))), Input::Kicked(KickReason::Attempts),
                decision(moved(FROM_WAITING, Kicked), Some(E::DiscordKickedForAttempts), Then::Nothing)),
            // hold
            ("in a burst, a due member is held", Some(member(Pending, Some(-1))), Input::DeadlineReached { burst: true },
                decision(moved(FROM_PENDING, Held), None, Then::Nothing)),
            ("a kick an admin confirmed is not held again", Some(confirmed), Input::DeadlineReached { burst: true },
                decision(Change::None, None, Then::Kick(KickReason::Timeout))),
        ];
        for (name, current, input, expected) in table {
            assert_eq!(
                decide(current.as_ref(), input, &rules()),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn a_refused_kick_backs_off_and_tells_the_admin_once_then_every_six_hours() {
        let refused = |refusals, reported: Option<i64>| Membership {
            kick_refusals: refusals,
            refusal_reported_at: reported.map(at),
            ..member(Pending, Some(-1))
        };
        #[rustfmt::skip]
        let table = [
            ("the first refusal is told", refused(0, None), 1, Some(0), RefusalNotice::First),
            ("a refusal told recently is not", refused(3, Some(-8)), 8, None, RefusalNotice::Quiet),
            ("one lasting six hours is told again", refused(7, Some(-360)), 60, Some(0), RefusalNotice::Reminder),
        ];
        for (name, current, retry_in, reported, notice) in table {
            let expected = decision(
                Change::PostponeKick {
                    retry_at: at(retry_in),
                    reported_at: reported.map(at),
                },
                None,
                Then::Report(notice),
            );
            assert_eq!(
                decide(Some(&current), Input::KickRefused, &rules()),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn attempts_run_out_at_the_limit_and_never_for_a_changed_member() {
        let table = [
            (Some(1), AttemptOutcome::TryAgain { attempts_left: 2 }),
            (Some(2), AttemptOutcome::TryAgain { attempts_left: 1 }),
            (Some(3), AttemptOutcome::OutOfAttempts),
            (Some(4), AttemptOutcome::OutOfAttempts),
            (None, AttemptOutcome::NotPending),
        ];
        for (counted, expected) in table {
            assert_eq!(attempt_outcome(counted, 3), expected, "{counted:?}");
        }
    }

    #[test]
    fn kicks_are_held_only_beyond_the_burst_limit() {
        // (kicks in the last minute, unconfirmed now due, limit, held)
        let table = [
            (0, 2, 2, false),
            (0, 3, 2, true),
            (1, 1, 2, false),
            (2, 1, 2, true),
            (0, 1, 0, true),
        ];
        for (recent, due, limit, held) in table {
            assert_eq!(
                burst_must_hold(recent, due, limit),
                held,
                "{recent} + {due} vs {limit}"
            );
        }
    }

    #[test]
    fn the_catch_up_admits_newcomers_and_returning_members_only() {
        let table = [
            (None, true, true),
            (None, false, false),
            (Some(member(Pending, Some(3))), true, false),
            (Some(member(Held, Some(-2))), true, false),
            (Some(member(Kicked, Some(-30))), false, true),
            (Some(member(Lapsed, Some(-30))), true, true),
            (Some(member(Verified, None)), true, true),
        ];
        for (current, joined_since, admitted) in table {
            assert_eq!(
                needs_catch_up(current.as_ref(), joined_since),
                admitted,
                "{current:?}, joined since: {joined_since}"
            );
        }
    }

    #[test]
    fn refused_kicks_back_off_from_a_minute_to_an_hour() {
        let minutes: Vec<i64> = (0..9).map(|n| kick_retry_after(n).num_minutes()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(kick_retry_after(-1).num_minutes(), 1);
        assert_eq!(kick_retry_after(i64::MAX).num_minutes(), 60);
    }

    #[test]
    fn a_deadline_never_overflows() {
        assert_eq!(deadline_after(at(0), Duration::from_secs(600)), at(10));
        assert_eq!(
            deadline_after(at(0), Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn an_unknown_stored_state_is_an_error() {
        assert_eq!("held".parse::<MemberState>(), Ok(Held));
        assert!("paused".parse::<MemberState>().is_err());
    }
}
