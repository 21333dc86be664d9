//! The sync framework's Prometheus series, on the service's metrics registry: events
//! published, delivered, failed and dead-lettered; lag per stream and group in entries and
//! seconds; drift found and repaired; the sync success rate. Counters are fed from the relay's
//! and consumers' atomics by a sampler, which also measures lag from Redis.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct GroupLabels {
    pub stream: String,
    pub group: String,
}

/// The `kind` label values of `sync_drift_found_total`: an entity the projection lacks, holds
/// at an older version, or holds though the source has no such entity.
pub(crate) const DRIFT_KINDS: [&str; 3] = ["missing", "stale", "orphaned"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DriftLabels {
    pub projection: String,
    pub store: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ProjectionLabels {
    pub projection: String,
    pub store: String,
}

pub(crate) struct SyncMetrics {
    pub published: Counter,
    pub delivered: Family<GroupLabels, Counter>,
    pub failed: Family<GroupLabels, Counter>,
    pub dead_lettered: Family<GroupLabels, Counter>,
    pub lag_entries: Family<GroupLabels, Gauge>,
    pub lag_seconds: Family<GroupLabels, Gauge<f64, AtomicU64>>,
    pub pending: Family<GroupLabels, Gauge>,
    pub dead_letters: Gauge,
    pub unpublished: Gauge,
    pub drift_found: Family<DriftLabels, Counter>,
    pub drift_repaired: Family<ProjectionLabels, Counter>,
    pub success_ratio: Gauge<f64, AtomicU64>,
    /// Totals for status replies.
    pub drift_found_total: AtomicU64,
    pub drift_repaired_total: AtomicU64,
}

impl SyncMetrics {
    pub(crate) fn register(metrics: &talentmesh_mesh::metrics::Metrics) -> Arc<SyncMetrics> {
        let m = Arc::new(SyncMetrics {
            published: Counter::default(),
            delivered: Family::default(),
            failed: Family::default(),
            dead_lettered: Family::default(),
            lag_entries: Family::default(),
            lag_seconds: Family::default(),
            pending: Family::default(),
            dead_letters: Gauge::default(),
            unpublished: Gauge::default(),
            drift_found: Family::default(),
            drift_repaired: Family::default(),
            success_ratio: Gauge::default(),
            drift_found_total: AtomicU64::new(0),
            drift_repaired_total: AtomicU64::new(0),
        });
        let mut r = metrics.registry();
        r.register(
            "sync_events_published",
            "Outbox rows put on the stream by this instance's relay",
            m.published.clone(),
        );
        r.register(
            "sync_events_delivered",
            "Events applied and acknowledged, per consumer group",
            m.delivered.clone(),
        );
        r.register(
            "sync_events_failed",
            "Handler failures (every try counts), per consumer group",
            m.failed.clone(),
        );
        r.register(
            "sync_events_dead_lettered",
            "Events moved to the dead-letter stream, per consumer group",
            m.dead_lettered.clone(),
        );
        r.register(
            "sync_lag_entries",
            "Entries not yet delivered to a consumer group",
            m.lag_entries.clone(),
        );
        r.register(
            "sync_lag_seconds",
            "Age of the oldest entry a consumer group has not finished",
            m.lag_seconds.clone(),
        );
        r.register(
            "sync_pending_entries",
            "Entries delivered to a group and not acknowledged",
            m.pending.clone(),
        );
        r.register(
            "sync_dead_letters",
            "Entries in the service's dead-letter stream",
            m.dead_letters.clone(),
        );
        r.register(
            "sync_outbox_unpublished",
            "Committed outbox rows not yet on the stream",
            m.unpublished.clone(),
        );
        r.register(
            "sync_drift_found",
            "Drifted entities found by checks, per projection and kind",
            m.drift_found.clone(),
        );
        r.register(
            "sync_drift_repaired",
            "Entities re-projected or removed by repairs, per projection",
            m.drift_repaired.clone(),
        );
        r.register(
            "sync_success_ratio",
            "Delivered / (delivered + dead-lettered) since start",
            m.success_ratio.clone(),
        );
        m
    }

    /// Makes the drift series of `projection` (kept in `store`) at 0:
    /// `sync_drift_found_total{projection,store,kind}` for every [`DRIFT_KINDS`] and
    /// `sync_drift_repaired_total{projection,store}`. Call it for each projection when the
    /// runtime starts: `increase()` and `rate()` need a sample of a series before an increment
    /// to see it, so drift found by the first check would otherwise never alert. Idempotent.
    pub(crate) fn declare_projection(&self, projection: &str, store: &str) {
        for kind in DRIFT_KINDS {
            self.drift_found.get_or_create_owned(&DriftLabels {
                projection: projection.to_string(),
                store: store.to_string(),
                kind: kind.to_string(),
            });
        }
        self.drift_repaired.get_or_create_owned(&ProjectionLabels {
            projection: projection.to_string(),
            store: store.to_string(),
        });
    }

    /// Counts what one check of `projection` found and repaired. The projection's series exist
    /// from here on even when it found nothing ([`SyncMetrics::declare_projection`]).
    pub(crate) fn add_drift(
        &self,
        projection: &str,
        store: &str,
        missing: i64,
        stale: i64,
        orphaned: i64,
        repaired: i64,
    ) {
        self.declare_projection(projection, store);
        for (kind, n) in DRIFT_KINDS.into_iter().zip([missing, stale, orphaned]) {
            if n > 0 {
                self.drift_found
                    .get_or_create(&DriftLabels {
                        projection: projection.to_string(),
                        store: store.to_string(),
                        kind: kind.to_string(),
                    })
                    .inc_by(n.unsigned_abs());
                self.drift_found_total
                    .fetch_add(n.unsigned_abs(), Ordering::Relaxed);
            }
        }
        if repaired > 0 {
            self.drift_repaired
                .get_or_create(&ProjectionLabels {
                    projection: projection.to_string(),
                    store: store.to_string(),
                })
                .inc_by(repaired.unsigned_abs());
            self.drift_repaired_total
                .fetch_add(repaired.unsigned_abs(), Ordering::Relaxed);
        }
    }
}

/// Moves a counter up to `now` (monotonic sources only ever grow).
pub(crate) fn catch_up(counter: &Counter, now: u64) {
    let seen = counter.get();
    if now > seen {
        counter.inc_by(now - seen);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use talentmesh_mesh::metrics::Metrics;

    use super::*;

    /// The `talentmesh_sync_drift_*` lines of `metrics`, sorted.
    fn drift_lines(metrics: &Metrics) -> Vec<String> {
        let mut lines: Vec<String> = metrics
            .encode()
            .lines()
            .filter(|l| l.starts_with("talentmesh_sync_drift_"))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    }

    #[test]
    fn a_declared_projection_shows_its_drift_series_at_zero() {
        let metrics = Metrics::new("job");
        let sync = SyncMetrics::register(&metrics);
        assert!(
            drift_lines(&metrics).is_empty(),
            "nothing before a projection is known"
        );
        sync.declare_projection("job_search", "postgres");
        let prefix = "talentmesh_sync_drift_found_total{service=\"job\",projection=\"job_search\",store=\"postgres\"";
        assert_eq!(
            drift_lines(&metrics),
            [
                format!("{prefix},kind=\"missing\"}} 0"),
                format!("{prefix},kind=\"orphaned\"}} 0"),
                format!("{prefix},kind=\"stale\"}} 0"),
                "talentmesh_sync_drift_repaired_total{service=\"job\",projection=\"job_search\",store=\"postgres\"} 0".to_string(),
            ]
        );
    }

    #[test]
    fn drift_counts_in_the_declared_series_and_a_clean_check_makes_them_too() {
        let metrics = Metrics::new("job");
        let sync = SyncMetrics::register(&metrics);
        sync.declare_projection("job_search", "postgres");
        sync.add_drift("job_search", "postgres", 2, 0, 1, 3);
        // A projection not declared at start: its first (clean) check makes its series.
        sync.add_drift("job_graph", "neo4j", 0, 0, 0, 0);
        let lines = drift_lines(&metrics);
        let value = |projection: &str, kind: &str| -> Vec<String> {
            lines
                .iter()
                .filter(|l| {
                    l.contains(&format!("projection=\"{projection}\""))
                        && l.contains(&format!("kind=\"{kind}\""))
                })
                .map(|l| l.rsplit(' ').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(value("job_search", "missing"), ["2"], "{lines:#?}");
        assert_eq!(value("job_search", "stale"), ["0"], "{lines:#?}");
        assert_eq!(value("job_search", "orphaned"), ["1"], "{lines:#?}");
        for kind in DRIFT_KINDS {
            assert_eq!(value("job_graph", kind), ["0"], "{lines:#?}");
        }
        assert_eq!(sync.drift_found_total.load(Ordering::Relaxed), 3);
        assert_eq!(lines.len(), 8, "4 series per projection: {lines:#?}");
    }
}
