//! Domain types and rules, free of HTTP, SQL and Discord.

pub mod clock;
pub mod discord_setup;
mod email;
mod email_kinds;
mod email_status;
pub mod event;
mod import_job;
pub mod invitee;
pub mod invitee_status;
pub mod membership;
mod resend;
mod text_enum;
pub mod throttle;
pub mod token;

pub use clock::{Clock, ShiftedClock, SystemClock};
pub use email::{Email, EmailError};
pub use email_kinds::{DeliveryReport, EmailKind, EmailState, MailRoute, SkipReason};
pub use email_status::EmailStatus;
pub use import_job::ImportJobState;
pub use membership::{Change, MemberState, Membership};
pub use resend::{MailState, ResendRules};
pub use text_enum::UnknownWord;
pub(crate) use text_enum::text_enum;
