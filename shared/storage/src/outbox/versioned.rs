//! Optimistic concurrency for entity rows. Every entity table has a `version BIGINT` column; a
//! read-modify-write at REPEATABLE READ silently loses the other writer's change, so every update
//! goes through [`VersionedUpdate`], which only matches the row at the version the caller read
//! and bumps it in the same statement. No match is a [`Conflict`] (ABORTED on the wire): the
//! caller re-reads and retries, or gives up.

use std::fmt::Display;

use sqlx::{Encode, MySql, QueryBuilder, Transaction, Type};

use crate::config::is_identifier;
use crate::{Error, Result};

/// The row was not at the expected version (or no longer exists); nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table} {id} is not at version {expected} (found {})", actual.map_or_else(|| "no row".to_string(), |v| v.to_string()))]
pub struct Conflict {
    pub table: &'static str,
    pub id: String,
    pub expected: i64,
    /// The version now stored, or `None` when the row is gone.
    pub actual: Option<i64>,
}

/// `UPDATE <table> SET <columns>, version = version + 1 WHERE id = ? AND version = ?`, built
/// with bound values. The only way a service should update an entity row.
///
/// Bumping `version` in the statement also guarantees MySQL reports the matched row as changed
/// even when every other value is unchanged, so "0 rows affected" always means "no match".
pub struct VersionedUpdate<'a> {
    table: &'static str,
    query: QueryBuilder<'a, MySql>,
    /// The first bad column name, reported by `execute` so the builder chain stays simple.
    problem: Option<String>,
}

impl<'a> VersionedUpdate<'a> {
    /// `table` must be a plain identifier (it is spliced into the SQL).
    pub fn new(table: &'static str) -> VersionedUpdate<'a> {
        let problem = (!is_identifier(table)).then(|| format!("bad table name {table}"));
        let mut query = QueryBuilder::new("UPDATE `");
        query.push(table).push("` SET ");
        VersionedUpdate {
            table,
            query,
            problem,
        }
    }

    /// Sets `column` to `value`. `id` and `version` are managed here and may not be set.
    pub fn set<T>(mut self, column: &'static str, value: T) -> VersionedUpdate<'a>
    where
        T: 'a + Encode<'a, MySql> + Type<MySql>,
    {
        if !is_identifier(column) || column == "id" || column == "version" {
            self.problem
                .get_or_insert_with(|| format!("column {column} may not be set"));
            return self;
        }
        self.query
            .push("`")
            .push(column)
            .push("` = ")
            .push_bind(value)
            .push(", ");
        self
    }

    /// Runs the update inside `tx` and returns the new version, or [`Error::Conflict`] when the
    /// row is not at `expected_version`.
    pub async fn execute<I>(
        mut self,
        tx: &mut Transaction<'_, MySql>,
        id: I,
        expected_version: i64,
    ) -> Result<i64>
    where
        I: 'a + for<'q> Encode<'q, MySql> + Type<MySql> + Clone + Display + Send,
    {
        if let Some(problem) = self.problem {
            return Err(Error::InvalidUpdate(problem));
        }
        self.query
            .push("`version` = `version` + 1 WHERE `id` = ")
            .push_bind(id.clone())
            .push(" AND `version` = ")
            .push_bind(expected_version);
        let done = self
            .query
            .build()
            .execute(&mut **tx)
            .await
            .map_err(Error::MySql)?;
        if done.rows_affected() == 1 {
            return Ok(expected_version + 1);
        }
        let actual: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT `version` FROM `{}` WHERE `id` = ?",
            self.table
        ))
        .bind(id.clone())
        .fetch_optional(&mut **tx)
        .await
        .map_err(Error::MySql)?;
        Err(Error::Conflict(Conflict {
            table: self.table,
            id: id.to_string(),
            expected: expected_version,
            actual,
        }))
    }
}
