//! The door's state machine.

use chrono::{DateTime, Utc};

use super::limits::kick_retry_after;
use super::{KickReason, MemberState, Membership, RefusalNotice, Rules, VerificationRequest};
use crate::domain::event::EventKind;

/// What happened to a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// They joined (or came back). `verified_before`: their account is linked to a
    /// verified invitee.
    Joined {
        verified_before: bool,
    },
    /// They asked to verify (`/verify`); `joined_at` is when Discord says they joined
    /// (None: unknown, so from before doorman).
    AskedToVerify {
        joined_at: Option<DateTime<Utc>>,
    },
    /// Their prompt reached them (`fell_back`: in the channel, as their DMs were closed).
    Prompted {
        fell_back: bool,
    },
    Left,
    /// An attempt with a wrong email or token.
    FailedAttempt,
    /// They proved their invitation (`by_admin`: an admin let them in without a token).
    Verified {
        by_admin: bool,
    },
    /// Their deadline passed; `burst`: more kicks came due at once than the limit allows.
    DeadlineReached {
        burst: bool,
    },
    /// Their deadline passed, but they had left the server meanwhile.
    DueButGone,
    /// Their deadline passed, but they hold the member role (let in by hand).
    DueButLetIn,
    Kicked(KickReason),
    /// Discord refused to kick them.
    KickRefused,
}

/// The write a decision needs. Each is guarded by the states it is valid from, so a stale
/// decision cannot undo a newer one (a verification that landed meanwhile): a guarded
/// change that finds the member moved on is not written, and its `then` does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// A new verification round with this deadline, only from idle (no record, kicked
    /// or lapsed); the round's counters start from zero.
    Start {
        deadline: DateTime<Utc>,
    },
    /// Verified, from any state, the round's counters cleared.
    Verify,
    /// To `to` from one of `from`, releasing any lease.
    Move {
        from: &'static [MemberState],
        to: MemberState,
    },
    /// One more failed attempt in the pending round that ends at `round`.
    CountAttempt {
        round: Option<DateTime<Utc>>,
    },
    /// A refused kick, still pending: left alone until `retry_at`; `reported_at`, when
    /// given, notes that an admin is told now.
    PostponeKick {
        retry_at: DateTime<Utc>,
        reported_at: Option<DateTime<Utc>>,
    },
}

/// What the bot does once the change is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    Nothing,
    /// Give the roles, no prompt.
    Welcome,
    /// Ask them to verify by `deadline`.
    Prompt {
        deadline: DateTime<Utc>,
    },
    Answer(VerificationRequest),
    /// Their attempt was not counted: they have no pending verification.
    NotPending,
    Kick(KickReason),
    /// Tell (or do not tell) an admin that the kick was refused.
    Report(RefusalNotice),
}

/// The next step for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub change: Change,
    /// The event recorded with the change (also when a guarded change finds nothing to do:
    /// the event says what happened, not what doorman did about it).
    pub event: Option<EventKind>,
    pub then: Then,
}

impl Decision {
    pub(super) fn new(change: Change, event: Option<EventKind>, then: Then) -> Self {
        Self {
            change,
            event,
            then,
        }
    }
}

pub(super) const FROM_PENDING: &[MemberState] = &[MemberState::Pending];
pub(super) const FROM_WAITING: &[MemberState] = &[MemberState::Pending, MemberState::Held];

/// The door's state machine: where a member (`current`, None if doorman never dealt with
/// them) goes on `input`, and what follows.
pub fn decide(current: Option<&Membership>, input: Input, rules: &Rules) -> Decision {
    let state = current.map(|m| m.state);
    let waiting_deadline = current
        .filter(|m| m.state.is_waiting())
        .and_then(|m| m.deadline);
    match input {
        Input::Joined { verified_before } => {
            let joined = Some(EventKind::DiscordMemberJoined);
            if verified_before || state == Some(MemberState::Verified) {
                return Decision::new(Change::Verify, joined, Then::Welcome);
            }
            // The deadline belongs to the person: rejoining keeps it.
            if let Some(deadline) = waiting_deadline {
                return Decision::new(Change::None, joined, Then::Prompt { deadline });
            }
            let deadline = rules.fresh_deadline();
            Decision::new(
                Change::Start { deadline },
                joined,
                Then::Prompt { deadline },
            )
        }
        Input::AskedToVerify { joined_at } => {
            if let Some(known) = current.and_then(VerificationRequest::from_state) {
                return Decision::new(Change::None, None, Then::Answer(known));
            }
            // Only someone doorman may remove gets a deadline.
            if joined_at.is_none_or(|joined| joined <= rules.first_connected) {
                let answer = Then::Answer(VerificationRequest::NotNeeded);
                return Decision::new(Change::None, None, answer);
            }
            let deadline = rules.fresh_deadline();
            let answer = Then::Answer(VerificationRequest::Pending { deadline });
            Decision::new(Change::Start { deadline }, None, answer)
        }
        Input::Prompted { fell_back } => {
            let kind = if fell_back {
                EventKind::DiscordPromptFellBackToChannel
            } else {
                EventKind::DiscordPrompted
            };
            Decision::new(Change::None, Some(kind), Then::Nothing)
        }
        Input::Left => Decision::new(
            Change::None,
            Some(EventKind::DiscordMemberLeft),
            Then::Nothing,
        ),
        Input::FailedAttempt => match current {
            Some(member) if member.state == MemberState::Pending => {
                let round = member.deadline;
                Decision::new(Change::CountAttempt { round }, None, Then::Nothing)
            }
            _ => Decision::new(Change::None, None, Then::NotPending),
        },
        Input::Verified { by_admin } => {
            let event = by_admin.then_some(EventKind::DiscordForceVerified);
            Decision::new(Change::Verify, event, Then::Welcome)
        }
        Input::DeadlineReached { burst } => {
            let confirmed = current.is_some_and(|m| m.kick_confirmed);
            if burst && !confirmed {
                let hold = Change::Move {
                    from: FROM_PENDING,
                    to: MemberState::Held,
                };
                return Decision::new(hold, None, Then::Nothing);
            }
            Decision::new(Change::None, None, Then::Kick(KickReason::Timeout))
        }
        Input::DueButGone => Decision::new(
            Change::Move {
                from: FROM_PENDING,
                to: MemberState::Lapsed,
            },
            None,
            Then::Nothing,
        ),
        Input::DueButLetIn => Decision::new(
            Change::Move {
                from: FROM_PENDING,
                to: MemberState::Verified,
            },
            None,
            Then::Nothing,
        ),
        Input::Kicked(reason) => Decision::new(
            Change::Move {
                from: FROM_WAITING,
                to: MemberState::Kicked,
            },
            Some(reason.event_kind()),
            Then::Nothing,
        ),
        Input::KickRefused => {
            let (refusals, reported) =
                current.map_or((0, None), |m| (m.kick_refusals, m.refusal_reported_at));
            let notice = match reported {
                None => RefusalNotice::First,
                Some(at) if rules.now - at >= REFUSAL_REMINDER_EVERY => RefusalNotice::Reminder,
                Some(_) => RefusalNotice::Quiet,
            };
            let change = Change::PostponeKick {
                retry_at: rules.now + kick_retry_after(refusals),
                reported_at: (notice != RefusalNotice::Quiet).then_some(rules.now),
            };
            Decision::new(change, None, Then::Report(notice))
        }
    }
}

/// While a kick stays refused, the admin is reminded this often, not at every retry.
const REFUSAL_REMINDER_EVERY: chrono::Duration = chrono::Duration::hours(6);
