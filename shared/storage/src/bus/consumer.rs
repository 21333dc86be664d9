//! One consumer of one group: the read / claim / handle / acknowledge loop described in the
//! module documentation.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use redis::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::entries::{
    as_i64, as_string, envelope_of, info_field, parse_autoclaim_reply, parse_pending_counts,
    parse_read_reply, RawEntry,
};
use super::{ConsumerConfig, ConsumerMetrics, DeadLetters, Event, Handler, HandlerError};
use crate::{Error, RedisPool, Result};
use talentmesh_mesh::retry::Backoff;

/// Deliveries without a recorded handler error (crashes mid-handling) after which an entry is
/// dead-lettered anyway, as a multiple of `max_deliveries`.
const UNEXPLAINED_DELIVERY_FACTOR: u64 = 4;

pub struct Consumer;

impl Consumer {
    /// Starts consuming `config.stream` in `config.group` (created at the stream's start if
    /// missing).
    pub fn spawn(
        redis: RedisPool,
        mut config: ConsumerConfig,
        handler: Arc<dyn Handler>,
        dead_letters: DeadLetters,
    ) -> ConsumerHandle {
        config.batch = config.batch.max(1);
        config.max_deliveries = config.max_deliveries.max(1);
        let (stop, stopped) = watch::channel(false);
        let metrics = Arc::new(ConsumerMetrics::default());
        let worker = Worker {
            errors_key: redis.key(&format!("bus:errors:{}", config.group)),
            redis,
            config: config.clone(),
            handler: Arc::clone(&handler),
            dead_letters,
            metrics: Arc::clone(&metrics),
            stopped,
        };
        let task = tokio::spawn(worker.run());
        ConsumerHandle {
            stop,
            task,
            metrics,
            config,
            handler,
        }
    }
}

/// A running consumer. Dropping the handle stops it.
pub struct ConsumerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    metrics: Arc<ConsumerMetrics>,
    config: ConsumerConfig,
    handler: Arc<dyn Handler>,
}

impl ConsumerHandle {
    pub fn metrics(&self) -> &ConsumerMetrics {
        &self.metrics
    }

    pub fn shared_metrics(&self) -> Arc<ConsumerMetrics> {
        Arc::clone(&self.metrics)
    }

    pub fn group(&self) -> &str {
        &self.config.group
    }

    pub fn stream(&self) -> &str {
        &self.config.stream
    }

    /// The group's handler, for replaying dead letters.
    pub fn handler(&self) -> Arc<dyn Handler> {
        Arc::clone(&self.handler)
    }

    /// Stops after the current batch (unacknowledged entries stay pending) and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Ends the task wherever it is, like a killed process: entries being handled stay pending.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// How a batch ended.
enum Applied {
    Done,
    Permanent(String),
    Stopped,
}

struct Worker {
    redis: RedisPool,
    config: ConsumerConfig,
    handler: Arc<dyn Handler>,
    dead_letters: DeadLetters,
    metrics: Arc<ConsumerMetrics>,
    stopped: watch::Receiver<bool>,
    /// Hash of entry id → last permanent error, shared by the group's consumers.
    errors_key: String,
}

fn redis_err(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

impl Worker {
    async fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_millis(100), self.config.max_backoff);
        while !self.should_stop() {
            match self.session().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, group = %self.config.group, "consumer failed; retrying");
                    if !self.pause(backoff.next_delay()).await {
                        break;
                    }
                }
            }
        }
    }

    /// Consumes on one connection until stopped (Ok) or Redis fails (Err).
    async fn session(&mut self) -> Result<()> {
        // A connection of its own: blocking reads would hold up anyone sharing it.
        let mut conn = self.redis.get().await?;
        self.ensure_group(&mut conn).await?;
        self.drain_own_pending(&mut conn).await?;
        let claim_every = self.config.claim_idle / 2;
        let forget_every = (self.config.forget_idle_consumers / 4).max(Duration::from_secs(1));
        let mut last_claim: Option<Instant> = None;
        let mut last_forget: Option<Instant> = None;
        loop {
            if self.should_stop() {
                return Ok(());
            }
            if last_claim.is_none_or(|t| t.elapsed() >= claim_every) {
                self.claim_stale(&mut conn).await?;
                last_claim = Some(Instant::now());
            }
            if last_forget.is_none_or(|t| t.elapsed() >= forget_every) {
                self.forget_idle_consumers(&mut conn).await?;
                last_forget = Some(Instant::now());
            }
            let reply: std::result::Result<Value, redis::RedisError> = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg("COUNT")
                .arg(self.config.batch)
                .arg("BLOCK")
                .arg(u64::try_from(self.config.block.as_millis()).unwrap_or(1000))
                .arg("STREAMS")
                .arg(&self.config.stream)
                .arg(">")
                .query_async(&mut conn)
                .await;
            match reply {
                Ok(v) => {
                    let entries = parse_read_reply(&v);
                    self.process(&mut conn, entries, false).await?;
                }
                // The stream and its groups are gone (Redis lost its data): start over from the
                // beginning of the stream the relay rebuilds.
                Err(e) if e.code() == Some("NOGROUP") => self.ensure_group(&mut conn).await?,
                Err(e) => return Err(redis_err(e)),
            }
        }
    }

    async fn ensure_group(&self, conn: &mut deadpool_redis::Connection) -> Result<()> {
        let made: std::result::Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.config.stream)
            .arg(&self.config.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(conn)
            .await;
        match made {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(redis_err(e)),
        }
    }

    /// Entries delivered to this consumer before a restart and never acknowledged.
    async fn drain_own_pending(&mut self, conn: &mut deadpool_redis::Connection) -> Result<()> {
        let mut after = "0-0".to_string();
        loop {
            if self.should_stop() {
                return Ok(());
            }
            let v: Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg("COUNT")
                .arg(self.config.batch)
                .arg("STREAMS")
                .arg(&self.config.stream)
                .arg(&after)
                .query_async(conn)
                .await
                .map_err(redis_err)?;
            let entries = parse_read_reply(&v);
            let Some(last) = entries.last() else {
                return Ok(());
            };
            after = last.id.clone();
            self.process(conn, entries, true).await?;
        }
    }

    /// Claims entries pending longer than `claim_idle`: those of dead consumers and failed ones
    /// due for another try.
    async fn claim_stale(&mut self, conn: &mut deadpool_redis::Connection) -> Result<()> {
        let mut cursor = "0-0".to_string();
        loop {
            let v: Value = redis::cmd("XAUTOCLAIM")
                .arg(&self.config.stream)
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg(u64::try_from(self.config.claim_idle.as_millis()).unwrap_or(u64::MAX))
                .arg(&cursor)
                .arg("COUNT")
                .arg(self.config.batch)
                .query_async(conn)
                .await
                .map_err(redis_err)?;
            let (next, entries) = parse_autoclaim_reply(&v);
            if !entries.is_empty() {
                self.metrics
                    .claimed
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
                self.process(conn, entries, true).await?;
            }
            if next == "0-0" || self.should_stop() {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Removes other consumers that have been idle past `forget_idle_consumers` and hold no
    /// pending entries. One with pending entries stays until they are claimed (removing it
    /// would drop them from the group's pending list).
    async fn forget_idle_consumers(&self, conn: &mut deadpool_redis::Connection) -> Result<()> {
        let reply: Value = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(&self.config.stream)
            .arg(&self.config.group)
            .query_async(conn)
            .await
            .map_err(redis_err)?;
        let Value::Array(consumers) = reply else {
            return Ok(());
        };
        let limit =
            i64::try_from(self.config.forget_idle_consumers.as_millis()).unwrap_or(i64::MAX);
        for c in &consumers {
            let name = as_string(info_field(c, "name"));
            let pending = as_i64(info_field(c, "pending"));
            let idle = as_i64(info_field(c, "idle"));
            if name.is_empty() || name == self.config.consumer || pending > 0 || idle < limit {
                continue;
            }
            redis::cmd("XGROUP")
                .arg("DELCONSUMER")
                .arg(&self.config.stream)
                .arg(&self.config.group)
                .arg(&name)
                .query_async::<Value>(conn)
                .await
                .map_err(redis_err)?;
            tracing::info!(group = %self.config.group, consumer = %name, "forgot an idle consumer");
        }
        Ok(())
    }

    /// Handles a batch. `retry` marks entries delivered before, whose delivery counts decide
    /// whether they are tried again or dead-lettered.
    async fn process(
        &mut self,
        conn: &mut deadpool_redis::Connection,
        entries: Vec<RawEntry>,
        retry: bool,
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let counts = if retry {
            self.delivery_counts(conn, &entries).await?
        } else {
            HashMap::new()
        };
        let errors = if retry {
            self.recorded_errors(conn, &entries).await?
        } else {
            HashMap::new()
        };
        let mut ack = Vec::new();
        let mut events = Vec::new();
        for raw in entries {
            let Some(fields) = &raw.fields else {
                // Trimmed from the stream before anyone handled it: nothing left to apply.
                ack.push(raw.id);
                continue;
            };
            let deliveries = counts.get(&raw.id).copied().unwrap_or(1);
            let error = errors.get(&raw.id);
            let limit = self.config.max_deliveries;
            if (deliveries > limit && error.is_some())
                || deliveries > limit * UNEXPLAINED_DELIVERY_FACTOR
            {
                let why = error.cloned().unwrap_or_else(|| {
                    format!("delivered {deliveries} times without being acknowledged")
                });
                self.dead_letters
                    .bury(
                        &self.config.stream,
                        &self.config.group,
                        &raw,
                        &why,
                        deliveries - 1,
                        &self.errors_key,
                    )
                    .await?;
                self.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
                tracing::error!(group = %self.config.group, entry = %raw.id, error = %why, "event dead-lettered");
                continue;
            }
            match envelope_of(fields) {
                Ok(envelope) => events.push(Event {
                    stream: self.config.stream.clone(),
                    entry_id: raw.id.clone(),
                    envelope,
                }),
                Err(e) => {
                    self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                    self.record_error(conn, &raw.id, &e).await?;
                }
            }
        }
        self.ack(conn, &ack).await?;
        if events.is_empty() {
            return Ok(());
        }
        match self.apply(conn, &events).await? {
            Applied::Done => {
                let ids: Vec<String> = events.iter().map(|e| e.entry_id.clone()).collect();
                self.ack(conn, &ids).await
            }
            Applied::Stopped => Ok(()),
            Applied::Permanent(e) if events.len() == 1 => {
                self.record_error(conn, &events[0].entry_id, &e).await
            }
            // Find the culprits one by one, so one bad event does not hold up the batch.
            Applied::Permanent(_) => {
                for event in &events {
                    match self.apply(conn, std::slice::from_ref(event)).await? {
                        Applied::Done => {
                            self.ack(conn, std::slice::from_ref(&event.entry_id))
                                .await?
                        }
                        Applied::Permanent(e) => {
                            self.record_error(conn, &event.entry_id, &e).await?
                        }
                        Applied::Stopped => return Ok(()),
                    }
                }
                Ok(())
            }
        }
    }

    /// Runs the handler; transient failures are retried here with backoff until they pass or
    /// the consumer is stopped.
    async fn apply(
        &mut self,
        conn: &mut deadpool_redis::Connection,
        events: &[Event],
    ) -> Result<Applied> {
        let mut backoff = Backoff::new(Duration::from_millis(50), self.config.max_backoff);
        let mut last_touch = Instant::now();
        loop {
            // A consumer span (OpenTelemetry messaging conventions): the child of the first
            // event's producer span, linked to the others'.
            let span = tracing::info_span!(
                "consume",
                otel.name = format!("process {}", self.config.stream),
                otel.kind = "consumer",
                messaging.system = "redis",
                messaging.operation.type = "process",
                messaging.destination.name = %self.config.stream,
                messaging.consumer.group.name = %self.config.group,
                messaging.batch.message_count = events.len(),
                group = %self.config.group,
                stream = %self.config.stream,
                events = events.len()
            );
            talentmesh_mesh::telemetry::continue_events(
                &span,
                events.iter().map(|e| {
                    (
                        e.envelope.traceparent.as_str(),
                        e.envelope.tracestate.as_str(),
                    )
                }),
            );
            let outcome = AssertUnwindSafe(self.handler.handle(events).instrument(span))
                .catch_unwind()
                .await;
            match outcome {
                Ok(Ok(())) => {
                    self.metrics
                        .delivered
                        .fetch_add(events.len() as u64, Ordering::Relaxed);
                    self.metrics.record_lag(events);
                    return Ok(Applied::Done);
                }
                Ok(Err(HandlerError::Transient(e))) => {
                    self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(group = %self.config.group, error = %e, "handler failed; retrying");
                    if !self.pause(backoff.next_delay()).await {
                        return Ok(Applied::Stopped);
                    }
                    // Keep the entries ours while we wait: otherwise another instance claims
                    // them and every claim counts as a delivery towards the dead letters.
                    if last_touch.elapsed() >= self.config.claim_idle / 2 {
                        self.touch(conn, events).await?;
                        last_touch = Instant::now();
                    }
                }
                Ok(Err(HandlerError::Permanent(e))) => {
                    self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(group = %self.config.group, error = %e, "handler rejected events");
                    return Ok(Applied::Permanent(e));
                }
                Err(_) => {
                    self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                    return Ok(Applied::Permanent("handler panicked".into()));
                }
            }
        }
    }

    /// Resets the idle time of pending entries without counting a delivery (XCLAIM … JUSTID).
    async fn touch(&self, conn: &mut deadpool_redis::Connection, events: &[Event]) -> Result<()> {
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&self.config.stream)
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg(0);
        for e in events {
            cmd.arg(&e.entry_id);
        }
        cmd.arg("JUSTID");
        cmd.query_async::<Value>(conn).await.map_err(redis_err)?;
        Ok(())
    }

    async fn ack(&self, conn: &mut deadpool_redis::Connection, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("XACK")
            .arg(&self.config.stream)
            .arg(&self.config.group)
            .arg(ids)
            .ignore()
            .cmd("HDEL")
            .arg(&self.errors_key)
            .arg(ids)
            .ignore();
        pipe.query_async::<()>(conn).await.map_err(redis_err)
    }

    async fn record_error(
        &self,
        conn: &mut deadpool_redis::Connection,
        id: &str,
        error: &str,
    ) -> Result<()> {
        redis::cmd("HSET")
            .arg(&self.errors_key)
            .arg(id)
            .arg(error)
            .query_async::<()>(conn)
            .await
            .map_err(redis_err)
    }

    async fn recorded_errors(
        &self,
        conn: &mut deadpool_redis::Connection,
        entries: &[RawEntry],
    ) -> Result<HashMap<String, String>> {
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let found: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&self.errors_key)
            .arg(&ids)
            .query_async(conn)
            .await
            .map_err(redis_err)?;
        Ok(ids
            .into_iter()
            .zip(found)
            .filter_map(|(id, e)| e.map(|e| (id.to_string(), e)))
            .collect())
    }

    /// Delivery counts of `entries` (now pending with this consumer).
    async fn delivery_counts(
        &self,
        conn: &mut deadpool_redis::Connection,
        entries: &[RawEntry],
    ) -> Result<HashMap<String, u64>> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(HashMap::new());
        };
        let v: Value = redis::cmd("XPENDING")
            .arg(&self.config.stream)
            .arg(&self.config.group)
            .arg(&first.id)
            .arg(&last.id)
            .arg(entries.len().max(self.config.batch))
            .arg(&self.config.consumer)
            .query_async(conn)
            .await
            .map_err(redis_err)?;
        Ok(parse_pending_counts(&v))
    }

    fn should_stop(&self) -> bool {
        *self.stopped.borrow() || self.stopped.has_changed().is_err()
    }

    async fn pause(&mut self, wait: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(wait) => !self.should_stop(),
            _ = self.stopped.changed() => false,
        }
    }
}
