//! One probe per store, each bounded by a short timeout so a hung store reads as down.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreHealth {
    Up,
    Down,
    NotUsed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreReport {
    pub mysql: StoreHealth,
    pub postgres: StoreHealth,
    pub neo4j: StoreHealth,
    pub redis: StoreHealth,
}

impl StoreReport {
    /// True when no store the service needs is down.
    pub fn ready(&self) -> bool {
        [self.mysql, self.postgres, self.neo4j, self.redis]
            .iter()
            .all(|h| *h != StoreHealth::Down)
    }
}

pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

pub(crate) async fn probe<F, E>(fut: F) -> StoreHealth
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    match tokio::time::timeout(PROBE_TIMEOUT, fut).await {
        Ok(Ok(())) => StoreHealth::Up,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "store probe failed");
            StoreHealth::Down
        }
        Err(_) => StoreHealth::Down,
    }
}
