//! Who may be sent an invitation now: the one statement of the resend cooldown and of
//! the rule that addresses which refused mail are not emailed again unless forced.

use chrono::{DateTime, Duration, Utc};

use super::{EmailStatus, SkipReason};

/// What the rules look at in an invitee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailState {
    pub is_verified: bool,
    pub email_status: EmailStatus,
    /// When its latest email was queued.
    pub email_queued_at: Option<DateTime<Utc>>,
}

/// The rules one request sends under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResendRules {
    /// RESEND_COOLDOWN_MINUTES.
    pub cooldown: Duration,
    /// An admin's `force`: no cooldown, and addresses that refused mail are tried again.
    pub force: bool,
}

impl ResendRules {
    /// Why the invitee is not to be emailed now, if it is not.
    pub fn skip_reason(self, invitee: &MailState, now: DateTime<Utc>) -> Option<SkipReason> {
        if invitee.is_verified {
            return Some(SkipReason::AlreadyVerified);
        }
        if !self.force
            && let Some(reason) = SkipReason::refused(invitee.email_status)
        {
            return Some(reason);
        }
        if self.in_cooldown(invitee.email_queued_at, now) {
            return Some(SkipReason::Cooldown);
        }
        None
    }

    /// Whether an email queued at `queued_at` is too recent for another. Forcing skips
    /// the wait, though not for an email queued "in the future" (a clock set back).
    pub fn in_cooldown(self, queued_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        let wait = if self.force {
            Duration::zero()
        } else {
            self.cooldown
        };
        queued_at.is_some_and(|at| at > now - wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes_ago: i64) -> Option<DateTime<Utc>> {
        Some(now() - Duration::minutes(minutes_ago))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    const NORMAL: ResendRules = ResendRules {
        cooldown: Duration::minutes(10),
        force: false,
    };
    const FORCED: ResendRules = ResendRules {
        cooldown: Duration::minutes(10),
        force: true,
    };

    #[test]
    fn the_cooldown_holds_back_a_recent_email_unless_forced() {
        let cases = [
            (NORMAL, None, false, "never emailed"),
            (NORMAL, at(11), false, "emailed before the cooldown"),
            (NORMAL, at(10), false, "emailed exactly a cooldown ago"),
            (NORMAL, at(9), true, "emailed within the cooldown"),
            (NORMAL, at(0), true, "emailed just now"),
            (FORCED, at(0), false, "forced, emailed just now"),
            (FORCED, at(-1), true, "forced, queued in the future"),
        ];
        for (rules, queued_at, expected, case) in cases {
            assert_eq!(rules.in_cooldown(queued_at, now()), expected, "{case}");
        }
    }

    #[test]
    fn skip_reasons_come_in_order_verified_refused_cooldown() {
        use EmailStatus::*;
        let state = |is_verified, email_status, email_queued_at| MailState {
            is_verified,
            email_status,
            email_queued_at,
        };
        let cases = [
            (NORMAL, state(false, NotSent, None), None),
            (NORMAL, state(false, Sent, at(60)), None),
            (NORMAL, state(false, Failed, at(60)), None),
            (
                NORMAL,
                state(true, NotSent, None),
                Some(SkipReason::AlreadyVerified),
            ),
            (
                FORCED,
                state(true, Bounced, at(0)),
                Some(SkipReason::AlreadyVerified),
            ),
            (
                NORMAL,
                state(false, Bounced, at(60)),
                Some(SkipReason::Bounced),
            ),
            (
                NORMAL,
                state(false, Dropped, at(0)),
                Some(SkipReason::Dropped),
            ),
            (FORCED, state(false, Bounced, at(60)), None),
            (FORCED, state(false, Dropped, at(0)), None),
            (
                NORMAL,
                state(false, Sent, at(1)),
                Some(SkipReason::Cooldown),
            ),
            (
                NORMAL,
                state(false, Delivered, at(5)),
                Some(SkipReason::Cooldown),
            ),
            (FORCED, state(false, Sent, at(1)), None),
        ];
        for (rules, invitee, expected) in cases {
            assert_eq!(
                rules.skip_reason(&invitee, now()),
                expected,
                "{invitee:?} forced={}",
                rules.force
            );
        }
    }
}
