//! The audit log: permission changes and verification transitions are written in the same
//! transaction as the change they record; denied checks, which happen on the hot path, go
//! through a bounded queue that a background task writes in batches (under overload the queue
//! drops the excess and counts it, rather than slowing every check).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{MySqlConnection, MySqlPool};
use talentmesh_mesh::ApiError;
use tokio::sync::mpsc;

use crate::state::db;

/// Denials waiting to be written, at most.
const QUEUE: usize = 10_000;
/// Denials per INSERT, at most.
const BATCH: usize = 500;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub company_id: String,
    pub action: String,
    pub actor: String,
    pub target: String,
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

struct Denial {
    company: String,
    user: String,
    permission: String,
    at: DateTime<Utc>,
}

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
    pub async fn record(
        conn: &mut MySqlConnection,
        company: &str,
        action: &str,
        actor: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "INSERT INTO company_audit (company_id, action, actor, target, detail, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(company)
        .bind(action)
        .bind(actor)
        .bind(target)
        .bind(detail.to_string())
        .bind(Utc::now())
        .execute(conn)
        .await
        .map_err(db)?;
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
    ) -> Result<Vec<AuditRow>, ApiError> {
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
        q.build_query_as().fetch_all(&self.pool).await.map_err(db)
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
                .push_bind(d.at);
        });
        // A store outage loses these entries (they are a record of refusals, not of anything a
        // caller was told succeeded); the writer carries on with the next batch.
        if let Err(e) = q.build().execute(&pool).await {
            tracing::warn!(error = %e, "could not write denied checks to the audit log");
        }
    }
}
