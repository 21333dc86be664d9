//! The consistency checker's view of MySQL: a resume spans two tables (the `resumes` row and the
//! content of its current version in `resume_versions`), so its [`LoadChanges`] reads both; the
//! paging and counting are the shared [`MySqlSource`]'s.

use sqlx::MySqlPool;
use talentmesh_storage::projection::{Change, LoadChanges, MySqlSource};
use talentmesh_storage::Error as StoreError;

use super::{content_in, ResumeRow, COLUMNS, ENTITY};
use crate::events;

/// Loads the current state of resumes: a tombstone for a deleted one, else the content of its
/// current version (a resume whose version row is missing is left out).
struct CurrentVersions;

#[tonic::async_trait]
impl LoadChanges for CurrentVersions {
    async fn load(
        &self,
        pool: &MySqlPool,
        ids: &[String],
    ) -> talentmesh_storage::Result<Vec<Change>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM resumes WHERE id IN ("));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<ResumeRow> = q
            .build_query_as()
            .fetch_all(pool)
            .await
            .map_err(StoreError::MySql)?;
        let mut conn = pool.acquire().await.map_err(StoreError::MySql)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if r.deleted {
                out.push(events::change(&r.id, r.version, None));
                continue;
            }
            let content = content_in(&mut conn, &r.id, r.version)
                .await
                .map_err(StoreError::MySql)?;
            if let Some(bytes) = content {
                // Checked here so a corrupt version is reported by the checker.
                super::decode(&bytes).map_err(|e| StoreError::InvalidEvent(e.to_string()))?;
                out.push(events::change(&r.id, r.version, Some(bytes)));
            }
        }
        Ok(out)
    }
}

/// The checker's source of resumes over `pool`.
pub fn source(pool: MySqlPool) -> talentmesh_storage::Result<MySqlSource> {
    MySqlSource::new(ENTITY, "resumes", pool, CurrentVersions)
}
