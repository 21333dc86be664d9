//! Deleting published outbox rows once they are older than the retention. Rows are kept that
//! long so the streams can be rebuilt from MySQL after Redis loses them.
//!
//! Runs beside the relay (only while it leads), on pooled connections, so a long sweep never
//! delays publishing. Rows are found with a plain, non-locking read and deleted one primary key
//! at a time: a multi-row `DELETE` may be planned as a scan, and a scan waits on the lock of an
//! outbox row whose transaction is still open, where a primary-key lookup never touches it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::MySqlPool;

use super::relay::RelayMetrics;
use crate::{Error, Result};

/// Rows deleted per transaction.
const CHUNK: u32 = 500;

/// Sweeps every `every` until the task is aborted; errors are counted and retried next time.
pub(crate) async fn sweep_forever(
    pool: MySqlPool,
    retention: Duration,
    every: Duration,
    metrics: Arc<RelayMetrics>,
) {
    loop {
        if let Err(e) = sweep(&pool, retention, &metrics).await {
            metrics.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "outbox retention sweep failed; retrying");
        }
        tokio::time::sleep(every).await;
    }
}

async fn sweep(pool: &MySqlPool, retention: Duration, metrics: &RelayMetrics) -> Result<()> {
    // The cut-off is computed here and bound as DATETIME (see `crate::time`); a retention too
    // long for chrono keeps everything.
    let Some(cutoff) = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|r| crate::time::now().checked_sub_signed(r))
    else {
        return Ok(());
    };
    loop {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM outbox WHERE published_at < ? ORDER BY id LIMIT ?")
                .bind(crate::time::datetime(cutoff))
                .bind(CHUNK)
                .fetch_all(pool)
                .await
                .map_err(Error::MySql)?;
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = pool.begin().await.map_err(Error::MySql)?;
        let mut deleted = 0;
        for id in &ids {
            deleted += sqlx::query("DELETE FROM outbox WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(Error::MySql)?
                .rows_affected();
        }
        tx.commit().await.map_err(Error::MySql)?;
        metrics.swept.fetch_add(deleted, Ordering::Relaxed);
        if ids.len() < CHUNK as usize {
            return Ok(());
        }
    }
}
