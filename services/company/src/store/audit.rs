//! The audit log: permission changes and verification transitions are written in the same
//! transaction as the change they record; denied checks, which happen on the hot path, go
//! through a bounded queue that a background task writes in batches (under overload the queue
//! drops the excess and counts it, rather than slowing every check).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, MySqlPool};
use talentmesh_storage::time::datetime;
use tokio::sync::mpsc;

use crate::domain::AuditEntry;
use crate::error::Result;

/// Denials waiting to be written, at most.
const QUEUE: usize = 10_000;
/// Denials per INSERT, at most.
const BATCH: usize = 500;

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
    dropped: Arc<AtomicU64>,
}

impl AuditLog {
    /// Starts the background writer of denials.
    pub fn spawn(pool: MySqlPool) -> AuditLog {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_denials(pool.clone(), rx));
        AuditLog {
            pool,
            denials: tx,
            dropped: Arc::new(AtomicU64::new(0)),
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

    /// Queues a denied check for the log.
    pub fn denied(&self, company: &str, user: &str, permission: &str) {
        let denial = Denial {
            company: company.to_string(),
            user: user.to_string(),
            permission: permission.to_string(),
            at: Utc::now(),
        };
        if self.denials.try_send(denial).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Denials not logged because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
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

async fn write_denials(pool: MySqlPool, mut rx: mpsc::Receiver<Denial>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO company_audit (company_id, action, actor, target, detail, created_at) ",
        );
        q.push_values(batch.drain(..), |mut b, d| {
            b.push_bind(d.company.clone())
                .push_bind("permission.denied")
                .push_bind(d.user.clone())
                .push_bind(format!("companies/{}", d.company))
                .push_bind(serde_json::json!({ "permission": d.permission }).to_string())
                .push_bind(datetime(d.at));
        });
        // A store outage loses these entries (they are a record of refusals, not of anything a
        // caller was told succeeded); the writer carries on with the next batch.
        if let Err(e) = q.build().execute(&pool).await {
            tracing::warn!(error = %e, "could not write denied checks to the audit log");
        }
    }
}
