//! The relay: moves committed outbox rows onto the service's Redis Stream, oldest id first, and
//! marks them published.
//!
//! Rows are chosen by `published_at IS NULL ORDER BY id`, never by "ids after the last one seen":
//! ids are handed out at insert time but become visible at commit, so a transaction that commits
//! after a later id would otherwise be skipped forever. Publishing (XADD) and marking (UPDATE)
//! are two stores and cannot be one transaction; the relay marks only after Redis accepted the
//! batch, so a crash in between publishes those rows again on restart: duplicates, never loss.
//! Consumers are idempotent (keyed by entity id and version) for exactly this reason.
//!
//! Only the holder of the leader lease (see `lease`) relays; other instances stand by and try
//! again every `standby_retry`. While it leads, it also runs the retention sweep (`retention`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::{MySqlConnection, MySqlPool};
use sqlx::QueryBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::lease::LeaseConn;
use super::retention;
use crate::{Error, RedisPool, Result};

/// The stream key under the service's Redis prefix.
pub const STREAM_SUFFIX: &str = "events";
/// A key the relay keeps in Redis beside the stream. When it is missing, Redis has lost its data
/// (flushed, or restarted without its files): the relay re-publishes every retained row.
pub const EPOCH_SUFFIX: &str = "events:epoch";
/// How often an idle relay looks for lost Redis data.
const EPOCH_CHECK_EVERY: Duration = Duration::from_secs(1);
/// Rows reset per statement when re-publishing the retention.
const REPUBLISH_CHUNK: u32 = 5000;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Rows per round trip; a full batch is followed at once by the next.
    pub batch_size: u32,
    /// Pause after a batch that was not full (commit-to-stream latency when idle).
    pub idle_poll: Duration,
    /// How often a standby tries to become leader.
    pub standby_retry: Duration,
    /// How long published rows are kept, so the streams can be rebuilt from MySQL.
    pub retention: Duration,
    /// How often the leader deletes rows past the retention.
    pub sweep_every: Duration,
    /// Approximate cap on stream length (`XADD … MAXLEN ~`); 0 keeps every entry. Entries a
    /// lagging group never read are then gone from the stream, and the checker repairs what
    /// they would have changed.
    pub stream_max_len: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch_size: 256,
            idle_poll: Duration::from_millis(20),
            standby_retry: Duration::from_secs(1),
            retention: Duration::from_secs(7 * 24 * 3600),
            sweep_every: Duration::from_secs(60),
            stream_max_len: 1_000_000,
        }
    }
}

/// Counters of one relay instance, readable while it runs.
#[derive(Debug, Default)]
pub struct RelayMetrics {
    /// Stream entries written (a re-published row counts again).
    pub published: AtomicU64,
    /// Failed rounds (store errors); each one makes the relay step down and retry.
    pub errors: AtomicU64,
    /// Published rows deleted after the retention.
    pub swept: AtomicU64,
    /// Whether this instance holds the lease right now.
    pub leader: AtomicBool,
    /// Times the relay found Redis empty and re-published the retention.
    pub republished: AtomicU64,
}

impl RelayMetrics {
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn swept(&self) -> u64 {
        self.swept.load(Ordering::Relaxed)
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    pub fn republished(&self) -> u64 {
        self.republished.load(Ordering::Relaxed)
    }
}

/// A running relay. Dropping the handle stops it (as [`RelayHandle::shutdown`] without waiting).
pub struct RelayHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    metrics: Arc<RelayMetrics>,
}

impl RelayHandle {
    pub fn metrics(&self) -> &RelayMetrics {
        &self.metrics
    }

    pub fn shared_metrics(&self) -> Arc<RelayMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Stops after the current batch, releases the lease and waits for the task to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Ends the task wherever it is, like a killed process: the lease connection is dropped
    /// without releasing the lock, and a batch may be on the stream but not marked.
    pub fn abort(self) {
        self.task.abort();
    }
}

pub struct Relay;

impl Relay {
    /// Starts relaying the outbox of `pool`'s database to the stream `redis.key("events")`.
    pub fn spawn(pool: MySqlPool, redis: RedisPool, mut config: RelayConfig) -> RelayHandle {
        // A zero batch would poll forever without publishing.
        config.batch_size = config.batch_size.max(1);
        let (stop, stopped) = watch::channel(false);
        let metrics = Arc::new(RelayMetrics::default());
        let worker = Worker {
            pool,
            stream: redis.key(STREAM_SUFFIX),
            epoch: redis.key(EPOCH_SUFFIX),
            redis,
            config,
            metrics: Arc::clone(&metrics),
            stopped,
        };
        let task = tokio::spawn(worker.run());
        RelayHandle {
            stop,
            task,
            metrics,
        }
    }
}

/// One row as the relay reads it.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    event_id: String,
    event_type: String,
    subject: String,
    entity_version: i64,
    envelope: Vec<u8>,
}

struct Worker {
    pool: MySqlPool,
    redis: RedisPool,
    stream: String,
    epoch: String,
    config: RelayConfig,
    metrics: Arc<RelayMetrics>,
    /// True (or the sender gone) means stop.
    stopped: watch::Receiver<bool>,
}

impl Worker {
    async fn run(mut self) {
        // Kept between tries so a standby does not reconnect every second.
        let mut candidate: Option<LeaseConn> = None;
        loop {
            if self.should_stop() {
                break;
            }
            let attempt = match candidate.take() {
                Some(lease) => Ok(lease),
                None => LeaseConn::open(&self.pool).await,
            };
            match attempt {
                Ok(mut lease) => match lease.try_lock().await {
                    Ok(true) => {
                        self.metrics.leader.store(true, Ordering::Relaxed);
                        tracing::info!(stream = %self.stream, "outbox relay leading");
                        if let Err(e) = self.lead(lease.conn()).await {
                            self.failed(&e);
                        }
                        self.metrics.leader.store(false, Ordering::Relaxed);
                        // Give the lease up with the connection: whatever failed may have
                        // broken it, and a healthy standby should get its chance.
                        lease.close().await;
                    }
                    Ok(false) => candidate = Some(lease),
                    Err(e) => self.failed(&e),
                },
                Err(e) => self.failed(&e),
            }
            if !self.pause(self.config.standby_retry).await {
                break;
            }
        }
        if let Some(lease) = candidate {
            lease.close().await;
        }
    }

    /// Relays until asked to stop (Ok) or a store fails (Err).
    async fn lead(&mut self, conn: &mut MySqlConnection) -> Result<()> {
        // Aborted on drop, so the sweep also ends when this task itself is aborted.
        let _sweeper = AbortOnDrop(tokio::spawn(retention::sweep_forever(
            self.pool.clone(),
            self.config.retention,
            self.config.sweep_every,
            Arc::clone(&self.metrics),
        )));
        self.relay_until_stopped(conn).await
    }

    async fn relay_until_stopped(&mut self, conn: &mut MySqlConnection) -> Result<()> {
        let mut last_epoch_check: Option<tokio::time::Instant> = None;
        loop {
            if self.should_stop() {
                return Ok(());
            }
            if last_epoch_check.is_none_or(|t| t.elapsed() >= EPOCH_CHECK_EVERY) {
                self.check_epoch(conn).await?;
                last_epoch_check = Some(tokio::time::Instant::now());
            }
            let relayed = self.relay_batch(conn).await?;
            if relayed < self.config.batch_size as usize && !self.pause(self.config.idle_poll).await
            {
                return Ok(());
            }
        }
    }

    /// Publishes the oldest unpublished rows and marks them; returns how many.
    async fn relay_batch(&self, conn: &mut MySqlConnection) -> Result<usize> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, event_id, event_type, subject, entity_version, envelope FROM outbox \
             WHERE published_at IS NULL ORDER BY id LIMIT ?",
        )
        .bind(self.config.batch_size)
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::MySql)?;
        if rows.is_empty() {
            return Ok(0);
        }
        // One pipeline, entries in id order; a partial failure leaves every row unmarked, so the
        // ones that did land are published again (duplicates, not loss).
        let mut pipe = redis::pipe();
        for row in &rows {
            let xadd = pipe.cmd("XADD").arg(&self.stream);
            if self.config.stream_max_len > 0 {
                xadd.arg("MAXLEN").arg("~").arg(self.config.stream_max_len);
            }
            xadd.arg("*")
                .arg("id")
                .arg(&row.event_id)
                .arg("type")
                .arg(&row.event_type)
                .arg("subject")
                .arg(&row.subject)
                .arg("version")
                .arg(row.entity_version)
                .arg("envelope")
                .arg(row.envelope.as_slice())
                .ignore();
        }
        let mut redis = self.redis.get().await?;
        pipe.query_async::<()>(&mut redis)
            .await
            .map_err(|e| Error::Redis(e.to_string()))?;
        self.metrics
            .published
            .fetch_add(rows.len() as u64, Ordering::Relaxed);

        let mut mark = QueryBuilder::new("UPDATE outbox SET published_at = ");
        mark.push_bind(crate::time::datetime(crate::time::now()))
            .push(" WHERE id IN (");
        let mut ids = mark.separated(", ");
        for row in &rows {
            ids.push_bind(row.id);
        }
        mark.push(")");
        mark.build()
            .execute(&mut *conn)
            .await
            .map_err(Error::MySql)?;
        Ok(rows.len())
    }

    /// Re-publishes the retention when Redis has lost the stream. The epoch key is set with
    /// NX: finding it missing means this Redis never saw this outbox, or forgot it. Either way
    /// every retained row goes out again, oldest first, and consumers (whose groups vanished
    /// with the data) start the new stream from its beginning. Duplicates are harmless.
    async fn check_epoch(&self, conn: &mut MySqlConnection) -> Result<()> {
        let mut redis = self.redis.get().await?;
        let fresh: Option<String> = redis::cmd("SET")
            .arg(&self.epoch)
            .arg(uuid::Uuid::now_v7().to_string())
            .arg("NX")
            .query_async(&mut redis)
            .await
            .map_err(|e| Error::Redis(e.to_string()))?;
        if fresh.is_none() {
            return Ok(());
        }
        let mut reset = 0u64;
        loop {
            let done = sqlx::query(
                "UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL \
                 ORDER BY id LIMIT ?",
            )
            .bind(REPUBLISH_CHUNK)
            .execute(&mut *conn)
            .await
            .map_err(Error::MySql)?;
            reset += done.rows_affected();
            if done.rows_affected() < u64::from(REPUBLISH_CHUNK) {
                break;
            }
        }
        if reset > 0 {
            self.metrics.republished.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(stream = %self.stream, rows = reset, "redis had lost the stream; re-publishing the outbox retention");
        }
        Ok(())
    }

    fn failed(&self, e: &Error) {
        self.metrics.errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %e, stream = %self.stream, "outbox relay failed; retrying");
    }

    fn should_stop(&self) -> bool {
        *self.stopped.borrow() || self.stopped.has_changed().is_err()
    }

    /// Sleeps for `wait`; false when asked to stop meanwhile.
    async fn pause(&mut self, wait: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(wait) => !self.should_stop(),
            _ = self.stopped.changed() => false,
        }
    }
}

/// Ends a helper task together with the scope that owns it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
