//! The audit log: permission changes and verification transitions are written in the same
//! transaction as the change they record; members' denied checks, which happen on the hot
//! path, go through a bounded queue that a background task writes in batches.
//!
//! Nothing is dropped silently. A full queue pushes back: the denied check waits for room (up
//! to [`QueueLimits::wait`]); a batch the store refuses is retried with backoff (up to
//! [`QueueLimits::attempts`]). What is lost beyond those bounds is counted in
//! `talentmesh_company_audit_entries_lost_total{reason}` (`queue_full`, `store_error`,
//! `writer_stopped`, each at 0 from the start so the first loss is an increase) and logged as
//! an error (throttled; the counter has every one), so an alert can fire on
//! `increase(...) > 0`. Non-members' denials never reach a company's log (anyone
//! may ask about any company): they are counted in
//! `talentmesh_company_outsider_denials_total` and logged, throttled, under the `security`
//! target.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use sqlx::{MySqlConnection, MySqlPool};
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::retry::Backoff;
use talentmesh_storage::time::datetime;
use tokio::sync::mpsc;

use crate::domain::AuditEntry;
use crate::error::Result;

/// Denials per INSERT, at most.
const BATCH: usize = 500;
/// At most one log line per this, for each kind of throttled line.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The bounds of the denial queue and its writer.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Denials waiting to be written, at most.
    pub capacity: usize,
    /// How long a denied check waits for room in a full queue before its entry is counted
    /// lost (wall-clock).
    pub wait: Duration,
    /// Tries to write one batch before its entries are counted lost (at least 1).
    pub attempts: u32,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            capacity: 10_000,
            wait: Duration::from_secs(1),
            attempts: 5,
        }
    }
}

/// Why audit entries were lost: the `reason` label of
/// `talentmesh_company_audit_entries_lost_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum LossReason {
    /// The queue stayed full for [`QueueLimits::wait`].
    QueueFull,
    /// The store refused a batch [`QueueLimits::attempts`] times.
    StoreError,
    /// The background writer has ended (the service is stopping).
    WriterStopped,
}

impl LossReason {
    /// Every reason, each made at 0 when the log starts: `increase()` sees the first loss only
    /// in a series that existed before it.
    const ALL: [LossReason; 3] = [
        LossReason::QueueFull,
        LossReason::StoreError,
        LossReason::WriterStopped,
    ];

    fn as_str(self) -> &'static str {
        match self {
            LossReason::QueueFull => "queue_full",
            LossReason::StoreError => "store_error",
            LossReason::WriterStopped => "writer_stopped",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LossLabels {
    reason: &'static str,
}

/// One log line per [`LOG_EVERY`]; the lines in between are only counted.
#[derive(Default)]
struct Throttle {
    last: Mutex<Option<Instant>>,
    skipped: AtomicU64,
}

impl Throttle {
    /// `Some(lines skipped since the last one)` when a line may be logged now.
    fn allow(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(Instant::now());
        Some(self.skipped.swap(0, Ordering::Relaxed))
    }
}

/// The audit log's counters (registered in the service's metrics) and throttled logs.
struct Signals {
    lost: Family<LossLabels, Counter>,
    lost_total: AtomicU64,
    outsiders: Counter,
    lost_log: Throttle,
    outsider_log: Throttle,
}

impl Signals {
    fn new(metrics: &Metrics) -> Signals {
        let lost = Family::<LossLabels, Counter>::default();
        for reason in LossReason::ALL {
            lost.get_or_create_owned(&LossLabels {
                reason: reason.as_str(),
            });
        }
        let outsiders = Counter::default();
        let mut registry = metrics.registry();
        registry.register(
            "company_audit_entries_lost",
            "Audit entries (denied checks) that could not be written, by reason",
            lost.clone(),
        );
        registry.register(
            "company_outsider_denials",
            "Permission checks denied to non-members (kept out of the companies' audit logs)",
            outsiders.clone(),
        );
        Signals {
            lost,
            lost_total: AtomicU64::new(0),
            outsiders,
            lost_log: Throttle::default(),
            outsider_log: Throttle::default(),
        }
    }

    fn lose(&self, reason: LossReason, entries: u64) {
        let reason = reason.as_str();
        self.lost
            .get_or_create(&LossLabels { reason })
            .inc_by(entries);
        let total = self.lost_total.fetch_add(entries, Ordering::Relaxed) + entries;
        if let Some(skipped) = self.lost_log.allow() {
            tracing::error!(
                reason,
                entries,
                total,
                skipped_lines = skipped,
                "audit entries lost (talentmesh_company_audit_entries_lost_total counts them all)"
            );
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct AuditRow {
    id: i64,
    company_id: String,
    action: String,
    actor: String,
    target: String,
    detail: String,
    created_at: DateTime<Utc>,
}

/// An action to record: `actor` (a user id) did `action` to `target` (a resource name) of
/// `company`; `detail` is a JSON object.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub company: &'a str,
    pub action: &'a str,
    pub actor: &'a str,
    pub target: &'a str,
    pub detail: serde_json::Value,
}

struct Denial {
    company: String,
    user: String,
    permission: String,
    at: DateTime<Utc>,
}

/// The audit log: records in transactions, queued denials, and the reader.
#[derive(Clone)]
pub struct AuditLog {
    pool: MySqlPool,
    denials: mpsc::Sender<Denial>,
    /// How long [`AuditLog::denied`] waits for room.
    wait: Duration,
    signals: Arc<Signals>,
}

impl AuditLog {
    /// Starts the background writer of denials with the default [`QueueLimits`], its counters
    /// registered in `metrics`.
    pub fn spawn(pool: MySqlPool, metrics: &Metrics) -> AuditLog {
        AuditLog::spawn_with(pool, metrics, QueueLimits::default())
    }

    /// Starts the background writer of denials within `limits`.
    pub fn spawn_with(pool: MySqlPool, metrics: &Metrics, limits: QueueLimits) -> AuditLog {
        let (tx, rx) = mpsc::channel(limits.capacity.max(1));
        let signals = Arc::new(Signals::new(metrics));
        tokio::spawn(write_denials(
            pool.clone(),
            rx,
            limits.attempts.max(1),
            signals.clone(),
        ));
        AuditLog {
            pool,
            denials: tx,
            wait: limits.wait,
            signals,
        }
    }

    /// Records an action inside the caller's transaction.
    pub async fn record(conn: &mut MySqlConnection, r: Record<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO company_audit (company_id, action, actor, target, detail, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(r.company)
        .bind(r.action)
        .bind(r.actor)
        .bind(r.target)
        .bind(r.detail.to_string())
        .bind(datetime(Utc::now()))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Queues a member's denied check for the company's log, waiting for room when the queue
    /// is full (backpressure on the denied caller); counted lost after [`QueueLimits::wait`].
    pub async fn denied(&self, company: &str, user: &str, permission: &str) {
        let denial = Denial {
            company: company.to_string(),
            user: user.to_string(),
            permission: permission.to_string(),
            at: Utc::now(),
        };
        match tokio::time::timeout(self.wait, self.denials.send(denial)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => self.signals.lose(LossReason::WriterStopped, 1),
            Err(_) => self.signals.lose(LossReason::QueueFull, 1),
        }
    }

    /// A non-member's denied check: counted and logged (throttled) as a security signal,
    /// never written to the company's log.
    pub fn outsider_denied(&self, company: &str, user: &str, permission: &str) {
        self.signals.outsiders.inc();
        if let Some(skipped) = self.signals.outsider_log.allow() {
            tracing::info!(
                target: "security",
                company,
                user,
                permission,
                skipped_lines = skipped,
                "permission check denied to a non-member"
            );
        }
    }

    /// Denials lost so far, whatever the reason (the sum of the metric's series).
    pub fn lost(&self) -> u64 {
        self.signals.lost_total.load(Ordering::Relaxed)
    }

    /// Non-members' denied checks so far.
    pub fn outsider_denials(&self) -> u64 {
        self.signals.outsiders.get()
    }

    /// Newest first, ids below `before` (0: from the newest), actions starting with `prefix`.
    pub async fn list(
        &self,
        company: &str,
        prefix: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT id, company_id, action, actor, target, detail, created_at FROM company_audit \
             WHERE company_id = ",
        );
        q.push_bind(company.to_string());
        if before > 0 {
            q.push(" AND id < ").push_bind(before);
        }
        if !prefix.is_empty() {
            q.push(" AND action LIKE ").push_bind(format!(
                "{}%",
                prefix
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            ));
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows: Vec<AuditRow> = q.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                company_id: r.company_id,
                action: r.action,
                actor: r.actor,
                target: r.target,
                detail: r.detail,
                created_at: r.created_at,
            })
            .collect())
    }
}

async fn write_denials(
    pool: MySqlPool,
    mut rx: mpsc::Receiver<Denial>,
    attempts: u32,
    signals: Arc<Signals>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // While a batch is retried the queue fills, and denied checks wait for room.
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 1..=attempts {
            match insert_denials(&pool, &batch).await {
                Ok(()) => break,
                Err(e) if attempt == attempts => {
                    tracing::error!(error = %e, attempts, "could not write denied checks to the audit log");
                    signals.lose(LossReason::StoreError, batch.len() as u64);
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "writing denied checks failed; retrying");
                    backoff.pause().await;
                }
            }
        }
        batch.clear();
    }
}

async fn insert_denials(pool: &MySqlPool, batch: &[Denial]) -> sqlx::Result<()> {
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO company_audit (company_id, action, actor, target, detail, created_at) ",
    );
    q.push_values(batch, |mut b, d| {
        b.push_bind(d.company.clone())
            .push_bind("permission.denied")
            .push_bind(d.user.clone())
            .push_bind(format!("companies/{}", d.company))
            .push_bind(serde_json::json!({ "permission": d.permission }).to_string())
            .push_bind(datetime(d.at));
    });
    q.build().execute(pool).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use sqlx::mysql::MySqlPoolOptions;

    use super::*;

    #[tokio::test]
    async fn entries_the_store_cannot_take_are_counted_and_never_dropped_silently() {
        // Nothing listens on the discard port: every write fails.
        let pool = MySqlPoolOptions::new()
            .acquire_timeout(Duration::from_millis(200))
            .connect_lazy("mysql://nobody@127.0.0.1:9/none")
            .unwrap();
        let metrics = Metrics::new("company");
        let log = AuditLog::spawn_with(
            pool,
            &metrics,
            QueueLimits {
                capacity: 1,
                wait: Duration::from_millis(50),
                attempts: 2,
            },
        );
        // The writer holds the first entry while it retries (at least 100 ms between tries),
        // and the second fills the queue of one: the third waits its 50 ms and is lost.
        for _ in 0..5 {
            log.denied("c1", "u1", "job.write").await;
        }
        let all_counted =
            talentmesh_testkit::eventually(Duration::from_secs(20), || async { log.lost() == 5 })
                .await;
        assert!(all_counted, "lost {} of 5", log.lost());
        let text = metrics.encode();
        for reason in ["queue_full", "store_error"] {
            let series = format!(
                "talentmesh_company_audit_entries_lost_total{{service=\"company\",reason=\"{reason}\"}}"
            );
            // Made at 0 at start: the series must have counted, not merely exist.
            let counted = text
                .lines()
                .find_map(|l| l.strip_prefix(&series))
                .and_then(|v| v.trim().parse::<u64>().ok());
            assert!(
                counted.is_some_and(|n| n > 0),
                "{series} counted nothing in:\n{text}"
            );
        }
    }

    #[tokio::test]
    async fn every_loss_reason_shows_at_zero_before_any_loss() {
        let pool = MySqlPoolOptions::new()
            .connect_lazy("mysql://nobody@127.0.0.1:9/none")
            .unwrap();
        let metrics = Metrics::new("company");
        let log = AuditLog::spawn(pool, &metrics);
        let text = metrics.encode();
        let mut lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("talentmesh_company_audit_entries_lost_total{"))
            .collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            [
                "talentmesh_company_audit_entries_lost_total{service=\"company\",reason=\"queue_full\"} 0",
                "talentmesh_company_audit_entries_lost_total{service=\"company\",reason=\"store_error\"} 0",
                "talentmesh_company_audit_entries_lost_total{service=\"company\",reason=\"writer_stopped\"} 0",
            ],
            "{text}"
        );
        assert_eq!(log.lost(), 0);
    }

    #[test]
    fn throttled_lines_are_counted_until_the_next_one() {
        let throttle = Throttle::default();
        assert_eq!(throttle.allow(), Some(0));
        assert_eq!(throttle.allow(), None);
        assert_eq!(throttle.allow(), None);
        assert_eq!(throttle.skipped.load(Ordering::Relaxed), 2);
    }
}
