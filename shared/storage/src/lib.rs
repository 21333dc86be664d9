//! The one entry point to the four stores, and the data-sync framework built on them.
//!
//! A service builds [`Stores`] from its [`StorageConfig`]: its own MySQL database and PostgreSQL
//! schema (created if missing, migrations embedded in the service and applied at start), a Neo4j
//! graph with the service's namespace, and a Redis pool with the service's key prefix.
//! [`Stores::health`] probes each store the service needs; the service kit turns that into
//! grpc.health.v1 status.
//!
//! Module map, in the order an entity change travels:
//! - [`config`]: where the stores are, the service's namespaces ([`config::namespace`]
//!   validates one), which stores it needs.
//! - [`stores`]: the pools, migrations and start-up patience; [`health`]: the probes;
//!   [`pool_metrics`]: the pools' connections as metrics, sampled at scrape time.
//! - [`outbox`]: an entity change and its event in one MySQL transaction (`VersionedUpdate`
//!   refuses stale versions), the relay that publishes outbox rows to the service's Redis
//!   Stream in order, retention.
//! - [`bus`]: consumer groups over the streams: redelivery, claiming, backoff, dead letters.
//! - [`projection`]: derived views in PostgreSQL, Neo4j and Redis (`PgDocuments`, `Neo4jNodes`,
//!   `RedisHashes`) written idempotently by version, and the MySQL side they are checked
//!   against (`Source`, `MySqlSource`).
//! - [`sync`]: `SyncSetup` / `SyncRuntime` wire the relay, consumers, projections and the
//!   consistency checker (missing, stale, orphaned; repair, rebuild) and serve the admin
//!   contract.
//! - [`paging`]: keyset page tokens shared by the services' list RPCs.
//! - [`time`]: instants bound to MySQL as `DATETIME` (never TIMESTAMP, which ends in 2038).

pub mod bus;
pub mod config;
pub mod health;
pub mod idempotency;
pub mod outbox;
pub mod paging;
pub mod pool_metrics;
pub mod projection;
pub mod stores;
pub mod sync;
pub mod time;

pub use config::{Needs, StorageConfig};
pub use health::{StoreHealth, StoreReport};
pub use stores::{Migrations, RedisPool, Stores};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("mysql: {0}")]
    MySql(#[source] sqlx::Error),
    #[error("postgres: {0}")]
    Postgres(#[source] sqlx::Error),
    #[error("migrations ({store}): {source}")]
    Migrate {
        store: &'static str,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("neo4j: {0}")]
    Neo4j(#[from] neo4rs::Error),
    #[error("redis: {0}")]
    Redis(String),
    #[error("{0} is not configured for this service")]
    NotConfigured(&'static str),
    /// A versioned update found the row at another version; nothing was written.
    #[error(transparent)]
    Conflict(#[from] outbox::Conflict),
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("invalid update: {0}")]
    InvalidUpdate(String),
    /// A store acknowledged a write that reading back does not show; worth retrying.
    #[error("unconfirmed write: {0}")]
    Unconfirmed(String),
    /// A server a projection needs besides its store (e.g. an embeddings model server) is down
    /// or not answering; worth retrying, never a poison event.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A store that is down or unreachable, as opposed to a request it refused: worth retrying
    /// the same thing later.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::MySql(s) | Error::Postgres(s) => {
                matches!(
                    s,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                        | sqlx::Error::Tls(_)
                ) || is_transient_db_error(s)
            }
            Error::Redis(_) | Error::Neo4j(_) | Error::Unconfirmed(_) | Error::Unavailable(_) => {
                true
            }
            _ => false,
        }
    }
}

/// Server-side errors that mean "not now" rather than "never": shutting down, too many
/// connections, deadlocks and lock waits, read-only during recovery.
fn is_transient_db_error(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    matches!(
        code.as_str(),
        // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections,
        // deadlock; both: serialization failure / deadlock (MariaDB reports 40001 for it).
        "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
    )
}

impl From<Error> for talentmesh_mesh::ApiError {
    fn from(e: Error) -> Self {
        if let Error::Conflict(conflict) = &e {
            // The caller read a version someone else has since replaced: re-read and retry.
            return talentmesh_mesh::ApiError::new(
                talentmesh_mesh::ErrorCode::Aborted,
                "the resource was changed concurrently; read it again and retry",
            )
            .with_reason("STALE_VERSION")
            .with_metadata("expected_version", conflict.expected.to_string());
        }
        // Connection failures are worth a retry; anything else is a bug to look into.
        if e.is_transient() {
            tracing::warn!(error = %e, "store unavailable");
            talentmesh_mesh::ApiError::unavailable("a store is unavailable; retry shortly")
        } else {
            talentmesh_mesh::ApiError::internal(&e)
        }
    }
}
