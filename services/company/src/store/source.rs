//! The consistency checker's view of MySQL. A company's state spans three tables (the
//! company row, its offices, its declared relations), so the shared [`MySqlSource`] pages
//! through `companies` and [`CompanyChanges`] loads each page's whole states, encoded exactly
//! as the `CompanyChanged` events encode them.

use sqlx::MySqlPool;
use talentmesh_storage::projection::{Change, LoadChanges, MySqlSource};

use super::companies::load_many;
use crate::events::{self, ENTITY};

/// Loads companies' states as projection changes.
pub struct CompanyChanges;

#[tonic::async_trait]
impl LoadChanges for CompanyChanges {
    async fn load(
        &self,
        pool: &MySqlPool,
        ids: &[String],
    ) -> talentmesh_storage::Result<Vec<Change>> {
        let mut conn = pool
            .acquire()
            .await
            .map_err(talentmesh_storage::Error::MySql)?;
        Ok(load_many(&mut conn, ids)
            .await?
            .iter()
            .map(events::change)
            .collect())
    }
}

/// The checker's source of company states on `pool`.
///
/// # Errors
/// Never in practice (the table name is a constant identifier).
pub fn source(pool: MySqlPool) -> talentmesh_storage::Result<MySqlSource> {
    MySqlSource::new(ENTITY, "companies", pool, CompanyChanges)
}
