//! Building the store handles: namespaces created if missing, migrations applied, pools sized
//! from config. A store the service does not need is left out.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::config::{is_identifier, StorageConfig};
use crate::health::{probe, StoreHealth, StoreReport};
use crate::{Error, Result};

/// The migrations a service embeds with `sqlx::migrate!`.
#[derive(Default, Clone, Copy)]
pub struct Migrations {
    pub mysql: Option<&'static Migrator>,
    pub postgres: Option<&'static Migrator>,
}

impl Migrations {
    /// MySQL migrations only (the usual case: PostgreSQL holds projections that install
    /// themselves).
    pub fn mysql(migrator: &'static Migrator) -> Migrations {
        Migrations {
            mysql: Some(migrator),
            postgres: None,
        }
    }
}

/// A Redis pool that knows the service's key prefix.
#[derive(Clone)]
pub struct RedisPool {
    pool: deadpool_redis::Pool,
    prefix: String,
}

impl RedisPool {
    /// `suffix` under the service's prefix, e.g. `key("session:42")` → `identity:session:42`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.prefix, suffix)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The pool's connections now: `(open, idle, maximum)`, for the pool metrics.
    pub fn pool_status(&self) -> (usize, usize, usize) {
        let status = self.pool.status();
        (status.size, status.available, status.max_size)
    }

    pub async fn get(&self) -> Result<deadpool_redis::Connection> {
        self.pool
            .get()
            .await
            .map_err(|e| Error::Redis(e.to_string()))
    }
}

/// The handles of one service.
#[derive(Clone)]
pub struct Stores {
    pub mysql: Option<MySqlPool>,
    pub postgres: Option<PgPool>,
    pub neo4j: Option<neo4rs::Graph>,
    pub redis: Option<RedisPool>,
    /// The `ns` property of the service's Neo4j nodes.
    pub neo4j_namespace: String,
}

/// How long start-up waits for a store that is not answering yet.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);

impl Stores {
    pub async fn connect(config: &StorageConfig, migrations: Migrations) -> Result<Stores> {
        let needs = config.needs;
        let mysql = if needs.mysql {
            Some(connect_mysql(config, migrations.mysql).await?)
        } else {
            None
        };
        let postgres = if needs.postgres {
            Some(connect_postgres(config, migrations.postgres).await?)
        } else {
            None
        };
        let neo4j = if needs.neo4j {
            Some(connect_neo4j(config).await?)
        } else {
            None
        };
        let redis = if needs.redis {
            Some(connect_redis(config)?)
        } else {
            None
        };
        Ok(Stores {
            mysql,
            postgres,
            neo4j,
            redis,
            neo4j_namespace: config.neo4j_namespace.clone(),
        })
    }

    pub fn mysql(&self) -> Result<&MySqlPool> {
        self.mysql.as_ref().ok_or(Error::NotConfigured("mysql"))
    }

    pub fn postgres(&self) -> Result<&PgPool> {
        self.postgres
            .as_ref()
            .ok_or(Error::NotConfigured("postgres"))
    }

    pub fn neo4j(&self) -> Result<&neo4rs::Graph> {
        self.neo4j.as_ref().ok_or(Error::NotConfigured("neo4j"))
    }

    pub fn redis(&self) -> Result<&RedisPool> {
        self.redis.as_ref().ok_or(Error::NotConfigured("redis"))
    }

    /// Probes every store in parallel.
    pub async fn health(&self) -> StoreReport {
        let mysql = async {
            match &self.mysql {
                None => StoreHealth::NotUsed,
                Some(pool) => {
                    probe(async { sqlx::query("SELECT 1").execute(pool).await.map(|_| ()) }).await
                }
            }
        };
        let postgres = async {
            match &self.postgres {
                None => StoreHealth::NotUsed,
                Some(pool) => {
                    probe(async { sqlx::query("SELECT 1").execute(pool).await.map(|_| ()) }).await
                }
            }
        };
        let neo4j = async {
            match &self.neo4j {
                None => StoreHealth::NotUsed,
                Some(graph) => probe(async { graph.run(neo4rs::query("RETURN 1")).await }).await,
            }
        };
        let redis = async {
            match &self.redis {
                None => StoreHealth::NotUsed,
                Some(pool) => {
                    probe(async {
                        let mut conn = pool.get().await?;
                        let pong: String = redis::cmd("PING")
                            .query_async(&mut conn)
                            .await
                            .map_err(|e| Error::Redis(e.to_string()))?;
                        if pong == "PONG" {
                            Ok(())
                        } else {
                            Err(Error::Redis(format!("unexpected PING reply {pong}")))
                        }
                    })
                    .await
                }
            }
        };
        let (mysql, postgres, neo4j, redis) = tokio::join!(mysql, postgres, neo4j, redis);
        StoreReport {
            mysql,
            postgres,
            neo4j,
            redis,
        }
    }
}

/// Retries `connect` until it succeeds or start-up patience runs out (the mesh's one retry
/// policy, [`talentmesh_mesh::retry`]).
async fn patiently<T, E, F, Fut>(what: &str, connect: F) -> std::result::Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
    E: std::fmt::Display,
{
    talentmesh_mesh::retry::retry_for(
        what,
        CONNECT_PATIENCE,
        Duration::from_millis(100),
        Duration::from_secs(2),
        connect,
    )
    .await
}

async fn connect_mysql(config: &StorageConfig, migrator: Option<&Migrator>) -> Result<MySqlPool> {
    let db = &config.mysql_database;
    if !is_identifier(db) {
        return Err(Error::MySql(sqlx::Error::Configuration(
            format!("bad database name {db}").into(),
        )));
    }
    let server = MySqlConnectOptions::from_str(config.mysql_url.expose())
        .map_err(Error::MySql)?
        .charset("utf8mb4")
        .log_statements(tracing::log::LevelFilter::Trace);
    let mut conn = patiently("mysql", || server.connect())
        .await
        .map_err(Error::MySql)?;
    sqlx::query(&format!(
        "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .execute(&mut conn)
    .await
    .map_err(Error::MySql)?;
    conn.close().await.map_err(Error::MySql)?;
    let pool = MySqlPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(server.database(db))
        .await
        .map_err(Error::MySql)?;
    if let Some(m) = migrator {
        m.run(&pool).await.map_err(|source| Error::Migrate {
            store: "mysql",
            source,
        })?;
    }
    Ok(pool)
}

async fn connect_postgres(config: &StorageConfig, migrator: Option<&Migrator>) -> Result<PgPool> {
    let schema = &config.postgres_schema;
    if !is_identifier(schema) {
        return Err(Error::Postgres(sqlx::Error::Configuration(
            format!("bad schema name {schema}").into(),
        )));
    }
    let server = PgConnectOptions::from_str(config.postgres_url.expose())
        .map_err(Error::Postgres)?
        .log_statements(tracing::log::LevelFilter::Trace);
    let mut conn = patiently("postgres", || server.connect())
        .await
        .map_err(Error::Postgres)?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .execute(&mut conn)
        .await
        .map_err(Error::Postgres)?;
    conn.close().await.map_err(Error::Postgres)?;
    // The schema first on the search path: unqualified names in the service's SQL and its
    // migrations (including sqlx's own bookkeeping table) live in the service's schema.
    let options = server.options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .map_err(Error::Postgres)?;
    if let Some(m) = migrator {
        m.run(&pool).await.map_err(|source| Error::Migrate {
            store: "postgres",
            source,
        })?;
    }
    Ok(pool)
}

async fn connect_neo4j(config: &StorageConfig) -> Result<neo4rs::Graph> {
    let neo = neo4rs::ConfigBuilder::default()
        .uri(config.neo4j_uri.as_str())
        .user(config.neo4j_user.as_str())
        .password(config.neo4j_password.expose())
        .max_connections(config.max_connections as usize)
        .build()?;
    let graph = patiently("neo4j", || async {
        let graph = neo4rs::Graph::connect(neo.clone()).await?;
        graph.run(neo4rs::query("RETURN 1")).await?;
        Ok::<_, neo4rs::Error>(graph)
    })
    .await?;
    Ok(graph)
}

fn connect_redis(config: &StorageConfig) -> Result<RedisPool> {
    let mut cfg = deadpool_redis::Config::from_url(config.redis_url.expose());
    let mut pool_cfg = deadpool_redis::PoolConfig::new(config.max_connections as usize);
    // Bounded waits: a dead Redis must fail a request quickly, not hang it.
    pool_cfg.timeouts.wait = Some(Duration::from_secs(2));
    pool_cfg.timeouts.create = Some(Duration::from_secs(2));
    pool_cfg.timeouts.recycle = Some(Duration::from_secs(1));
    cfg.pool = Some(pool_cfg);
    let pool = cfg
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| Error::Redis(e.to_string()))?;
    Ok(RedisPool {
        pool,
        prefix: config.redis_prefix.clone(),
    })
}
