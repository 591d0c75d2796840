//! PostgreSQL's own `\copy` of the CSV file, to compare the API import with.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::data::CsvFile;
use crate::database::Database;
use crate::progress;
use crate::report::{Report, Row, rate, secs, thousands};

/// The team's target: the API import within this factor of `\copy`'s time.
const IMPORT_MAX_COPY_RATIO: f64 = 3.0;

/// Times PostgreSQL's own `\copy` of the same file, for comparison with the API import:
/// into a copy of doorman's `invitees` table (same constraints and unique indexes, which is
/// what the target compares against) and, for reference, into a bare scratch table.
pub async fn copy(database: &Database, csv: &CsvFile, api_import: Duration, report: &mut Report) {
    let backend = database.backend;
    let targets = [
        (
            "bench_copy",
            "CREATE TABLE bench_copy (email text, name text, college text, branch text, year text)",
            "a bare scratch table (no index)",
        ),
        (
            "bench_invitees",
            "CREATE TABLE bench_invitees (LIKE invitees INCLUDING ALL); \
             ALTER TABLE bench_invitees ALTER created_at SET DEFAULT now(), \
             ALTER updated_at SET DEFAULT now()",
            "a copy of the invitees table (same constraints and unique indexes)",
        ),
    ];
    let mut like_for_like = None;
    for (table, create, what) in targets {
        match copy_with_psql(&database.url, csv, table, create).await {
            Ok((copied, rows)) => {
                report.push(Row::new(
                    backend,
                    format!("psql `\\copy` of the same file into {what} (psql start-up included)"),
                    format!(
                        "{} ({} rows/s, {} rows)",
                        secs(copied),
                        rate(csv.rows, copied),
                        thousands(rows as f64)
                    ),
                ));
                like_for_like = Some(copied);
            }
            Err(e) => {
                progress(format_args!("psql \\copy into {table} failed: {e:#}"));
                report.push(Row::new(
                    backend,
                    format!("psql `\\copy` of the same file into {what}"),
                    format!("failed: {e:#}"),
                ));
                like_for_like = None;
            }
        }
    }
    let Some(copied) = like_for_like else { return };
    let ratio = api_import.as_secs_f64() / copied.as_secs_f64();
    report.push(
        Row::new(
            backend,
            "import: API time / `\\copy` time into the invitees table's copy",
            format!("{ratio:.1}×"),
        )
        .target(
            format!("≤ {IMPORT_MAX_COPY_RATIO}×"),
            ratio <= IMPORT_MAX_COPY_RATIO,
        ),
    );
}

/// Returns how long the `\copy` into `table` took and how many rows landed.
async fn copy_with_psql(
    url: &str,
    csv: &CsvFile,
    table: &str,
    create: &str,
) -> anyhow::Result<(Duration, u64)> {
    let path = csv.path().display().to_string();
    ensure!(
        !path.contains('\''),
        "the CSV path {path} cannot be quoted for psql"
    );
    psql(url, create).await?;
    let started = Instant::now();
    psql(
        url,
        &format!("\\copy {table}(email,name,college,branch,year) FROM '{path}' CSV HEADER"),
    )
    .await?;
    let elapsed = started.elapsed();
    let count = psql(url, &format!("SELECT count(*) FROM {table}")).await?;
    let count = count
        .trim()
        .parse()
        .context("psql's count is not a number")?;
    Ok((elapsed, count))
}

/// Runs one psql command and returns its unaligned output.
async fn psql(url: &str, command: &str) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            command,
        ])
        .output()
        .await
        .context("cannot run psql (is it installed?)")?;
    ensure!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
