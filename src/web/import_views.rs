//! What the Import page shows of a preview and of an import job, in words and numbers.

use askama::Template;
use askama_web::WebTemplate;

use crate::import::reader::{REQUIRED_COLUMNS, RowError};
use crate::service::{ImportJob, ImportPreview, JobState, RowOutcome};

/// Refused rows shown on the page; the download has all that were kept.
pub const ROWS_SHOWN: usize = 50;

pub struct ColumnView {
    pub name: String,
    pub required: bool,
}

pub struct RowView {
    pub line: u64,
    pub fields: [String; 5],
    pub outcome: &'static str,
    pub class: &'static str,
    pub reason: String,
}

pub struct RefusedView {
    pub line: u64,
    pub email: String,
    pub reason: String,
}

/// The first [`ROWS_SHOWN`] refused rows, as the page lists them.
fn refused_shown(errors: &[RowError]) -> Vec<RefusedView> {
    errors
        .iter()
        .take(ROWS_SHOWN)
        .map(|e| RefusedView {
            line: e.line,
            email: e.email.clone().unwrap_or_default(),
            reason: e.message.clone(),
        })
        .collect()
}

/// The step after choosing a file: how it was read and what importing it would do.
#[derive(Template, WebTemplate)]
#[template(path = "import_preview.html")]
pub struct PreviewView {
    pub staged_id: String,
    pub csrf_token: String,
    pub encoding: &'static str,
    pub delimiter: String,
    pub columns: Vec<ColumnView>,
    pub field_names: [&'static str; 5],
    pub first_rows: Vec<RowView>,
    pub rows: u64,
    pub would_add: u64,
    pub would_skip: u64,
    pub already_invited: u64,
    pub repeated: u64,
    pub refused: u64,
    pub refused_rows: Vec<RefusedView>,
    pub refused_more: u64,
}

impl PreviewView {
    pub fn new(staged_id: String, csrf_token: &str, preview: ImportPreview) -> Self {
        let would_skip = preview.would_skip();
        let first_rows = preview
            .first_rows
            .into_iter()
            .map(|row| {
                let (outcome, class, reason) = match row.outcome {
                    RowOutcome::Added => ("Will be added", "good", String::new()),
                    RowOutcome::AlreadyInvited => {
                        ("Skipped: already invited", "off", String::new())
                    }
                    RowOutcome::Repeated => ("Skipped: repeated in the file", "off", String::new()),
                    RowOutcome::Refused(reason) => ("Refused", "bad", reason),
                };
                RowView {
                    line: row.line,
                    fields: row.fields,
                    outcome,
                    class,
                    reason,
                }
            })
            .collect();
        let refused_rows = refused_shown(&preview.errors);
        Self {
            staged_id,
            csrf_token: csrf_token.to_owned(),
            encoding: preview.format.encoding,
            delimiter: delimiter_name(preview.format.delimiter),
            columns: preview
                .format
                .columns
                .iter()
                .map(|name| ColumnView {
                    required: REQUIRED_COLUMNS.contains(&name.to_lowercase().as_str()),
                    name: name.clone(),
                })
                .collect(),
            field_names: REQUIRED_COLUMNS,
            first_rows,
            rows: preview.rows,
            would_add: preview.would_add,
            would_skip,
            already_invited: preview.already_invited,
            repeated: preview.repeated,
            refused: preview.refused,
            refused_more: preview.refused - refused_rows.len() as u64,
            refused_rows,
        }
    }
}

fn delimiter_name(delimiter: char) -> String {
    match delimiter {
        ',' => "comma ( , )".into(),
        ';' => "semicolon ( ; )".into(),
        '\t' => "tab".into(),
        '|' => "vertical bar ( | )".into(),
        other => format!("“{other}”"),
    }
}

/// A file that could not be read at all, instead of a preview.
#[derive(Template, WebTemplate)]
#[template(path = "import_refused.html")]
pub struct RefusedFile {
    pub message: String,
}

/// An import job: its progress while it runs, its summary once done.
#[derive(Template, WebTemplate)]
#[template(path = "import_job.html")]
pub struct JobView {
    pub id: String,
    pub running: bool,
    pub percent: u64,
    pub rows: u64,
    pub failure: Option<String>,
    pub summary: Option<Summary>,
}

pub struct Summary {
    pub processed: u64,
    pub added: u64,
    pub skipped: u64,
    pub refused: u64,
    pub refused_rows: Vec<RefusedView>,
    /// Listed in the download but not on the page.
    pub refused_more: u64,
    /// How many the download lists ([`crate::service::MAX_LISTED`] at most).
    pub listed: u64,
}

impl JobView {
    /// A job doorman does not know (long gone: only the latest are kept).
    pub fn forgotten(id: String) -> Self {
        Self {
            id,
            running: false,
            percent: 100,
            rows: 0,
            failure: Some(
                "doorman no longer knows this import (only the latest are kept); the invitees \
                 it added are kept. Import the same file again to add any it did not get to."
                    .into(),
            ),
            summary: None,
        }
    }
}

impl From<ImportJob> for JobView {
    fn from(job: ImportJob) -> Self {
        let percent = job.percent();
        let (running, failure, summary) = match job.state {
            JobState::Running => (true, None, None),
            JobState::Failed(message) => (false, Some(message), None),
            JobState::Finished(report) => {
                let refused_rows = refused_shown(&report.errors);
                let summary = Summary {
                    processed: report.total_processed,
                    added: report.newly_added,
                    skipped: report.skipped,
                    refused: report.error_count,
                    refused_more: (report.errors.len() - refused_rows.len()) as u64,
                    listed: report.errors.len() as u64,
                    refused_rows,
                };
                (false, None, Some(summary))
            }
        };
        Self {
            id: job.id,
            running,
            percent,
            rows: job.rows,
            failure,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: JobState, bytes_read: u64) -> ImportJob {
        ImportJob {
            id: "abc".into(),
            started_at: chrono::Utc::now(),
            file_bytes: 1000,
            bytes_read,
            rows: 42,
            state,
        }
    }

    #[test]
    fn a_running_job_polls_itself_and_a_finished_one_stops() {
        let running = JobView::from(job(JobState::Running, 500)).render().unwrap();
        assert!(
            running.contains("hx-get=\"/admin/import/jobs/abc\""),
            "{running}"
        );
        assert!(running.contains("hx-trigger=\"every 1s\""), "{running}");
        assert!(
            running.contains("value=\"50\"") && running.contains(">42<"),
            "{running}"
        );
        let report = crate::service::ImportReport::default();
        let done = JobView::from(job(JobState::Finished(report.into()), 1000))
            .render()
            .unwrap();
        assert!(
            !done.contains("hx-trigger") && done.contains("Import finished"),
            "{done}"
        );
        let failed = JobView::from(job(JobState::Failed("the disk".into()), 10))
            .render()
            .unwrap();
        assert!(
            !failed.contains("hx-trigger") && failed.contains("the disk"),
            "{failed}"
        );
    }

    #[test]
    fn a_summary_says_when_the_download_lists_only_the_first_refused_rows() {
        let error = |line| crate::import::reader::RowError {
            line,
            email: None,
            message: "email is empty".into(),
        };
        let report = crate::service::ImportReport {
            errors: vec![error(2), error(3)],
            error_count: 1500,
            ..Default::default()
        };
        let html = JobView::from(job(JobState::Finished(report.into()), 1000))
            .render()
            .unwrap();
        assert!(
            html.contains("lists the first 2 of the 1500 refused rows"),
            "{html}"
        );
        assert!(!html.contains("more in the download"), "{html}");
    }

    #[test]
    fn a_running_job_is_never_shown_complete() {
        assert_eq!(job(JobState::Running, 1000).percent(), 99);
        assert_eq!(job(JobState::Running, 0).percent(), 0);
        assert_eq!(job(JobState::Failed(String::new()), 0).percent(), 100);
    }
}
