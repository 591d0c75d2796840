//! What the API shows of doorman's records: its own types, so the JSON (names and
//! shapes kept from the original system) and the OpenAPI schemas do not follow the
//! database or the domain by accident.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::EmailStatus;
use crate::domain::event::RecordedEvent;
use crate::domain::invitee::Invitee;
use crate::import::reader::RowError;
use crate::service::{AddedInvitee, ImportReport};

/// Declares one of the API's view types and its `From` the service's type, each field
/// written once: taken as it is from the field of the same name, or from the
/// expression after `=` (where `$from` names the service's value). The view keeps its own
/// declaration, so its JSON and OpenAPI schema follow only what is written here.
macro_rules! view {
    (
        $(#[$meta:meta])*
        pub struct $view:ident from $from:ident: $source:ty {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident: $ty:ty $(= $value:expr)?,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $view {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl From<$source> for $view {
            fn from($from: $source) -> Self {
                Self {
                    $($field: $crate::api::views::view!(@value $from.$field $(= $value)?),)*
                }
            }
        }
    };
    (@value $from:ident . $field:ident) => {
        $from.$field
    };
    (@value $from:ident . $field:ident = $value:expr) => {
        $value
    };
}
pub(crate) use view;

view! {
    /// An invitee as stored. The token's hash and ciphertext are never serialised.
    #[derive(Debug, Clone, Serialize, ToSchema)]
    #[schema(as = Invitee)]
    pub struct InviteeView from invitee: Invitee {
        pub id: i64,
        #[schema(example = "ana@example.org")]
        pub email: String = invitee.email.into_string(),
        pub name: String,
        pub college: String,
        pub branch: String,
        #[schema(example = "2026")]
        pub year: String,
        /// Whether the invitee has proved the invitation (or an admin let them in).
        pub is_verified: bool,
        pub verified_at: Option<DateTime<Utc>>,
        /// The Discord account (a snowflake, as a string) linked at verification.
        pub discord_user_id: Option<String>,
        /// When the current token was issued; `null` before the first.
        pub token_created_at: Option<DateTime<Utc>>,
        /// When the current token stops working.
        pub token_expires_at: Option<DateTime<Utc>>,
        /// One of `not_sent`, `queued`, `sent`, `delivered`, `bounced`, `dropped`, `failed`.
        #[schema(value_type = String, example = "not_sent")]
        pub email_status: EmailStatus,
        /// Why the last email failed, bounced or was dropped (or is being retried).
        pub email_error: Option<String>,
        /// When the latest invitation email was queued; reminders count from here.
        pub invited_at: Option<DateTime<Utc>>,
        /// When an email was last queued for this invitee (the resend cooldown counts from here).
        pub email_queued_at: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

view! {
    /// One entry of the log, as the API shows it.
    #[derive(Debug, Clone, Serialize, ToSchema)]
    #[schema(as = EventRecord)]
    pub struct EventView from event: RecordedEvent {
        pub id: i64,
        #[schema(example = "verification_succeeded")]
        pub kind: &'static str = event.kind.as_str(),
        pub invitee_id: Option<i64>,
        #[schema(example = "api_key")]
        pub actor: String = event.actor.to_string(),
        #[schema(example = "api")]
        pub channel: Option<&'static str> = event.channel.map(|c| c.as_str()),
        #[schema(value_type = Object)]
        pub detail: serde_json::Value,
        pub created_at: DateTime<Utc>,
    }
}

/// What an import did. Field names are the original system's.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ImportReport)]
pub struct ImportReportView {
    /// Data rows read, good and bad.
    pub total_processed: u64,
    pub newly_added: u64,
    /// Rows whose email was already invited, or appeared earlier in the file.
    pub skipped: u64,
    /// The first [`MAX_LISTED`] invitees added.
    pub newly_added_users: Vec<ImportedUserView>,
    pub newly_added_users_truncated: bool,
    /// The first [`MAX_LISTED`] rows refused, with their line numbers.
    pub errors: Vec<ImportRowErrorView>,
    pub error_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ImportedUser)]
pub struct ImportedUserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub college: String,
    pub branch: String,
    pub year: String,
}

view! {
    #[derive(Debug, Serialize, ToSchema)]
    #[schema(as = ImportRowError)]
    pub struct ImportRowErrorView from error: RowError {
        pub line: u64,
        pub email: Option<String>,
        pub message: String,
    }
}

impl From<ImportReport> for ImportReportView {
    fn from(report: ImportReport) -> Self {
        Self {
            total_processed: report.total_processed,
            newly_added: report.newly_added,
            skipped: report.skipped,
            newly_added_users: report
                .newly_added_users
                .into_iter()
                .map(ImportedUserView::from)
                .collect(),
            newly_added_users_truncated: report.newly_added_users_truncated,
            errors: report
                .errors
                .into_iter()
                .map(ImportRowErrorView::from)
                .collect(),
            error_count: report.error_count,
        }
    }
}

impl From<AddedInvitee> for ImportedUserView {
    fn from(AddedInvitee { id, invitee }: AddedInvitee) -> Self {
        Self {
            id,
            email: invitee.email.into_string(),
            name: invitee.name,
            college: invitee.college,
            branch: invitee.branch,
            year: invitee.year,
        }
    }
}
