//! `doorman users list`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::Format;
use crate::config::Settings;
use crate::domain::invitee::Invitee;
use crate::store::InviteeFilter;

pub async fn list(
    settings: &Settings,
    filter: InviteeFilter,
    format: Format,
) -> anyhow::Result<()> {
    let doorman = crate::startup::connect(settings).await?;
    let invitees = doorman.store().list_invitees(&filter).await?;
    let stdout = std::io::stdout();
    match format {
        Format::Json => serde_json::to_writer_pretty(stdout.lock(), &invitees)?,
        Format::Csv => write_csv(stdout.lock(), &invitees)?,
        Format::Table => println!("{}", table(&invitees)),
    }
    if format == Format::Json {
        println!();
    }
    Ok(())
}

fn fmt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn table(invitees: &[Invitee]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "id",
        "email",
        "name",
        "college",
        "branch",
        "year",
        "verified",
        "email status",
        "token expires",
    ]);
    for i in invitees {
        table.add_row([
            i.id.to_string(),
            i.email.clone(),
            i.name.clone(),
            i.college.clone(),
            i.branch.clone(),
            i.year.clone(),
            if i.is_verified {
                "yes".into()
            } else {
                "no".into()
            },
            i.email_status.to_string(),
            fmt_time(i.token_expires_at),
        ]);
    }
    table
}

fn write_csv(out: impl std::io::Write, invitees: &[Invitee]) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "id",
        "email",
        "name",
        "college",
        "branch",
        "year",
        "is_verified",
        "verified_at",
        "discord_user_id",
        "email_status",
        "token_expires_at",
        "created_at",
    ])?;
    for i in invitees {
        writer.write_record([
            i.id.to_string(),
            i.email.clone(),
            i.name.clone(),
            i.college.clone(),
            i.branch.clone(),
            i.year.clone(),
            i.is_verified.to_string(),
            i.verified_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            i.discord_user_id.clone().unwrap_or_default(),
            i.email_status.to_string(),
            i.token_expires_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            i.created_at.to_rfc3339(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}
