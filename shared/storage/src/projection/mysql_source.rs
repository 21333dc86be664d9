//! The MySQL [`Source`] every service's entity type needs for the consistency checker, written
//! once: pages of ids in id order, the current state of a set of ids, and a count. A service
//! gives the table and how to load the changes of some ids ([`LoadChanges`]); for the common
//! case of one row per entity, [`RowLoader`] loads `SELECT <columns> FROM <table> WHERE id IN
//! (...)` and maps each row with a function.

use std::marker::PhantomData;
use std::sync::Arc;

use sqlx::mysql::MySqlRow;
use sqlx::MySqlPool;

use super::{Change, Source};
use crate::config::is_identifier;
use crate::{Error, Result};

/// Loads the changes of `ids` (absent ids left out, any order).
#[tonic::async_trait]
pub trait LoadChanges: Send + Sync + 'static {
    async fn load(&self, pool: &MySqlPool, ids: &[String]) -> Result<Vec<Change>>;
}

/// One row per entity: `SELECT <columns> FROM <table> WHERE id IN (...)`, each row mapped by
/// `map` (`Err` for a row that cannot be read, reported by the checker).
pub struct RowLoader<R> {
    select: String,
    map: fn(R) -> Result<Change>,
    _row: PhantomData<fn() -> R>,
}

impl<R> RowLoader<R> {
    /// `columns` is spliced into SQL: a constant of the service, never input.
    pub fn new(table: &str, columns: &str, map: fn(R) -> Result<Change>) -> RowLoader<R> {
        RowLoader {
            select: format!("SELECT {columns} FROM {table} WHERE id IN ("),
            map,
            _row: PhantomData,
        }
    }
}

#[tonic::async_trait]
impl<R> LoadChanges for RowLoader<R>
where
    R: for<'r> sqlx::FromRow<'r, MySqlRow> + Send + Unpin + 'static,
{
    async fn load(&self, pool: &MySqlPool, ids: &[String]) -> Result<Vec<Change>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::new(self.select.as_str());
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<R> = q
            .build_query_as()
            .fetch_all(pool)
            .await
            .map_err(Error::MySql)?;
        rows.into_iter().map(self.map).collect()
    }
}

/// The checker's view of one MySQL table whose primary key is a string column `id`.
pub struct MySqlSource {
    entity_type: &'static str,
    table: &'static str,
    pool: MySqlPool,
    loader: Arc<dyn LoadChanges>,
}

impl MySqlSource {
    /// `entity_type` matches the projections' (`Change`s of this source feed them); `table`
    /// must be a plain identifier (it is spliced into SQL).
    ///
    /// # Errors
    /// [`Error::InvalidUpdate`] when `table` is not a plain identifier.
    pub fn new(
        entity_type: &'static str,
        table: &'static str,
        pool: MySqlPool,
        loader: impl LoadChanges,
    ) -> Result<MySqlSource> {
        if !is_identifier(table) {
            return Err(Error::InvalidUpdate(format!("bad table name {table}")));
        }
        Ok(MySqlSource {
            entity_type,
            table,
            pool,
            loader: Arc::new(loader),
        })
    }
}

#[tonic::async_trait]
impl Source for MySqlSource {
    fn entity_type(&self) -> &str {
        self.entity_type
    }

    async fn page(&self, after: Option<&str>, limit: usize) -> Result<Vec<Change>> {
        let ids: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM {} WHERE id > ? ORDER BY id LIMIT ?",
            self.table
        ))
        .bind(after.unwrap_or(""))
        .bind(u64::try_from(limit).unwrap_or(500))
        .fetch_all(&self.pool)
        .await
        .map_err(Error::MySql)?;
        let mut changes = self.loader.load(&self.pool, &ids).await?;
        changes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(changes)
    }

    async fn load(&self, ids: &[String]) -> Result<Vec<Change>> {
        self.loader.load(&self.pool, ids).await
    }

    async fn count(&self) -> Result<i64> {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", self.table))
            .fetch_one(&self.pool)
            .await
            .map_err(Error::MySql)
    }
}
