//! Every query of the job service, and the projections' definitions:
//!
//! - [`jobs`] — the `jobs` table (rows, writes with their events, the checker's source).
//! - [`applications`] — `applications`, `application_moves`, `interviews`.
//! - [`search`] — the public search index in PostgreSQL and the search queries.
//! - [`graph`] — the jobs and applications graphs in Neo4j.
//! - [`cache`] — the read cache of jobs in Redis.
//! - [`hot`] — the in-memory layer in front of the cache.
//!
//! Rows never leave this module: reads return domain types.

pub mod applications;
pub mod cache;
pub mod graph;
pub mod hot;
pub mod jobs;
pub mod search;

use chrono::{DateTime, SubsecRound, Utc};

pub use applications::ApplicationStore;
pub use cache::JobCache;
pub use hot::HotJobs;
pub use jobs::{load, JobRow, JobStore};
pub use search::SearchIndex;

/// Now, to the microsecond MySQL keeps (so what is written reads back equal).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
