//! [`TestEnv`]: a test's own MySQL database, PostgreSQL schema, Redis key prefix and Neo4j
//! namespace on the real local servers, the `TALENTMESH_*` variables that point a service at
//! them, and the cleanup that drops all of it when the test ends.

use std::collections::HashMap;
use std::time::Duration;

use talentmesh_mesh::config::Env;

pub const MYSQL_URL: &str = "mysql://root@127.0.0.1:13306";
pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:15432/postgres";
pub const REDIS_URL: &str = "redis://127.0.0.1:16379";
pub const NEO4J_URI: &str = "127.0.0.1:17687";
pub const CONSUL_ADDR: &str = "http://127.0.0.1:18500";

pub struct TestEnv {
    /// Random lower-case token shared by every namespace of this test.
    pub id: String,
    pub mysql_database: String,
    pub postgres_schema: String,
    pub redis_prefix: String,
    /// Neo4j has one database in community edition; tests tag their nodes with this value.
    pub neo4j_namespace: String,
    vars: HashMap<String, String>,
}

impl TestEnv {
    pub fn new(service: &str) -> TestEnv {
        talentmesh_mesh::telemetry::init_for_tests();
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let mysql_database = format!("t_{service}_{id}");
        let postgres_schema = format!("t_{service}_{id}");
        let redis_prefix = format!("t:{id}:{service}:");
        let neo4j_namespace = format!("t_{id}");
        let vars: HashMap<String, String> = [
            ("TALENTMESH_GRPC_ADDR", "127.0.0.1:0".to_string()),
            ("TALENTMESH_METRICS_ADDR", "127.0.0.1:0".to_string()),
            // Registration is opt-in per test (with_consul), so tests do not see each other.
            ("TALENTMESH_CONSUL_ADDR", String::new()),
            ("TALENTMESH_MYSQL_DATABASE", mysql_database.clone()),
            ("TALENTMESH_POSTGRES_SCHEMA", postgres_schema.clone()),
            ("TALENTMESH_REDIS_PREFIX", redis_prefix.clone()),
            ("TALENTMESH_NEO4J_NAMESPACE", neo4j_namespace.clone()),
            ("TALENTMESH_SHUTDOWN_GRACE", "2s".to_string()),
            ("TALENTMESH_LOG_FORMAT", "pretty".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        TestEnv {
            id,
            mysql_database,
            postgres_schema,
            redis_prefix,
            neo4j_namespace,
            vars,
        }
    }

    /// Registers the service in the local Consul under a name unique to this test.
    pub fn with_consul(mut self) -> TestEnv {
        self.vars
            .insert("TALENTMESH_CONSUL_ADDR".into(), CONSUL_ADDR.into());
        self
    }

    pub fn set(mut self, key: &str, value: impl Into<String>) -> TestEnv {
        self.vars.insert(key.to_string(), value.into());
        self
    }

    /// The variables for a service under test.
    pub fn env(&self) -> Env {
        Env::from_map(self.vars.clone())
    }

    /// The same variables, for a child process.
    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// A MySQL pool on this test's database (which the service under test creates).
    pub async fn mysql(&self) -> sqlx::MySqlPool {
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(2)
            .connect(&format!("{MYSQL_URL}/{}", self.mysql_database))
            .await
            .expect("connect to the test database")
    }

    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(REDIS_URL)
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis")
    }

    /// Keys of this test in Redis.
    pub async fn redis_keys(&self, pattern: &str) -> Vec<String> {
        let mut conn = self.redis().await;
        redis::cmd("KEYS")
            .arg(format!("{}{pattern}", self.redis_prefix))
            .query_async(&mut conn)
            .await
            .unwrap_or_default()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let db = self.mysql_database.clone();
        let schema = self.postgres_schema.clone();
        let prefix = self.redis_prefix.clone();
        let ns = self.neo4j_namespace.clone();
        // Drop runs outside any runtime guarantee; clean up on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let cleanup = async {
                    if let Ok(pool) = sqlx::mysql::MySqlPoolOptions::new()
                        .max_connections(1)
                        .connect(MYSQL_URL)
                        .await
                    {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{db}`"))
                            .execute(&pool)
                            .await;
                    }
                    if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
                        .max_connections(1)
                        .connect(POSTGRES_URL)
                        .await
                    {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                            .execute(&pool)
                            .await;
                    }
                    if let Ok(client) = redis::Client::open(REDIS_URL) {
                        if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                            let keys: Vec<String> = redis::cmd("KEYS")
                                .arg(format!("{prefix}*"))
                                .query_async(&mut conn)
                                .await
                                .unwrap_or_default();
                            if !keys.is_empty() {
                                let _ = redis::cmd("DEL")
                                    .arg(keys)
                                    .query_async::<()>(&mut conn)
                                    .await;
                            }
                        }
                    }
                    if let Ok(graph) = neo4rs::Graph::new(NEO4J_URI, "neo4j", "talentmesh").await {
                        // In bounded transactions: one delete of a big test graph would hold
                        // Neo4j busy (and its memory) long after the test ended.
                        loop {
                            let deleted = async {
                                let mut rows = graph
                                    .execute(
                                        neo4rs::query(
                                            "MATCH (n) WHERE n.ns = $ns WITH n LIMIT 5000 \
                                             DETACH DELETE n RETURN count(*) AS deleted",
                                        )
                                        .param("ns", ns.clone()),
                                    )
                                    .await
                                    .ok()?;
                                let row = rows.next().await.ok()??;
                                row.get::<i64>("deleted").ok()
                            }
                            .await;
                            if deleted.unwrap_or(0) == 0 {
                                break;
                            }
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(60), cleanup).await;
            });
        })
        .join();
    }
}

pub use sqlx::MySqlPool;

/// One integer from a query, for tests that count rows.
pub async fn scalar_i64(pool: &MySqlPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}
