//! The one retry policy of the mesh: exponential backoff with jitter, from the `backon` crate.
//! Loops that wait for something to come back (Consul, a store at start-up, a peer) take their
//! pauses from [`Backoff`] instead of doubling a `Duration` by hand, and one-shot operations
//! that may be retried use [`retry_for`].
//!
//! Jitter matters here: every instance of a service restarts together after a store comes
//! back, and without it they would all knock at the same instant.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};

/// Pauses that double from `min` up to `max`, without end. Each pause is its base plus up to
/// the base again of jitter, and never over `max`. Call [`Backoff::reset`] after a success so
/// the next failure starts again from `min`.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    current: backon::ExponentialBackoff,
    max: Duration,
}

impl Backoff {
    /// Pauses from `min` to `max` (both wall-clock durations).
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let builder = ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max)
            .with_jitter()
            .without_max_times();
        Backoff {
            current: builder.build(),
            builder,
            max,
        }
    }

    /// The next pause.
    pub fn next_delay(&mut self) -> Duration {
        // Without a limit on times the iterator never ends; `max` is the safe answer if it did.
        // Jitter can take a pause past `max`; the cap is the caller's promise, so keep it.
        self.current.next().unwrap_or(self.max).min(self.max)
    }

    /// Sleeps for the next pause.
    pub async fn pause(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }

    /// Starts again from the shortest pause.
    pub fn reset(&mut self) {
        self.current = self.builder.build();
    }
}

/// Runs `op` until it succeeds or `patience` (wall-clock, from the first try) has passed,
/// pausing between tries as [`Backoff`] does from `min` to `max`; each failure is logged with
/// `what`. Returns the last error when patience runs out.
pub async fn retry_for<T, E, F, Fut>(
    what: &str,
    patience: Duration,
    min: Duration,
    max: Duration,
    op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let started = tokio::time::Instant::now();
    op.retry(
        ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max)
            .with_jitter()
            .without_max_times(),
    )
    .when(|_| started.elapsed() < patience)
    .notify(|e, after| {
        tracing::warn!(what, error = %e, retry_in_ms = after.as_millis() as u64, "not reachable yet; retrying");
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_cap_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let pauses: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        // With jitter a pause is between the base and twice the base, and never over the cap.
        assert!(pauses[0] >= Duration::from_millis(100), "{pauses:?}");
        assert!(
            pauses.iter().all(|p| *p <= Duration::from_millis(800)),
            "{pauses:?}"
        );
        assert_eq!(pauses[7], Duration::from_millis(800), "{pauses:?}");
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(200));
    }

    #[tokio::test]
    async fn retry_for_returns_the_first_success() {
        let mut tries = 0;
        let out: Result<u32, String> = retry_for(
            "test",
            Duration::from_secs(5),
            Duration::from_millis(1),
            Duration::from_millis(2),
            || {
                tries += 1;
                let now = tries;
                async move {
                    if now < 3 {
                        Err(format!("try {now}"))
                    } else {
                        Ok(now)
                    }
                }
            },
        )
        .await;
        assert_eq!(out, Ok(3));
    }

    #[tokio::test]
    async fn retry_for_gives_up_after_its_patience() {
        let out: Result<(), &str> = retry_for(
            "test",
            Duration::from_millis(20),
            Duration::from_millis(5),
            Duration::from_millis(5),
            || async { Err("down") },
        )
        .await;
        assert_eq!(out, Err("down"));
    }
}
