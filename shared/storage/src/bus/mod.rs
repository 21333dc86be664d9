//! The event bus: consumer groups on the services' Redis Streams.
//!
//! Each consuming purpose (a projection, a reaction in another service) is one consumer group;
//! every instance of the service runs one consumer in each of its groups, so the group's entries
//! are shared out between instances. A consumer:
//! - first re-reads its own pending entries (delivered before a restart, never acknowledged);
//! - claims entries other consumers left pending too long (`XAUTOCLAIM`), which is also how a
//!   failed entry is retried later;
//! - then reads new entries, hands them to its [`Handler`] in batches and acknowledges them.
//!
//! A handler must be idempotent: the relay may publish an event twice and a consumer killed
//! before its ack gets the entry again. A [`HandlerError::Transient`] error (a store is down) is
//! retried in place with backoff, without end, so an outage never turns into dead letters; a
//! [`HandlerError::Permanent`] error leaves the entry pending, so it is delivered again after the
//! claim delay; after `max_deliveries` it goes to the dead-letter stream with its error and is
//! acknowledged, and the group moves on.

mod consumer;
mod dead_letters;
pub(crate) mod entries;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use talentmesh_proto::events::v1::Envelope;

pub use consumer::{Consumer, ConsumerHandle};
pub use dead_letters::{DeadLetter, DeadLetters, DEAD_LETTER_SUFFIX};

/// One event as a handler sees it.
#[derive(Debug, Clone)]
pub struct Event {
    pub stream: String,
    /// Stream entry id.
    pub entry_id: String,
    pub envelope: Envelope,
}

/// Why a handler could not apply a batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// A store or peer is unavailable; the same batch is tried again after a pause.
    #[error("transient: {0}")]
    Transient(String),
    /// The event itself cannot be applied (bad payload, a bug); retried on later deliveries,
    /// then dead-lettered.
    #[error("{0}")]
    Permanent(String),
}

impl From<crate::Error> for HandlerError {
    fn from(e: crate::Error) -> Self {
        if e.is_transient() {
            HandlerError::Transient(e.to_string())
        } else {
            HandlerError::Permanent(e.to_string())
        }
    }
}

/// What a consumer group does with its events.
#[tonic::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Applies `events` (in stream order). Must be idempotent.
    async fn handle(&self, events: &[Event]) -> Result<(), HandlerError>;
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Consumer group, one per purpose, e.g. "notes_search".
    pub group: String,
    /// Full key of the stream to read.
    pub stream: String,
    /// This consumer's name in the group; stable across restarts of the same instance, so a
    /// restarted consumer finds its own pending entries.
    pub consumer: String,
    /// Entries per read.
    pub batch: usize,
    /// How long a read waits for new entries.
    pub block: Duration,
    /// An entry pending this long is claimed (from a dead consumer, or retried after a failure).
    pub claim_idle: Duration,
    /// Deliveries after which a failing entry goes to the dead letters.
    pub max_deliveries: u64,
    /// Longest pause between tries of a transient failure.
    pub max_backoff: Duration,
    /// Other consumers of the group idle this long with nothing pending are removed from it
    /// (instances that are gone; a restarted instance under a new name leaves one behind).
    pub forget_idle_consumers: Duration,
}

impl ConsumerConfig {
    pub fn new(group: &str, stream: &str, consumer: &str) -> ConsumerConfig {
        ConsumerConfig {
            group: group.to_string(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            batch: 200,
            block: Duration::from_millis(500),
            claim_idle: Duration::from_secs(5),
            max_deliveries: 5,
            max_backoff: Duration::from_secs(5),
            forget_idle_consumers: Duration::from_secs(3600),
        }
    }
}

/// How many recent lag samples a consumer keeps.
const LAG_SAMPLES: usize = 65_536;

/// Counters of one consumer.
#[derive(Debug, Default)]
pub struct ConsumerMetrics {
    /// Seconds from an event's recording (inside its transaction) to its handler finishing,
    /// for the most recent events: what a projection's reader waits.
    lag: std::sync::Mutex<std::collections::VecDeque<f64>>,
    /// Events applied and acknowledged.
    pub delivered: AtomicU64,
    /// Handler failures (each try counts).
    pub failed: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Entries claimed from other consumers or retried.
    pub claimed: AtomicU64,
}

impl ConsumerMetrics {
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }
    pub fn claimed(&self) -> u64 {
        self.claimed.load(Ordering::Relaxed)
    }

    pub(crate) fn record_lag(&self, events: &[Event]) {
        let now = chrono::Utc::now();
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            if let Some(t) = &e.envelope.time {
                let at = t.seconds as f64 + f64::from(t.nanos) / 1e9;
                let now = now.timestamp() as f64 + f64::from(now.timestamp_subsec_nanos()) / 1e9;
                if lag.len() == LAG_SAMPLES {
                    lag.pop_front();
                }
                lag.push_back((now - at).max(0.0));
            }
        }
    }

    /// The recent lag samples, in seconds, and forgets them.
    pub fn take_lag_samples(&self) -> Vec<f64> {
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        lag.drain(..).collect()
    }
}
