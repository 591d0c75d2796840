//! `doorman import FILE.csv`.

use std::io::IsTerminal;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::domain::event::Actor;

pub async fn run(settings: &Settings, path: &std::path::Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let doorman = crate::startup::connect(settings).await?;

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(size)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .expect("static template parses"),
    );
    let report = doorman
        .import_csv(file, Actor::Cli, |p| {
            bar.set_position(p.bytes_read);
            bar.set_message(format!("{} rows", p.rows));
        })
        .await;
    bar.finish_and_clear();
    let report = report?;

    println!(
        "{} rows read: {} added, {} skipped (already invited), {} refused.",
        report.total_processed, report.newly_added, report.skipped, report.error_count
    );
    for error in &report.errors {
        let email = error
            .email
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        println!("  line {}{email}: {}", error.line, error.message);
    }
    if report.error_count > report.errors.len() as u64 {
        println!(
            "  ... and {} more",
            report.error_count - report.errors.len() as u64
        );
    }
    Ok(())
}
