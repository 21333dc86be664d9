//! The bound on password hashing. Every Register and Login runs argon2id, which holds about
//! 19 MiB for its run (the OWASP parameters of `domain::password`); unbounded, 64 concurrent
//! registrations took identity from 170 MiB to a 3.7 GiB peak. Each hash therefore takes a
//! permit of a semaphore sized from a memory budget before it may start, waits for one at most
//! the queue deadline (and only while fewer than [`QUEUE_PER_PERMIT`] callers per permit wait),
//! and is refused with [`Error::Busy`] (RESOURCE_EXHAUSTED with a RetryInfo) beyond that.
//!
//! The permit travels into the blocking task and is released when the hash ends, not when the
//! request does: a client that hangs up mid-hash cannot free a permit while its hash still runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// The memory one argon2 run holds, in MiB (argon2's default `m_cost`, 19 MiB, rounded up).
pub const HASH_MEMORY_MIB: u64 = (argon2::Params::DEFAULT_M_COST as u64).div_ceil(1024);

/// How many callers may wait per permit; past that a caller is refused at once, so a flood
/// cannot pile up waiting requests either.
pub const QUEUE_PER_PERMIT: usize = 16;

/// How much hashing may run at once and how long a caller waits for its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Hashes running at once (at least 1).
    pub concurrency: usize,
    /// The longest a caller waits for a permit before [`Error::Busy`].
    pub queue_deadline: Duration,
}

impl HashLimits {
    /// The concurrency a memory budget allows: `budget_mib / HASH_MEMORY_MIB`, at least 1.
    /// 256 MiB gives 13 hashes at once.
    pub fn concurrency_for_budget(budget_mib: u64) -> usize {
        usize::try_from(budget_mib / HASH_MEMORY_MIB)
            .unwrap_or(usize::MAX)
            .max(1)
    }
}

/// The metrics of the gate, registered in the service's registry (prefix `talentmesh_`).
#[derive(Clone, Default)]
struct HashMetrics {
    in_flight: Gauge,
    in_flight_max: Gauge,
    refused: Counter,
}

/// The semaphore every password hash (register, login, bootstrap) passes.
pub struct HashGate {
    limits: HashLimits,
    permits: Arc<Semaphore>,
    /// Callers waiting for a permit now; bounded by `QUEUE_PER_PERMIT * concurrency`.
    waiting: AtomicUsize,
    metrics: HashMetrics,
}

/// Lowers the in-flight gauge when a hash ends, even by a panic.
struct Running<'a>(&'a Gauge);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl HashGate {
    /// A gate with `limits` (a concurrency of 0 is taken as 1).
    pub fn new(limits: HashLimits) -> Arc<HashGate> {
        let limits = HashLimits {
            concurrency: limits.concurrency.max(1),
            ..limits
        };
        Arc::new(HashGate {
            limits,
            permits: Arc::new(Semaphore::new(limits.concurrency)),
            waiting: AtomicUsize::new(0),
            metrics: HashMetrics::default(),
        })
    }

    /// Adds the gate's metrics: `identity_password_hashes_in_flight` (hashes running now),
    /// `identity_password_hashes_in_flight_max` (the most that ever ran at once since start,
    /// never above the bound) and `identity_password_hashes_refused` (callers refused).
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "identity_password_hashes_in_flight",
            "argon2 password hashes running now",
            self.metrics.in_flight.clone(),
        );
        registry.register(
            "identity_password_hashes_in_flight_max",
            "the most argon2 password hashes that ran at once since start",
            self.metrics.in_flight_max.clone(),
        );
        registry.register(
            "identity_password_hashes_refused",
            "password hashes refused because every permit stayed taken past the queue deadline",
            self.metrics.refused.clone(),
        );
    }

    /// Runs `work` (an argon2 hash or verification) on a blocking thread once a permit is free.
    /// [`Error::Busy`] when the queue is full or no permit frees up within the deadline.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self.wait_for_permit().await?,
        };
        let metrics = self.metrics.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = metrics.in_flight.inc() + 1;
            let _running = Running(&metrics.in_flight);
            metrics
                .in_flight_max
                .inner()
                .fetch_max(now, Ordering::Relaxed);
            work()
        })
        .await
        .map_err(|e| Error::Internal(format!("password hashing task failed: {e}")))
    }

    async fn wait_for_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let cap = self.limits.concurrency.saturating_mul(QUEUE_PER_PERMIT);
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let waited = if queued >= cap {
            None
        } else {
            tokio::time::timeout(
                self.limits.queue_deadline,
                self.permits.clone().acquire_owned(),
            )
            .await
            .ok()
            .and_then(|p| p.ok())
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        waited.ok_or_else(|| {
            self.metrics.refused.inc();
            Error::Busy(self.limits.queue_deadline.max(Duration::from_secs(1)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_allows_a_dozen_hashes() {
        assert_eq!(HASH_MEMORY_MIB, 19);
        assert_eq!(HashLimits::concurrency_for_budget(256), 13);
        assert_eq!(HashLimits::concurrency_for_budget(1), 1);
    }

    #[tokio::test]
    async fn waiters_past_the_deadline_are_refused_and_counted() {
        let gate = HashGate::new(HashLimits {
            concurrency: 1,
            queue_deadline: Duration::from_millis(20),
        });
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(move || hold.recv().is_ok()).await })
        };
        // The holder takes the only permit; poll until it runs.
        let started = poll_until(|| gate.metrics.in_flight.get() == 1).await;
        assert!(started, "the first hash runs");
        let refused = gate.run(|| ()).await;
        assert!(matches!(refused, Err(Error::Busy(_))), "{refused:?}");
        assert_eq!(gate.metrics.refused.get(), 1);
        release.send(()).ok();
        assert!(matches!(holder.await, Ok(Ok(true))));
        assert_eq!(gate.metrics.in_flight.get(), 0);
        assert_eq!(gate.metrics.in_flight_max.get(), 1);
    }

    /// Polls `check` every 5 ms for up to 5 s.
    async fn poll_until(check: impl Fn() -> bool) -> bool {
        for _ in 0..1000 {
            if check() {
                return true;
            }
            // The pause of a bounded poll (5 s in all), not a wait for a condition.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }
}
