//! The CSV file every backend imports: unique emails, plausible names and schools.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use tempfile::NamedTempFile;

const FIRST_NAMES: &[&str] = &[
    "Ana", "Bilal", "Chen", "Dara", "Emeka", "Fatima", "Gabriel", "Hana", "Ivan", "Jaya", "Kofi",
    "Lucía", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tomás", "Uma", "Viktor",
    "Wen", "Ximena", "Yusuf", "Zoë", "Aarav", "Bea", "Céline", "Dmitri", "Elif", "Finn",
];

const LAST_NAMES: &[&str] = &[
    "Abebe",
    "Becker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fernandes",
    "García",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Mensah",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rahman",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Wright",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Andersson",
    "Bianchi",
    "Costa",
    "Das",
    "Evans",
];

const COLLEGES: &[&str] = &[
    "Northfield Institute of Technology",
    "Riverside College of Engineering",
    "St. Anne's University",
    "Lakeview Polytechnic",
    "Eastgate School of Sciences",
    "Hillcrest Technical University",
    "Meridian College",
    "Old Harbour University",
];

const BRANCHES: &[&str] = &[
    "Computer Science",
    "Electrical Engineering",
    "Mechanical Engineering",
    "Civil Engineering",
    "Information Technology",
    "Electronics and Communication",
    "Chemical Engineering",
    "Mathematics",
];

const YEARS: &[&str] = &["2025", "2026", "2027", "2028"];

/// A CSV file of invitees on disk, removed when dropped.
pub struct CsvFile {
    file: NamedTempFile,
    pub rows: usize,
    pub bytes: u64,
}

impl CsvFile {
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn read(&self) -> anyhow::Result<Vec<u8>> {
        std::fs::read(self.path()).context("cannot read back the CSV file")
    }
}

/// Writes `rows` invitees (`user1@bench.example.org` and on) under the header doorman expects.
pub fn write_csv(rows: usize) -> anyhow::Result<CsvFile> {
    let file = tempfile::Builder::new()
        .prefix("doorman-bench-")
        .suffix(".csv")
        .tempfile()
        .context("cannot create the CSV file")?;
    let mut out = BufWriter::new(file.as_file());
    writeln!(out, "email,name,college,branch,year")?;
    for i in 1..=rows {
        writeln!(out, "{}", row(i))?;
    }
    out.flush().context("cannot write the CSV file")?;
    drop(out);
    let bytes = file.as_file().metadata()?.len();
    Ok(CsvFile { file, rows, bytes })
}

/// Row `i`: the name parts are picked with different strides so that combinations vary.
fn row(i: usize) -> String {
    format!(
        "user{i}@bench.example.org,{} {},{},{},{}",
        pick(FIRST_NAMES, i, 7),
        pick(LAST_NAMES, i, 13),
        pick(COLLEGES, i, 3),
        pick(BRANCHES, i, 5),
        pick(YEARS, i, 1),
    )
}

fn pick(list: &[&'static str], i: usize, stride: usize) -> &'static str {
    list[(i * stride) % list.len()]
}
