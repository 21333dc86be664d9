//! The `company_relations` table: relations companies declared, with disputes.

use chrono::{DateTime, Utc};
use sqlx::MySqlPool;
use talentmesh_storage::time::datetime;

use super::{is_duplicate, Tx};
use crate::domain::{Relation, RelationKind};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct RelationRow {
    id: String,
    pub(super) source_id: String,
    target_id: String,
    kind: i8,
    disputed: bool,
    dispute_reason: String,
    created_at: DateTime<Utc>,
}

pub(super) const RELATION_COLUMNS: &str =
    "id, source_id, target_id, kind, disputed, dispute_reason, created_at";

impl RelationRow {
    pub(super) fn into_relation(self) -> talentmesh_storage::Result<Relation> {
        let kind = RelationKind::from_code(i32::from(self.kind)).ok_or_else(|| {
            talentmesh_storage::Error::InvalidEvent(format!(
                "relation {}: unknown kind {}",
                self.id, self.kind
            ))
        })?;
        Ok(Relation {
            id: self.id,
            source_id: self.source_id,
            target_id: self.target_id,
            kind,
            disputed: self.disputed,
            dispute_reason: self.dispute_reason,
            created_at: self.created_at,
        })
    }
}

/// Declared relations.
#[derive(Clone)]
pub struct RelationStore {
    pool: MySqlPool,
}

impl RelationStore {
    /// Queries on `pool`.
    pub fn new(pool: MySqlPool) -> RelationStore {
        RelationStore { pool }
    }

    /// How many relations the company declared.
    pub async fn count(&self, tx: &mut Tx, source: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM company_relations WHERE source_id = ?")
                .bind(source)
                .fetch_one(&mut **tx)
                .await?,
        )
    }

    /// Inserts a relation declared by user `by`; `Ok(false)` when the same (source, target,
    /// kind) is already declared.
    pub async fn insert(&self, tx: &mut Tx, r: &Relation, by: &str) -> Result<bool> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO company_relations ({RELATION_COLUMNS}, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&r.id)
        .bind(&r.source_id)
        .bind(&r.target_id)
        .bind(i8::try_from(r.kind.code()).unwrap_or(0))
        .bind(r.disputed)
        .bind(&r.dispute_reason)
        .bind(datetime(r.created_at))
        .bind(by)
        .execute(&mut **tx)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The relations company `id` declared or received (at most 1000), oldest first.
    pub async fn involving(&self, id: &str) -> Result<Vec<Relation>> {
        let rows: Vec<RelationRow> = sqlx::query_as(&format!(
            "SELECT {RELATION_COLUMNS} FROM company_relations WHERE source_id = ? OR target_id = ? \
             ORDER BY created_at, id LIMIT 1000"
        ))
        .bind(id)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(RelationRow::into_relation)
            .collect::<talentmesh_storage::Result<_>>()?)
    }

    /// Relation `id` declared by `source`.
    pub async fn get(&self, source: &str, id: &str) -> Result<Option<Relation>> {
        let row: Option<RelationRow> = sqlx::query_as(&format!(
            "SELECT {RELATION_COLUMNS} FROM company_relations WHERE id = ? AND source_id = ?"
        ))
        .bind(id)
        .bind(source)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(RelationRow::into_relation).transpose()?)
    }

    /// Withdraws relation `id` of `source`; false when there was none.
    pub async fn delete(&self, tx: &mut Tx, source: &str, id: &str) -> Result<bool> {
        let gone = sqlx::query("DELETE FROM company_relations WHERE id = ? AND source_id = ?")
            .bind(id)
            .bind(source)
            .execute(&mut **tx)
            .await?;
        Ok(gone.rows_affected() > 0)
    }

    /// Marks relation `id` of `source` disputed with `reason`; false when there was none.
    pub async fn dispute(&self, tx: &mut Tx, source: &str, id: &str, reason: &str) -> Result<bool> {
        let changed = sqlx::query(
            "UPDATE company_relations SET disputed = TRUE, dispute_reason = ? WHERE id = ? AND source_id = ?",
        )
        .bind(reason)
        .bind(id)
        .bind(source)
        .execute(&mut **tx)
        .await?;
        Ok(changed.rows_affected() > 0)
    }
}
