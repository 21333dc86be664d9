//! The store pools' connections as metrics, sampled at scrape time (nothing runs between
//! scrapes): `talentmesh_store_pool_connections{store,state="idle|in_use"}` and
//! `talentmesh_store_pool_max_connections{store}` for each store a service uses (`mysql`,
//! `postgres`, `redis`, `neo4j`). A pool whose connections are all in use for long is a pool
//! too small or a store too slow; the alerts compare the two series.
//!
//! neo4rs (0.8) keeps its pool to itself, so Neo4j reports only its configured maximum.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::Stores;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    store: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: &'static str,
}

/// One pool's connections: open and idle now, and the most it opens. `None` where the pool
/// does not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSample {
    pub store: &'static str,
    pub open: Option<u64>,
    pub idle: Option<u64>,
    pub max: u64,
}

/// Samples the pools of a service's [`Stores`] on every scrape. Register it in the service's
/// metrics registry: `metrics.registry().register_collector(Box::new(StorePoolMetrics::new(..)))`.
pub struct StorePoolMetrics {
    stores: Stores,
    /// The maximum the stores were configured with (`StorageConfig::max_connections`), for
    /// pools that do not report theirs; unknown for stores connected elsewhere.
    configured_max: Option<u32>,
}

impl std::fmt::Debug for StorePoolMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorePoolMetrics")
            .field("configured_max", &self.configured_max)
            .finish_non_exhaustive()
    }
}

impl StorePoolMetrics {
    /// Metrics over the pools of `stores`, connected with at most `configured_max`
    /// connections each when known (Neo4j's pool reports nothing without it).
    pub fn new(stores: Stores, configured_max: Option<u32>) -> StorePoolMetrics {
        StorePoolMetrics {
            stores,
            configured_max,
        }
    }

    /// The pools now, one sample per store the service uses.
    pub fn sample(&self) -> Vec<PoolSample> {
        let mut samples = Vec::new();
        if let Some(pool) = &self.stores.mysql {
            samples.push(PoolSample {
                store: "mysql",
                open: Some(u64::from(pool.size())),
                idle: Some(pool.num_idle() as u64),
                max: u64::from(pool.options().get_max_connections()),
            });
        }
        if let Some(pool) = &self.stores.postgres {
            samples.push(PoolSample {
                store: "postgres",
                open: Some(u64::from(pool.size())),
                idle: Some(pool.num_idle() as u64),
                max: u64::from(pool.options().get_max_connections()),
            });
        }
        if let Some(pool) = &self.stores.redis {
            let (open, idle, max) = pool.pool_status();
            samples.push(PoolSample {
                store: "redis",
                open: Some(open as u64),
                idle: Some(idle as u64),
                max: max as u64,
            });
        }
        if let (Some(_), Some(max)) = (&self.stores.neo4j, self.configured_max) {
            samples.push(PoolSample {
                store: "neo4j",
                open: None,
                idle: None,
                max: u64::from(max),
            });
        }
        samples
    }
}

impl Collector for StorePoolMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let samples = self.sample();
        {
            let mut family = encoder.encode_descriptor(
                "store_pool_connections",
                "Connections of a store pool, by state (idle, in_use)",
                None,
                MetricType::Gauge,
            )?;
            for sample in &samples {
                let (Some(open), Some(idle)) = (sample.open, sample.idle) else {
                    continue;
                };
                // The two reads are not atomic together: idle can pass open by a connection.
                let idle = idle.min(open);
                for (state, value) in [("idle", idle), ("in_use", open - idle)] {
                    let labels = ConnectionLabels {
                        store: sample.store,
                        state,
                    };
                    ConstGauge::new(value as i64).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "store_pool_max_connections",
            "The most connections a store pool opens",
            None,
            MetricType::Gauge,
        )?;
        for sample in &samples {
            let labels = StoreLabels {
                store: sample.store,
            };
            ConstGauge::new(sample.max as i64).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
