//! `doorman users list`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::Format;
use crate::api::views::InviteeView;
use crate::config::Settings;
use crate::domain::invitee::{Invitee, InviteeFilter};

pub async fn list(
    settings: &Settings,
    filter: InviteeFilter,
    format: Format,
) -> anyhow::Result<()> {
    let doorman = crate::startup::connect(settings).await?;
    let invitees = doorman.list_invitees(&filter).await?;
    let stdout = std::io::stdout();
    match format {
        Format::Json => {
            // The same JSON as the API's listing.
            let views: Vec<InviteeView> = invitees.into_iter().map(InviteeView::from).collect();
            serde_json::to_writer_pretty(stdout.lock(), &views)?;
            println!();
        }
        Format::Csv => write_csv(stdout.lock(), &invitees)?,
        Format::Table => println!("{}", table(&invitees)),
    }
    Ok(())
}

/// The columns every format starts with: who the invitee is.
const PROFILE_COLUMNS: [&str; 6] = ["id", "email", "name", "college", "branch", "year"];

fn profile(i: &Invitee) -> impl Iterator<Item = String> {
    [
        i.id.to_string(),
        i.email.to_string(),
        i.name.clone(),
        i.college.clone(),
        i.branch.clone(),
        i.year.clone(),
    ]
    .into_iter()
}

fn fmt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn rfc3339(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

fn table(invitees: &[Invitee]) -> Table {
    let mut table = Table::new();
    let header = PROFILE_COLUMNS
        .into_iter()
        .chain(["verified", "email status", "token expires"]);
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for i in invitees {
        let verified = if i.is_verified { "yes" } else { "no" };
        table.add_row(profile(i).chain([
            verified.to_owned(),
            i.email_status.to_string(),
            fmt_time(i.token_expires_at),
        ]));
    }
    table
}

fn write_csv(out: impl std::io::Write, invitees: &[Invitee]) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(PROFILE_COLUMNS.into_iter().chain([
        "is_verified",
        "verified_at",
        "discord_user_id",
        "email_status",
        "token_expires_at",
        "created_at",
    ]))?;
    for i in invitees {
        writer.write_record(profile(i).chain([
            i.is_verified.to_string(),
            rfc3339(i.verified_at),
            i.discord_user_id.clone().unwrap_or_default(),
            i.email_status.to_string(),
            rfc3339(i.token_expires_at),
            i.created_at.to_rfc3339(),
        ]))?;
    }
    writer.flush()?;
    Ok(())
}
