//! The Markdown report: the machine, then one table row per backend and measurement.

use std::fmt::Write;

use crate::Args;
use crate::database::Backend;

/// One measurement, with the target it is compared against (if the team set one).
pub struct Row {
    backend: Backend,
    measurement: String,
    measured: String,
    target: String,
    met: Option<bool>,
}

impl Row {
    pub fn new(
        backend: Backend,
        measurement: impl Into<String>,
        measured: impl Into<String>,
    ) -> Self {
        Self {
            backend,
            measurement: measurement.into(),
            measured: measured.into(),
            target: String::new(),
            met: None,
        }
    }

    pub fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = target.into();
        self.met = Some(met);
        self
    }
}

pub struct Report {
    settings: String,
    load_average: String,
    databases: Vec<String>,
    rows: Vec<Row>,
}

impl Report {
    pub fn new(args: &Args) -> Self {
        let mut settings = format!(
            "{} CSV rows, {} concurrent clients, verification runs of at most {} s",
            thousands(args.rows as f64),
            args.clients,
            args.verify_seconds
        );
        if args.rows != 100_000 || args.clients != 64 {
            settings.push_str(
                " (the targets are set for 100,000 rows and 64 clients: compare with care)",
            );
        }
        Self {
            settings,
            load_average: crate::cpu::load_average()
                .map_or("unknown".into(), |l| format!("{l:.2}")),
            databases: Vec::new(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn add_database_version(&mut self, backend: Backend, version: &str) {
        let where_ = match backend {
            Backend::Sqlite => "file in a temporary directory",
            Backend::Postgres => "on 127.0.0.1",
        };
        self.databases.push(format!("{version} ({where_})"));
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## doorman load benchmark\n");
        let _ = writeln!(out, "- Machine: {}", machine());
        if !self.databases.is_empty() {
            let _ = writeln!(out, "- Databases: {}", self.databases.join(", "));
        }
        let _ = writeln!(out, "- Run: {}", self.settings);
        let _ = writeln!(
            out,
            "- The bench's clients run on the same cores as doorman (and PostgreSQL); \
             the CPU notes say who used them. 1-minute load average before the run: {}\n",
            self.load_average
        );
        let _ = writeln!(out, "| Backend | Measurement | Measured | Target | ✓/✗ |");
        let _ = writeln!(out, "|---|---|---|---|:-:|");
        for row in &self.rows {
            let met = match row.met {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {met} |",
                row.backend,
                cell(&row.measurement),
                cell(&row.measured),
                cell(&row.target),
            );
        }
        out
    }
}

/// Table cells are one line without unescaped pipes.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `1234567.8` as `1,234,568`.
pub fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// CPU model, cores, memory and OS, from /proc and /etc/os-release.
fn machine() -> String {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = field(&cpuinfo, "model name").unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = field(&read("/proc/meminfo"), "MemTotal")
        .and_then(|kb| kb.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown memory".into(), |kb| {
            format!("{:.1} GiB RAM", kb / 1024.0 / 1024.0)
        });
    let os_release = read("/etc/os-release");
    let os = os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map_or("unknown OS", |name| name.trim_matches('"'));
    let kernel = read("/proc/sys/kernel/osrelease");
    format!(
        "{cpu}, {cores} cores, {memory}, {os} (Linux {})",
        kernel.trim()
    )
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The value of the first `name: value` line.
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim())
    })
}
