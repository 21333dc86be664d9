//! A projection into a PostgreSQL table of JSONB documents. The table's fixed columns are the
//! framework's (id, version, deleted, content_hash, doc, projected_at); the service adds what it
//! queries by as generated columns and indexes in `extra_ddl` (a tsvector for search, a
//! vector, a salary range…), so the write path stays generic and fast.

use std::sync::Arc;

use sqlx::PgPool;

use super::{Change, Installed, Projection, Stamp, StoreKind};
use crate::config::is_identifier;
use crate::{Error, Result};

/// Builds the document stored for a live entity.
pub type DocOf =
    Arc<dyn Fn(&Change) -> std::result::Result<serde_json::Value, String> + Send + Sync>;

pub struct PgDocuments {
    name: String,
    entity_type: String,
    table: String,
    pool: PgPool,
    doc_of: DocOf,
    extra_ddl: Vec<String>,
}

impl PgDocuments {
    /// `table` must be a plain identifier; it lives in the service's schema.
    pub fn new(
        name: &str,
        entity_type: &str,
        table: &str,
        pool: PgPool,
        doc_of: DocOf,
    ) -> Result<PgDocuments> {
        if !is_identifier(table) {
            return Err(Error::InvalidUpdate(format!("bad table name {table}")));
        }
        Ok(PgDocuments {
            name: name.to_string(),
            entity_type: entity_type.to_string(),
            table: table.to_string(),
            pool,
            doc_of,
            extra_ddl: Vec::new(),
        })
    }

    /// Statements run after the table exists (idempotent: `ADD COLUMN IF NOT EXISTS`, `CREATE
    /// INDEX IF NOT EXISTS`). A statement may mark live rows for re-projection by setting their
    /// `content_hash` to `''` (e.g. rows stored in an older form of the document): install then
    /// reports [`Installed::NeedsRepair`] and the sync runtime repairs them right after start.
    pub fn with_ddl(mut self, ddl: impl Into<String>) -> PgDocuments {
        self.extra_ddl.push(ddl.into());
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn pg(e: sqlx::Error) -> Error {
    Error::Postgres(e)
}

#[tonic::async_trait]
impl Projection for PgDocuments {
    fn name(&self) -> &str {
        &self.name
    }

    fn store(&self) -> StoreKind {
        StoreKind::Postgres
    }

    fn entity_type(&self) -> &str {
        &self.entity_type
    }

    async fn install(&self) -> Result<Installed> {
        let t = &self.table;
        // Concurrent instances may install at once; CREATE … IF NOT EXISTS can still race on
        // the catalog, so the statements run under a transaction-scoped advisory lock.
        let mut tx = self.pool.begin().await.map_err(pg)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("projection:{t}"))
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (
                id TEXT PRIMARY KEY,
                version BIGINT NOT NULL,
                deleted BOOLEAN NOT NULL DEFAULT false,
                content_hash TEXT NOT NULL,
                doc JSONB,
                projected_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )"
        ))
        .execute(&mut *tx)
        .await
        .map_err(pg)?;
        for ddl in &self.extra_ddl {
            sqlx::query(ddl).execute(&mut *tx).await.map_err(pg)?;
        }
        // A live row's hash is never '' when written by `apply` (only tombstones hash to ''), so
        // one is a row marked for re-projection: by the statements above, or by an earlier
        // start whose repair did not finish.
        let marked: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM {t} WHERE NOT deleted AND content_hash = '')"
        ))
        .fetch_one(&mut *tx)
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(if marked {
            Installed::NeedsRepair
        } else {
            Installed::Current
        })
    }

    async fn apply(&self, changes: &[Change]) -> Result<()> {
        let mut ids = Vec::with_capacity(changes.len());
        let mut versions = Vec::with_capacity(changes.len());
        let mut deleted = Vec::with_capacity(changes.len());
        let mut hashes = Vec::with_capacity(changes.len());
        let mut docs: Vec<Option<String>> = Vec::with_capacity(changes.len());
        for c in changes {
            ids.push(c.id.clone());
            versions.push(c.version);
            deleted.push(c.deleted);
            hashes.push(c.content_hash());
            docs.push(if c.deleted {
                None
            } else {
                let doc = (self.doc_of)(c).map_err(Error::InvalidEvent)?;
                Some(super::storable_json(doc).to_string())
            });
        }
        let t = &self.table;
        // One statement per batch; the WHERE keeps a newer row (or the same version with the
        // same content) untouched, so duplicates and late deliveries change nothing.
        sqlx::query(&format!(
            "INSERT INTO {t} AS cur (id, version, deleted, content_hash, doc)
             SELECT id, version, deleted, content_hash, doc::jsonb
             FROM UNNEST($1::text[], $2::bigint[], $3::bool[], $4::text[], $5::text[])
                  AS n(id, version, deleted, content_hash, doc)
             ON CONFLICT (id) DO UPDATE SET
                version = EXCLUDED.version, deleted = EXCLUDED.deleted,
                content_hash = EXCLUDED.content_hash, doc = EXCLUDED.doc, projected_at = now()
             WHERE cur.version < EXCLUDED.version
                OR (cur.version = EXCLUDED.version AND cur.content_hash <> EXCLUDED.content_hash)"
        ))
        .bind(&ids)
        .bind(&versions)
        .bind(&deleted)
        .bind(&hashes)
        .bind(&docs)
        .execute(&self.pool)
        .await
        .map_err(pg)?;
        Ok(())
    }

    async fn stamps(&self, ids: &[String]) -> Result<Vec<Stamp>> {
        table_stamps(&self.pool, &self.table, ids).await
    }

    async fn live_ids(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>)> {
        table_live_ids(&self.pool, &self.table, after, limit).await
    }

    async fn remove(&self, ids: &[String]) -> Result<()> {
        sqlx::query(&format!("DELETE FROM {} WHERE id = ANY($1)", self.table))
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(pg)?;
        Ok(())
    }
}

/// The stamps of `ids` in a projection table with the framework's columns (`id`, `version`,
/// `deleted`, `content_hash`): [`Projection::stamps`] for any PostgreSQL projection. `table`
/// is a plain identifier of the service (spliced into SQL).
pub async fn table_stamps(pool: &PgPool, table: &str, ids: &[String]) -> Result<Vec<Stamp>> {
    let rows: Vec<(String, i64, bool, String)> = sqlx::query_as(&format!(
        "SELECT id, version, deleted, content_hash FROM {table} WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(pg)?;
    Ok(rows
        .into_iter()
        .map(|(id, version, deleted, hash)| Stamp {
            id,
            version,
            deleted,
            hash,
        })
        .collect())
}

/// Live ids of a projection table after `after`, in id order, and the next cursor:
/// [`Projection::live_ids`] for any PostgreSQL projection.
pub async fn table_live_ids(
    pool: &PgPool,
    table: &str,
    after: Option<String>,
    limit: usize,
) -> Result<(Vec<String>, Option<String>)> {
    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {table} WHERE NOT deleted AND ($1::text IS NULL OR id > $1)
         ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(pg)?;
    let next = (ids.len() >= limit).then(|| ids.last().cloned()).flatten();
    Ok((ids, next))
}
