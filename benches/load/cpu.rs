//! Where the CPU time went during a step. The bench's clients share the cores with doorman
//! and PostgreSQL (and whatever else runs on the machine), so a throughput only means
//! something next to who was using the cores.

use std::collections::HashMap;
use std::time::Instant;

/// Linux reports CPU time in USER_HZ ticks, which is 100 per second on every platform
/// Rust targets (it is fixed by the kernel ABI, whatever the kernel's own HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU counters at one moment.
struct Sample {
    at: Instant,
    doorman: Option<u64>,
    bench: Option<u64>,
    /// Per PostgreSQL process, since backends come and go.
    postgres: HashMap<u32, u64>,
    /// Busy ticks of all CPUs together.
    machine: Option<u64>,
}

impl Sample {
    fn take(doorman_pid: u32) -> Self {
        Self {
            at: Instant::now(),
            doorman: process_ticks(doorman_pid).map(|(_, ticks)| ticks),
            bench: process_ticks(std::process::id()).map(|(_, ticks)| ticks),
            postgres: postgres_ticks(),
            machine: machine_busy_ticks(),
        }
    }
}

/// Measures a step's CPU use from [`Meter::start`] to [`Meter::finish`].
pub struct Meter {
    doorman_pid: u32,
    start: Sample,
}

impl Meter {
    pub fn start(doorman_pid: u32) -> Self {
        Self {
            doorman_pid,
            start: Sample::take(doorman_pid),
        }
    }

    /// Cores used on average, like `CPU cores: doorman 1.2, postgres 0.4, bench 0.3,
    /// other 0.0`, or nothing if /proc cannot say. PostgreSQL counts all its processes
    /// (other databases' too); "other" is the rest of the machine's busy time: other
    /// programs, and kernel work charged to no process (such as loopback networking).
    pub fn finish(self) -> Option<String> {
        let end = Sample::take(self.doorman_pid);
        let seconds = (end.at - self.start.at).as_secs_f64().max(f64::EPSILON);
        let cores = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds;
        let doorman = cores(end.doorman?.checked_sub(self.start.doorman?)?);
        let bench = cores(end.bench?.checked_sub(self.start.bench?)?);
        let postgres_ticks: u64 = end
            .postgres
            .iter()
            .map(|(pid, ticks)| ticks.saturating_sub(*self.start.postgres.get(pid).unwrap_or(&0)))
            .sum();
        let postgres = cores(postgres_ticks);
        let machine = cores(end.machine?.checked_sub(self.start.machine?)?);
        let other = (machine - doorman - bench - postgres).max(0.0);
        let mut text = format!("CPU cores: doorman {doorman:.1}");
        if postgres >= 0.05 {
            text.push_str(&format!(", postgres {postgres:.1}"));
        }
        text.push_str(&format!(", bench {bench:.1}, other {other:.1}"));
        Some(text)
    }
}

/// The command name and user plus system time (all threads) of one process, from
/// `/proc/<pid>/stat`.
fn process_ticks(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or parentheses.
    let name_start = stat.find('(')? + 1;
    let name_end = stat.rfind(')')?;
    let fields: Vec<&str> = stat[name_end + 1..].split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((stat[name_start..name_end].to_owned(), utime + stime))
}

/// CPU ticks of every running PostgreSQL process, by pid.
fn postgres_ticks() -> HashMap<u32, u64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| match process_ticks(pid)? {
            (name, ticks) if name == "postgres" => Some((pid, ticks)),
            _ => None,
        })
        .collect()
}

/// Busy ticks of all CPUs together, from the first line of `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let counters: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = counters.iter().take(8).sum();
    let idle = counters.get(3)? + counters.get(4).unwrap_or(&0);
    Some(total - idle)
}

/// The 1-minute load average, to tell whether something else was running.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
