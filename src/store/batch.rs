//! Group commit for verification outcomes. Under load many attempts finish at once; writing
//! each in its own transaction spends most of the database's time on per-statement and
//! per-commit overhead. The writer takes whatever outcomes are waiting and writes them
//! together (one statement per kind on PostgreSQL, one transaction on SQLite, where it also
//! keeps writers queueing here instead of sleeping on the database's lock).
//!
//! A failure is recorded only while its email and source are within their limits, checked
//! and written in one step (under SQLite's write lock, or an advisory lock on PostgreSQL),
//! so attempts arriving together cannot all slip under a limit; a verification likewise
//! succeeds only while they are within them.
//!
//! Each caller still gets its own answer, and nothing is acknowledged before it is
//! committed. If a batch fails as a whole (say, two attempts linking one Discord account),
//! its outcomes are written one by one (batches of one), so each gets its own result.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::{Result, Store, StoreError};
use crate::domain::event::NewEvent;
use crate::domain::throttle::FailureLimits;
use statements::{failures_together, verified_together};

mod statements;

/// At most this many outcomes in one batch.
const MAX_BATCH: usize = 256;

pub struct Verified {
    pub id: i64,
    pub token_hash: String,
    pub discord_user_id: Option<String>,
    pub now: DateTime<Utc>,
    pub event: NewEvent,
    /// Whose failures must be within their limits for the verification to go ahead.
    pub email: String,
    pub source: String,
    pub limits: FailureLimits,
}

pub struct Failed {
    pub email: String,
    pub source: String,
    pub now: DateTime<Utc>,
    pub limits: FailureLimits,
    /// Written with the failure.
    pub event: NewEvent,
    /// Written too when this failure uses up an allowance.
    pub throttled_event: NewEvent,
}

impl Failed {
    fn window_start(&self) -> DateTime<Utc> {
        self.limits.window_start(self.now)
    }
}

/// `None` when the failure was recorded; else when it may be tried again, nothing recorded.
pub type Refusal = Option<DateTime<Utc>>;

enum Op {
    Verified(Verified, oneshot::Sender<Result<bool>>),
    Failed(Failed, oneshot::Sender<Result<Refusal>>),
}

/// A handle to the writer task; cheap to clone. The task ends when every handle is gone.
#[derive(Clone)]
pub struct OutcomeWriter {
    ops: mpsc::Sender<Op>,
}

impl OutcomeWriter {
    pub fn spawn(store: Store) -> Self {
        let (ops, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, rx));
        Self { ops }
    }

    /// As [`Store::mark_verified`], batched with other outcomes.
    pub async fn mark_verified(&self, verified: Verified) -> Result<bool> {
        let (tx, rx) = oneshot::channel();
        self.submit(Op::Verified(verified, tx)).await?;
        rx.await.map_err(|_| writer_gone())?
    }

    /// Records a failed attempt if its email and source are still within their limits.
    pub async fn record_failure(&self, failed: Failed) -> Result<Refusal> {
        let (tx, rx) = oneshot::channel();
        self.submit(Op::Failed(failed, tx)).await?;
        rx.await.map_err(|_| writer_gone())?
    }

    async fn submit(&self, op: Op) -> Result<()> {
        self.ops.send(op).await.map_err(|_| writer_gone())
    }
}

fn writer_gone() -> StoreError {
    StoreError::Query {
        operation: "handing a verification outcome to its writer",
        source: sqlx::Error::PoolClosed,
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Op>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        // Whatever else is already waiting joins this batch; nothing waits for more.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut verified = Vec::new();
        let mut failed = Vec::new();
        for op in batch {
            match op {
                Op::Verified(v, reply) => verified.push((v, reply)),
                Op::Failed(f, reply) => failed.push((f, reply)),
            }
        }
        write_all(&store, failed).await;
        // An invitee appears at most once per statement; repeats go in the next round,
        // where the first attempt's outcome is already visible.
        while !verified.is_empty() {
            let mut seen = HashSet::new();
            let (round, rest): (Vec<_>, Vec<_>) =
                verified.into_iter().partition(|(v, _)| seen.insert(v.id));
            write_all(&store, round).await;
            verified = rest;
        }
    }
}

/// A kind of outcome, written in batches and answered one by one.
trait Outcome: Sized {
    type Answer;
    /// Writes `items` in one go; an answer for each, in order.
    async fn write(store: &Store, items: &[&Self]) -> Result<Vec<Self::Answer>>;
}

impl Outcome for Verified {
    /// Whether it was verified.
    type Answer = bool;
    async fn write(store: &Store, items: &[&Self]) -> Result<Vec<bool>> {
        let ids = verified_together(store, items).await?;
        Ok(items.iter().map(|v| ids.contains(&v.id)).collect())
    }
}

impl Outcome for Failed {
    type Answer = Refusal;
    async fn write(store: &Store, items: &[&Self]) -> Result<Vec<Refusal>> {
        failures_together(store, items).await
    }
}

/// Writes the outcomes together and answers each; if that fails, writes them one by one
/// so that each gets its own answer.
async fn write_all<T: Outcome>(store: &Store, ops: Vec<(T, oneshot::Sender<Result<T::Answer>>)>) {
    if ops.is_empty() {
        return;
    }
    let items: Vec<&T> = ops.iter().map(|(item, _)| item).collect();
    match T::write(store, &items).await {
        Ok(answers) => {
            for ((_, reply), answer) in ops.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(_) => {
            for (item, reply) in ops {
                let answer = T::write(store, &[&item]).await.and_then(|answers| {
                    answers.into_iter().next().ok_or_else(|| StoreError::Query {
                        operation: "writing one verification outcome",
                        source: sqlx::Error::RowNotFound,
                    })
                });
                let _ = reply.send(answer);
            }
        }
    }
}
