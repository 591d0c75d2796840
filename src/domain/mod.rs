//! Domain types and rules, free of HTTP, SQL and Discord.

mod email;
pub mod event;
pub mod invitee;
pub mod token;

pub use email::{Email, EmailError};

/// The current time, at the microsecond precision both databases store, so a timestamp
/// reads back exactly as it was written and as the API first reported it.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
