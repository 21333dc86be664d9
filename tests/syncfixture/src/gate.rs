//! A test hook on the checker's source: each `count` (the first thing a check, repair or
//! rebuild does for a projection) waits for a permit. A test hands out permits one projection
//! at a time, so it knows exactly where a running operation stands, with no sleeps: how the
//! cancellation tests stop an operation between two projections.

use std::sync::Arc;

use talentmesh_storage::projection::{Change, Source};
use talentmesh_storage::Result;
use tokio::sync::Semaphore;

/// Permits for the checker to start a projection; starts with none.
#[derive(Clone)]
pub struct CheckGate(Arc<Semaphore>);

impl Default for CheckGate {
    fn default() -> Self {
        CheckGate(Arc::new(Semaphore::new(0)))
    }
}

impl CheckGate {
    /// Lets `n` more projections start.
    pub fn allow(&self, n: usize) {
        self.0.add_permits(n);
    }

    /// Lets every projection start from now on.
    pub fn open(&self) {
        self.0.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

/// `source` behind `gate`.
pub struct GatedSource {
    pub source: Arc<dyn Source>,
    pub gate: CheckGate,
}

#[tonic::async_trait]
impl Source for GatedSource {
    fn entity_type(&self) -> &str {
        self.source.entity_type()
    }

    async fn page(&self, after: Option<&str>, limit: usize) -> Result<Vec<Change>> {
        self.source.page(after, limit).await
    }

    async fn load(&self, ids: &[String]) -> Result<Vec<Change>> {
        self.source.load(ids).await
    }

    async fn count(&self) -> Result<i64> {
        // The semaphore is never closed, so acquiring only fails if it were; then go on.
        if let Ok(permit) = self.gate.0.acquire().await {
            permit.forget();
        }
        self.source.count().await
    }
}
