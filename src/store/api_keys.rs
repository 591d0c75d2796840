//! Wrong admin keys, counted per client address and fixed window in the database, so
//! every replica sees the same count.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{BeginWrite, Op, Result, Store, on_pool};
use crate::domain::event::{Actor, EventKind};

impl Store {
    /// Counts one wrong key from `address` in the window starting at `window_start` and
    /// returns the window's count. The window's one `api_key_rejected` event is written
    /// with the first and carries the count from then on.
    pub async fn record_api_key_rejection(
        &self,
        address: &str,
        window_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        const OP: &str = "counting a wrong API key";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.op(OP)?;
            let (rejected, event_id): (i64, Option<i64>) = sqlx::query_as(
                "INSERT INTO api_key_rejections (address, window_start, rejected) VALUES ($1, $2, 1) \
                 ON CONFLICT (address, window_start) DO UPDATE SET rejected = api_key_rejections.rejected + 1 \
                 RETURNING rejected, event_id",
            )
            .bind(address)
            .bind(window_start)
            .fetch_one(&mut *tx)
            .await
                .op(OP)?;
            let detail = json!({
                "address": address,
                "count": rejected,
                "window_start": window_start,
            })
            .to_string();
            match event_id {
                Some(id) => {
                    sqlx::query("UPDATE events SET detail = $1 WHERE id = $2")
                        .bind(&detail)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                .op(OP)?;
                }
                None => {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO events (kind, invitee_id, actor, channel, detail, created_at) \
                         VALUES ($1, NULL, $2, NULL, $3, $4) RETURNING id",
                    )
                    .bind(EventKind::ApiKeyRejected.as_str())
                    .bind(Actor::System.to_string())
                    .bind(&detail)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                .op(OP)?;
                    sqlx::query(
                        "UPDATE api_key_rejections SET event_id = $1 WHERE address = $2 AND window_start = $3",
                    )
                    .bind(id)
                    .bind(address)
                    .bind(window_start)
                    .execute(&mut *tx)
                    .await
                .op(OP)?;
                    // A new window is rare enough to forget the finished ones here.
                    sqlx::query("DELETE FROM api_key_rejections WHERE window_start < $1")
                        .bind(window_start)
                        .execute(&mut *tx)
                        .await
                .op(OP)?;
                }
            }
            tx.commit().await.op(OP)?;
            Ok(rejected)
        })
    }
}
