//! What the Invitees page shows of each invitee, and its tabs and sort choices.

use chrono::{DateTime, Utc};

use super::Chosen;
use crate::domain::invitee_status::{InviteeSort, InviteeStatus};
use crate::service::InviteeCounts;
use crate::store::ListedInvitee;

/// One row of the table: never the token, only when it expires.
pub struct InviteeRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub status: &'static str,
    pub status_label: &'static str,
    /// `good`, `bad` or `off`: a shape as well as a colour.
    pub status_class: &'static str,
    pub discord: Option<String>,
    pub emailed: String,
    pub token: String,
    pub is_verified: bool,
}

fn day(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "—".to_owned(),
        |at| at.format("%Y-%m-%d %H:%M").to_string(),
    )
}

impl InviteeRow {
    pub fn new(listed: ListedInvitee, now: DateTime<Utc>) -> Self {
        let invitee = listed.invitee;
        let status_class = match listed.status {
            InviteeStatus::Verified => "good",
            InviteeStatus::BouncedOrFailed | InviteeStatus::Expired => "bad",
            _ => "off",
        };
        let date = |at: DateTime<Utc>| at.format("%Y-%m-%d").to_string();
        let token = match invitee.token_expires_at {
            None => "none".to_owned(),
            Some(at) if at <= now => format!("expired {}", date(at)),
            Some(at) => format!("until {}", date(at)),
        };
        Self {
            id: invitee.id,
            email: invitee.email.to_string(),
            name: invitee.name,
            status: listed.status.as_str(),
            status_label: listed.status.label(),
            status_class,
            discord: invitee.discord_user_id,
            emailed: day(invitee.email_queued_at),
            token,
            is_verified: invitee.is_verified,
        }
    }
}

/// A status tab: its address keeps the search and the sort.
pub struct Tab {
    pub label: &'static str,
    pub count: i64,
    pub href: String,
    pub current: bool,
}

pub fn tabs(chosen: &Chosen, counts: &InviteeCounts) -> Vec<Tab> {
    let all = Tab {
        label: "All",
        count: counts.total,
        href: chosen.href_with(None, None),
        current: chosen.status.is_none(),
    };
    std::iter::once(all)
        .chain(InviteeStatus::ALL.iter().map(|status| Tab {
            label: status.label(),
            count: counts.of(*status),
            href: chosen.href_with(Some(*status), None),
            current: chosen.status == Some(*status),
        }))
        .collect()
}

pub struct SortChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub fn sorts(current: InviteeSort) -> Vec<SortChoice> {
    InviteeSort::ALL
        .iter()
        .map(|sort| SortChoice {
            value: sort.as_str(),
            label: match sort {
                InviteeSort::Oldest => "Imported first",
                InviteeSort::Newest => "Imported last",
                InviteeSort::EmailAz => "Email A–Z",
                InviteeSort::EmailZa => "Email Z–A",
            },
            selected: *sort == current,
        })
        .collect()
}
