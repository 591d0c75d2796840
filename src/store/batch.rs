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

use super::failures::{COUNTS, counts_from_row};
use super::{BeginWrite, FailureLimits, Result, Store, StoreError, events::insert_event, on_pool};
use crate::domain::event::NewEvent;

/// At most this many outcomes in one batch.
const MAX_BATCH: usize = 256;

/// Serialises recording failures across replicas on PostgreSQL; any fixed number will do.
const FAILURES_LOCK_KEY: i64 = 0x0064_6f6f_7266_6169; // "doorfai"

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
        self.now - self.limits.window
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
    StoreError::Database(sqlx::Error::PoolClosed)
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
        write_failures(&store, failed).await;
        // An invitee appears at most once per statement; repeats go in the next round,
        // where the first attempt's outcome is already visible.
        while !verified.is_empty() {
            let mut seen = HashSet::new();
            let (round, rest): (Vec<_>, Vec<_>) =
                verified.into_iter().partition(|(v, _)| seen.insert(v.id));
            write_verified(&store, round).await;
            verified = rest;
        }
    }
}

async fn write_verified(store: &Store, ops: Vec<(Verified, oneshot::Sender<Result<bool>>)>) {
    if ops.is_empty() {
        return;
    }
    let items: Vec<&Verified> = ops.iter().map(|(v, _)| v).collect();
    match verified_together(store, &items).await {
        Ok(ids) => {
            for (v, reply) in ops {
                let _ = reply.send(Ok(ids.contains(&v.id)));
            }
        }
        Err(_) => {
            for (v, reply) in ops {
                let result = verified_together(store, &[&v])
                    .await
                    .map(|ids| ids.contains(&v.id));
                let _ = reply.send(result);
            }
        }
    }
}

async fn write_failures(store: &Store, ops: Vec<(Failed, oneshot::Sender<Result<Refusal>>)>) {
    if ops.is_empty() {
        return;
    }
    let items: Vec<&Failed> = ops.iter().map(|(f, _)| f).collect();
    match failures_together(store, &items).await {
        Ok(refusals) => {
            for ((_, reply), refusal) in ops.into_iter().zip(refusals) {
                let _ = reply.send(Ok(refusal));
            }
        }
        Err(_) => {
            for (f, reply) in ops {
                let result = failures_together(store, &[&f])
                    .await
                    .map(|refusals| refusals.into_iter().next().flatten());
                let _ = reply.send(result);
            }
        }
    }
}

/// Marks the invitees verified that still qualify; returns their ids.
async fn verified_together(store: &Store, items: &[&Verified]) -> Result<HashSet<i64>> {
    match store {
        Store::Postgres(pool) => {
            let column =
                |f: fn(&Verified) -> Option<String>| items.iter().map(|v| f(v)).collect::<Vec<_>>();
            let ids: Vec<i64> = sqlx::query_scalar(
                "WITH input AS ( \
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], \
                                          $5::text[], $6::text[], $7::text[], $8::text[], \
                                          $9::text[], $10::text[], $11::timestamptz[], \
                                          $12::bigint[], $13::bigint[], $14::bigint[]) \
                     AS t(id, token_hash, discord_user_id, now, kind, actor, channel, detail, \
                          email, source, since, max_pair, max_email, max_source)), \
                 verified AS ( \
                     UPDATE invitees SET is_verified = TRUE, verified_at = input.now, updated_at = input.now, \
                         discord_user_id = COALESCE(input.discord_user_id, invitees.discord_user_id) \
                     FROM input \
                     WHERE invitees.id = input.id AND invitees.is_verified = FALSE \
                       AND invitees.token_hash = input.token_hash AND invitees.token_expires_at > input.now \
                       AND (SELECT COUNT(*) FROM verification_failures f WHERE f.email = input.email \
                            AND f.source = input.source AND f.failed_at > input.since) < input.max_pair \
                       AND (SELECT COUNT(*) FROM verification_failures f WHERE f.email = input.email \
                            AND f.failed_at > input.since) < input.max_email \
                       AND (SELECT COUNT(*) FROM verification_failures f WHERE f.source = input.source \
                            AND f.failed_at > input.since) < input.max_source \
                     RETURNING invitees.id) \
                 INSERT INTO events (kind, invitee_id, actor, channel, detail, created_at) \
                 SELECT input.kind, input.id, input.actor, input.channel, input.detail, input.now \
                 FROM input JOIN verified ON verified.id = input.id \
                 RETURNING invitee_id",
            )
            .bind(items.iter().map(|v| v.id).collect::<Vec<_>>())
            .bind(column(|v| Some(v.token_hash.clone())))
            .bind(column(|v| v.discord_user_id.clone()))
            .bind(items.iter().map(|v| v.now).collect::<Vec<_>>())
            .bind(column(|v| Some(v.event.kind.as_str().to_owned())))
            .bind(column(|v| Some(v.event.actor.to_string())))
            .bind(column(|v| v.event.channel.map(|c| c.as_str().to_owned())))
            .bind(column(|v| Some(v.event.detail.to_string())))
            .bind(column(|v| Some(v.email.clone())))
            .bind(column(|v| Some(v.source.clone())))
            .bind(items.iter().map(|v| v.now - v.limits.window).collect::<Vec<_>>())
            .bind(items.iter().map(|v| v.limits.pair).collect::<Vec<_>>())
            .bind(items.iter().map(|v| v.limits.email).collect::<Vec<_>>())
            .bind(items.iter().map(|v| v.limits.source).collect::<Vec<_>>())
            .fetch_all(pool)
            .await?;
            Ok(ids.into_iter().collect())
        }
        Store::Sqlite(pool) => {
            let mut tx = pool.begin_write().await?;
            let mut ids = HashSet::new();
            for v in items {
                let row = sqlx::query(COUNTS)
                    .bind(&v.email)
                    .bind(&v.source)
                    .bind(v.now - v.limits.window)
                    .fetch_one(&mut *tx)
                    .await?;
                if counts_from_row!(&row)?
                    .refused_until(&v.limits, v.now)
                    .is_some()
                {
                    continue;
                }
                let updated = sqlx::query(super::invitees::MARK_VERIFIED)
                    .bind(v.now)
                    .bind(v.discord_user_id.as_deref())
                    .bind(v.id)
                    .bind(&v.token_hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 1 {
                    insert_event!(&mut *tx, &v.event, v.now).await?;
                    ids.insert(v.id);
                }
            }
            tx.commit().await?;
            Ok(ids)
        }
    }
}

/// Failures older than every window in the batch are forgotten, once per batch (the
/// window is the same for every email, so this is each email's own pruning, done at once).
fn prune_before(items: &[&Failed]) -> DateTime<Utc> {
    items
        .iter()
        .map(|f| f.window_start())
        .min()
        .expect("a batch is never empty")
}

/// Checks and records each failure in turn, in one transaction that holds off every other
/// writer of failures, so each sees the ones before it.
async fn failures_together(store: &Store, items: &[&Failed]) -> Result<Vec<Refusal>> {
    on_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        if let Store::Postgres(_) = store {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(FAILURES_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM verification_failures WHERE failed_at <= $1")
            .bind(prune_before(items))
            .execute(&mut *tx)
            .await?;
        let mut refusals = Vec::with_capacity(items.len());
        for f in items {
            let row = sqlx::query(COUNTS)
                .bind(&f.email)
                .bind(&f.source)
                .bind(f.window_start())
                .fetch_one(&mut *tx)
                .await?;
            let recent = counts_from_row!(&row)?;
            let refusal = recent.refused_until(&f.limits, f.now);
            refusals.push(refusal);
            if refusal.is_some() {
                continue;
            }
            sqlx::query("INSERT INTO verification_failures (email, source, failed_at) VALUES ($1, $2, $3)")
                .bind(&f.email)
                .bind(&f.source)
                .bind(f.now)
                .execute(&mut *tx)
                .await?;
            insert_event!(&mut *tx, &f.event, f.now).await?;
            if recent.one_more_reaches(&f.limits) {
                insert_event!(&mut *tx, &f.throttled_event, f.now).await?;
            }
        }
        tx.commit().await?;
        Ok(refusals)
    })
}
