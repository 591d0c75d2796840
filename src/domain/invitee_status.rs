//! Where an invitee stands, for the admin's views: one status each, exclusive, decided
//! in the order of [`InviteeStatus::ALL`]. The store turns each into its condition.

use super::text_enum;

text_enum! {
    /// In the order the statuses are decided: an invitee is the first one that fits.
    pub enum InviteeStatus {
        Verified = "verified",
        /// Its latest email bounced, was dropped, or could not be sent.
        BouncedOrFailed = "bounced",
        /// It holds a token past its expiry.
        Expired = "expired",
        Delivered = "delivered",
        /// Queued or sent, not yet reported delivered.
        Emailed = "emailed",
        NotEmailed = "not_emailed",
    }
}

impl InviteeStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Verified => "Verified",
            Self::BouncedOrFailed => "Bounced or failed",
            Self::Expired => "Expired",
            Self::Delivered => "Delivered",
            Self::Emailed => "Emailed",
            Self::NotEmailed => "Not emailed",
        }
    }
}

/// Which invitees an admin's view picks: the search and the status tab. The same
/// selection drives the listing, the counts, the bulk actions and the export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InviteeSelection {
    /// Matched case-insensitively as a substring of the email or the name.
    pub search: Option<String>,
    pub status: Option<InviteeStatus>,
}

text_enum! {
    /// The orders a listing can be read in; each follows an index.
    #[derive(Default)]
    pub enum InviteeSort {
        #[default]
        Oldest = "oldest",
        Newest = "newest",
        EmailAz = "email",
        EmailZa = "email_desc",
    }
}

/// Where a page starts: after or before the invitee with this id, in the sort's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCursor {
    After(i64),
    Before(i64),
}

/// One page of a selection.
#[derive(Debug, Clone, Default)]
pub struct InviteePageRequest {
    pub selection: InviteeSelection,
    pub sort: InviteeSort,
    pub cursor: Option<PageCursor>,
    pub size: i64,
}
