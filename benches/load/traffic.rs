//! Concurrent request loops and what they measured.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

/// How hard and how long to push.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub clients: usize,
    pub duration: Duration,
}

/// How one request ended, from the bench's point of view.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub kind: Kind,
    /// The HTTP status, when there was a response.
    pub status: Option<StatusCode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The answer the run expects.
    Expected,
    /// No (complete) response: connection refused or reset, timeout.
    Transport,
    /// A 5xx.
    ServerError,
    /// A response, but not the expected one.
    Other,
}

/// Reads a response and classifies it: transport failures and 5xx first, then
/// `expected` judges the status and the JSON body (`null` if the body is not JSON).
pub async fn classify(
    sent: reqwest::Result<reqwest::Response>,
    expected: impl FnOnce(StatusCode, &serde_json::Value) -> bool,
) -> Outcome {
    let response = match sent {
        Ok(response) => response,
        Err(_) => return Outcome::new(Kind::Transport, None),
    };
    let status = response.status();
    if status.is_server_error() {
        return Outcome::new(Kind::ServerError, Some(status));
    }
    let Ok(body) = response.bytes().await else {
        return Outcome::new(Kind::Transport, Some(status));
    };
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let kind = if expected(status, &json) {
        Kind::Expected
    } else {
        Kind::Other
    };
    Outcome::new(kind, Some(status))
}

impl Outcome {
    fn new(kind: Kind, status: Option<StatusCode>) -> Self {
        Self { kind, status }
    }
}

/// Everything one run recorded.
#[derive(Debug, Default)]
pub struct Run {
    /// One per completed request, sorted.
    latencies: Vec<Duration>,
    pub elapsed: Duration,
    counts: BTreeMap<Kind, usize>,
    statuses: BTreeMap<u16, usize>,
}

impl Run {
    fn record(&mut self, latency: Duration, outcome: Outcome) {
        self.latencies.push(latency);
        *self.counts.entry(outcome.kind).or_default() += 1;
        if let Some(status) = outcome.status {
            *self.statuses.entry(status.as_u16()).or_default() += 1;
        }
    }

    fn merge(&mut self, other: Run) {
        self.latencies.extend(other.latencies);
        for (kind, n) in other.counts {
            *self.counts.entry(kind).or_default() += n;
        }
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }

    pub fn requests(&self) -> usize {
        self.latencies.len()
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// Requests that did not get the expected answer.
    pub fn unexpected(&self) -> usize {
        self.requests() - self.count(Kind::Expected)
    }

    pub fn per_second(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The nearest-rank percentile (`p` in 0..=100) of the request latencies.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (p / 100.0 * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    /// How many responses of each status, like `200×9,870 429×130`.
    pub fn statuses(&self) -> String {
        self.statuses
            .iter()
            .map(|(status, n)| format!("{status}×{}", crate::report::thousands(*n as f64)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Sends requests from `load.clients` tasks at once until `max_requests` have been sent
/// or `load.duration` has passed, whichever comes first. `request(i)` makes the `i`-th
/// request (each `i` from 0 is used once) and says how it ended; its latency is measured
/// here, from the call until the outcome is known.
pub async fn drive<F, Fut>(load: Load, max_requests: usize, request: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + load.duration;
    let workers: Vec<_> = (0..load.clients)
        .map(|_| {
            let request = Arc::clone(&request);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut run = Run::default();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= max_requests {
                        break;
                    }
                    let sent = Instant::now();
                    let outcome = request(i).await;
                    run.record(sent.elapsed(), outcome);
                }
                run
            })
        })
        .collect();
    let mut total = Run::default();
    for worker in workers {
        total.merge(worker.await.expect("a load worker panicked"));
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}
