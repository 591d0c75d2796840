//! The fixed words of the email queue: what an email is, where it stands, which route it
//! took, why an invitee was left out of a batch, and what a provider's report means.

use super::event::EventKind;
use super::{EmailStatus, text_enum};

text_enum! {
    /// What an email is for.
    pub enum EmailKind {
        Invitation = "invitation",
        Reminder = "reminder",
        /// A sample sent at once by an admin, outside the queue.
        Test = "test",
    }
}

text_enum! {
    /// Where one email (a row of the queue) stands. An invitee's own `email_status`
    /// follows its newest email.
    pub enum EmailState {
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
        /// Never sent: the invitee verified or was deleted before its turn came.
        Cancelled = "cancelled",
        Delivered = "delivered",
        Bounced = "bounced",
        Dropped = "dropped",
    }
}

text_enum! {
    /// The way emails leave doorman.
    pub enum MailRoute {
        SendGrid = "sendgrid",
        Smtp = "smtp",
        /// Nothing leaves the machine: emails are kept, rendered, for the API to show.
        Outbox = "outbox",
    }
}

text_enum! {
    /// Why an invitee was left out of a batch.
    pub enum SkipReason {
        NotFound = "not_found",
        AlreadyVerified = "already_verified",
        /// Listed twice in one request.
        Duplicate = "duplicate",
        /// Emailed within RESEND_COOLDOWN_MINUTES.
        Cooldown = "cooldown",
        Bounced = "bounced",
        Dropped = "dropped",
    }
}

text_enum! {
    /// What a provider's report about a sent email means for it.
    pub enum DeliveryReport {
        Delivered = "delivered",
        Bounced = "bounced",
        Dropped = "dropped",
        /// Delivery is delayed; only the reason is noted.
        Deferred = "deferred",
    }
}

impl DeliveryReport {
    /// The invitee status the report leads to; None for a deferral, which changes none.
    pub fn email_status(self) -> Option<EmailStatus> {
        match self {
            Self::Delivered => Some(EmailStatus::Delivered),
            Self::Bounced => Some(EmailStatus::Bounced),
            Self::Dropped => Some(EmailStatus::Dropped),
            Self::Deferred => None,
        }
    }

    /// How the report is logged.
    pub fn event_kind(self) -> EventKind {
        match self {
            Self::Delivered => EventKind::EmailDelivered,
            Self::Bounced => EventKind::EmailBounced,
            Self::Dropped => EventKind::EmailDropped,
            Self::Deferred => EventKind::EmailDeferred,
        }
    }

    /// The state the reported email moves to; None for a deferral.
    pub fn email_state(self) -> Option<EmailState> {
        match self {
            Self::Delivered => Some(EmailState::Delivered),
            Self::Bounced => Some(EmailState::Bounced),
            Self::Dropped => Some(EmailState::Dropped),
            Self::Deferred => None,
        }
    }
}

impl SkipReason {
    /// The reason an address that refuses mail is skipped for.
    pub fn refused(status: EmailStatus) -> Option<Self> {
        match status {
            EmailStatus::Bounced => Some(Self::Bounced),
            EmailStatus::Dropped => Some(Self::Dropped),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_move_the_email_and_the_invitee_to_the_same_word() {
        for report in DeliveryReport::ALL {
            assert_eq!(
                report.email_status().map(EmailStatus::as_str),
                report.email_state().map(EmailState::as_str),
                "{report}"
            );
        }
    }

    #[test]
    fn only_addresses_that_refuse_mail_have_a_refusal_reason() {
        for status in EmailStatus::ALL {
            assert_eq!(
                SkipReason::refused(*status).is_some(),
                status.refuses_mail(),
                "{status}"
            );
        }
    }
}
