//! The Markdown report: the machine, then one table row per backend and measurement.

use std::fmt::Write;
use std::time::Duration;

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

/// Above this 1-minute load average before the run, something else was using the cores.
const SHARED_LOAD: f64 = 0.5;

pub struct Report {
    /// The day the run began (UTC), for the section's heading.
    date: String,
    settings: String,
    /// The command as given, for whoever wants to run it again.
    command: String,
    load_average: Option<f64>,
    databases: Vec<String>,
    rows: Vec<Row>,
    /// How long the whole run took, once it is over.
    duration: Option<Duration>,
}

impl Report {
    pub fn new(args: &Args) -> Self {
        let mut settings = format!(
            "{} CSV rows ({} on a fresh database first, with {} emails), {} concurrent \
             clients, verification runs of at most {} s",
            thousands(args.rows as f64),
            thousands(crate::fresh::SMALL_ROWS as f64),
            thousands(crate::email::EMAILS as f64),
            args.clients,
            args.verify_seconds
        );
        if args.rows != 100_000 || args.clients != 64 {
            settings.push_str(
                " (the targets are set for 100,000 rows and 64 clients: compare with care)",
            );
        }
        // `cargo bench` adds `--bench` to the bench's own arguments.
        let given: Vec<String> = std::env::args()
            .skip(1)
            .filter(|arg| arg != "--bench")
            .collect();
        let mut command = String::from("cargo bench --bench load");
        if !given.is_empty() {
            command = format!("{command} -- {}", given.join(" "));
        }
        Self {
            command,
            date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
            settings,
            load_average: crate::cpu::load_average(),
            databases: Vec::new(),
            rows: Vec::new(),
            duration: None,
        }
    }

    pub fn finish(&mut self, duration: Duration) {
        self.duration = Some(duration);
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
        let _ = writeln!(out, "## Measured {}\n", self.date);
        let _ = writeln!(out, "- Machine: {}", machine());
        if !self.databases.is_empty() {
            let _ = writeln!(out, "- Databases: {}", self.databases.join(", "));
        }
        let _ = writeln!(out, "- Run: {}", self.settings);
        if let Some(duration) = self.duration {
            let _ = writeln!(
                out,
                "- Command: `{}`; the run took {} min {} s",
                self.command,
                duration.as_secs() / 60,
                duration.as_secs() % 60
            );
        }
        let load = self
            .load_average
            .map_or("unknown".into(), |l| format!("{l:.2}"));
        let _ = writeln!(
            out,
            "- The bench's clients run on the same cores as doorman (and PostgreSQL); \
             the CPU notes say who used them. 1-minute load average before the run: {load}"
        );
        if self.load_average.is_some_and(|l| l > SHARED_LOAD) {
            let _ = writeln!(
                out,
                "- The machine was shared: other work was running when the run began, and \
                 \"other\" in the CPU notes is how much of the cores it took during each \
                 step. Figures are lower than this machine gives when idle."
            );
        }
        let _ = writeln!(out);
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

/// `measured; CPU cores: doorman 1.2, postgres 0.4, bench 0.3, other 0.0`.
pub fn with_cpu(measured: String, cpu: Option<String>) -> String {
    match cpu {
        Some(cpu) => format!("{measured}; {cpu}"),
        None => measured,
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1024.0 / 1024.0)
}

pub fn rate(count: usize, d: Duration) -> String {
    thousands(count as f64 / d.as_secs_f64().max(f64::EPSILON))
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
