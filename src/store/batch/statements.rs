//! The statements that write a batch of verification outcomes.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::super::failures::{COUNTS, counts_from_row};
use super::super::invitees::{mark_verified_sql, still_verifiable, verified_set};
use super::super::{
    BeginWrite, Op, Result, Store, events::insert_event, lock_across_replicas, on_pool,
};
use super::{Failed, Refusal, Verified};

/// Serialises recording failures across replicas on PostgreSQL; any fixed number will do.
const FAILURES_LOCK_KEY: i64 = 0x0064_6f6f_7266_6169; // "doorfai"

const VERIFIED_OP: &str = "recording verifications";

/// PostgreSQL takes a whole batch in one statement: the attempts as arrays, each
/// verified if its invitee still qualifies and its failures are within their limits,
/// with its event.
static POSTGRES_VERIFIED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH input AS ( \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], \
                                  $5::text[], $6::text[], $7::text[], $8::text[], \
                                  $9::text[], $10::text[], $11::timestamptz[], \
                                  $12::bigint[], $13::bigint[], $14::bigint[]) \
             AS t(id, token_hash, discord_user_id, now, kind, actor, channel, detail, \
                  email, source, since, max_pair, max_email, max_source)), \
         verified AS ( \
             UPDATE invitees SET {set} FROM input \
             WHERE invitees.id = input.id AND {verifiable} \
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
        set = verified_set("input.now", "input.discord_user_id"),
        verifiable = still_verifiable("input.token_hash", "input.now"),
    )
});
const FAILED_OP: &str = "recording failed verifications";

/// Marks the invitees verified that still qualify; returns their ids.
pub(super) async fn verified_together(store: &Store, items: &[&Verified]) -> Result<HashSet<i64>> {
    match store {
        Store::Postgres(pool) => {
            let column =
                |f: fn(&Verified) -> Option<String>| items.iter().map(|v| f(v)).collect::<Vec<_>>();
            let ids: Vec<i64> = sqlx::query_scalar(&POSTGRES_VERIFIED)
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
                .bind(
                    items
                        .iter()
                        .map(|v| v.limits.window_start(v.now))
                        .collect::<Vec<_>>(),
                )
                .bind(items.iter().map(|v| v.limits.pair).collect::<Vec<_>>())
                .bind(items.iter().map(|v| v.limits.email).collect::<Vec<_>>())
                .bind(items.iter().map(|v| v.limits.source).collect::<Vec<_>>())
                .fetch_all(pool)
                .await
                .op(VERIFIED_OP)?;
            Ok(ids.into_iter().collect())
        }
        Store::Sqlite(pool) => {
            let mark_verified = mark_verified_sql();
            let mut tx = pool.begin_write().await.op(VERIFIED_OP)?;
            let mut ids = HashSet::new();
            for v in items {
                let row = sqlx::query(COUNTS)
                    .bind(&v.email)
                    .bind(&v.source)
                    .bind(v.limits.window_start(v.now))
                    .fetch_one(&mut *tx)
                    .await
                    .op(VERIFIED_OP)?;
                if counts_from_row!(&row, VERIFIED_OP)?
                    .refused_until(&v.limits, v.now)
                    .is_some()
                {
                    continue;
                }
                let updated = sqlx::query(&mark_verified)
                    .bind(v.now)
                    .bind(v.discord_user_id.as_deref())
                    .bind(v.id)
                    .bind(&v.token_hash)
                    .execute(&mut *tx)
                    .await
                    .op(VERIFIED_OP)?
                    .rows_affected();
                if updated == 1 {
                    insert_event!(&mut *tx, &v.event, v.now).await?;
                    ids.insert(v.id);
                }
            }
            tx.commit().await.op(VERIFIED_OP)?;
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
pub(super) async fn failures_together(store: &Store, items: &[&Failed]) -> Result<Vec<Refusal>> {
    on_pool!(store, pool => {
        let mut tx = pool.begin_write().await.op(FAILED_OP)?;
        lock_across_replicas!(store, &mut *tx, FAILURES_LOCK_KEY, FAILED_OP);
        sqlx::query("DELETE FROM verification_failures WHERE failed_at <= $1")
            .bind(prune_before(items))
            .execute(&mut *tx)
            .await
            .op(FAILED_OP)?;
        let mut refusals = Vec::with_capacity(items.len());
        for f in items {
            let row = sqlx::query(COUNTS)
                .bind(&f.email)
                .bind(&f.source)
                .bind(f.window_start())
                .fetch_one(&mut *tx)
                .await
                .op(FAILED_OP)?;
            let recent = counts_from_row!(&row, FAILED_OP)?;
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
                .await
                .op(FAILED_OP)?;
            insert_event!(&mut *tx, &f.event, f.now).await?;
            if recent.one_more_reaches(&f.limits) {
                insert_event!(&mut *tx, &f.throttled_event, f.now).await?;
            }
        }
        tx.commit().await.op(FAILED_OP)?;
        Ok(refusals)
    })
}
