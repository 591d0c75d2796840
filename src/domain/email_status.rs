//! Where an invitee's latest email stands, as the API's `email_status` reports it.

use super::text_enum;

text_enum! {
    pub enum EmailStatus {
        NotSent = "not_sent",
        Queued = "queued",
        Sent = "sent",
        Delivered = "delivered",
        /// The receiving server refused it for good; not emailed again unless forced.
        Bounced = "bounced",
        /// SendGrid would not send it (e.g. an earlier bounce); treated like a bounce.
        Dropped = "dropped",
        Failed = "failed",
    }
}

impl EmailStatus {
    /// An address that refused mail: sending again needs an admin's `force`.
    pub fn refuses_mail(self) -> bool {
        matches!(self, Self::Bounced | Self::Dropped)
    }
}
