//! [`TestEnv`]: a test's own MySQL database, PostgreSQL schema, Redis key prefix and Neo4j
//! namespace on the real local servers, the `TALENTMESH_*` variables that point a service at
//! them (as the service's own store users when the servers have them, see [`crate::servers`]),
//! and the cleanup that drops all of it (as the admin) when the test ends.

use std::collections::HashMap;
use std::time::Duration;

use talentmesh_mesh::config::{Env, Secret};
use talentmesh_mesh::consul::ConsulClient;

use crate::servers::{mysql_url, postgres_url, redis_url, service_store_vars, try_neo4j_graph};

/// The local Consul agent's default address; tests use [`consul_addr`], which a variable
/// overrides.
pub const CONSUL_ADDR: &str = "http://127.0.0.1:18500";

/// The Consul agent tests register in: `TALENTMESH_CONSUL_ADDR` of the test process (e.g. a
/// second agent with other ports), else [`CONSUL_ADDR`].
pub fn consul_addr() -> String {
    std::env::var("TALENTMESH_CONSUL_ADDR")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| CONSUL_ADDR.to_string())
}

/// The ACL token tests use with Consul. Tests register under names of their own
/// (`identity-e2e-<id>`), which no service token may, so this is the agent's management token:
/// `TALENTMESH_CONSUL_TOKEN` of the test process, else the file `dev/servers.sh` keeps it in
/// (`$TALENTMESH_DATA/consul/management.token`, the data folder defaulting as in `dev/lib.sh`),
/// else none (an agent without ACLs).
pub fn consul_token() -> Secret {
    if let Some(token) = std::env::var("TALENTMESH_CONSUL_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        return Secret::new(token);
    }
    let data = std::env::var("TALENTMESH_DATA").unwrap_or_else(|_| "/var/lib/talentmesh".into());
    let file = std::path::Path::new(&data).join("consul/management.token");
    Secret::new(
        std::fs::read_to_string(file)
            .map(|t| t.trim().to_string())
            .unwrap_or_default(),
    )
}

/// A client of the tests' Consul agent ([`consul_addr`]) with the tests' token
/// ([`consul_token`]).
pub fn consul() -> ConsulClient {
    ConsulClient::new(&consul_addr())
        .expect("consul client")
        .with_token(consul_token())
}

/// Whether the tests run the mesh over Connect mutual TLS, as every deployment does: yes
/// unless the test process has `TALENTMESH_MESH_TLS=off` (to look at plaintext traffic while
/// debugging). Services registered in Consul by tests then serve TLS only.
pub fn mesh_tls() -> bool {
    !matches!(std::env::var("TALENTMESH_MESH_TLS").as_deref(), Ok("off"))
}

/// The variables that register a service in the tests' Consul: the address, the token, and the
/// mesh TLS mode, always said outright (`connect`, or `off` when not [`mesh_tls`]) so a service
/// and the test's clients never disagree.
pub fn consul_vars() -> Vec<(String, String)> {
    let mut vars = vec![
        ("TALENTMESH_CONSUL_ADDR".to_string(), consul_addr()),
        (
            "TALENTMESH_CONSUL_TOKEN".to_string(),
            consul_token().expose().to_string(),
        ),
    ];
    let mode = if mesh_tls() { "connect" } else { "off" };
    vars.push(("TALENTMESH_MESH_TLS".to_string(), mode.to_string()));
    vars
}

/// A discovery client for the test itself (its channels are what a test hands services as
/// upstreams, and what its gateway uses). With [`mesh_tls`] it speaks mutual TLS as the
/// Connect service `caller`, which the intentions [`allow_all_to`] makes may call the test's
/// services.
pub fn discovery(caller: &str, deadline: Duration) -> talentmesh_mesh::Discovery {
    let connect =
        mesh_tls().then(|| talentmesh_mesh::connect::ConnectIdentity::start(consul(), caller));
    talentmesh_mesh::Discovery::with_connect(
        consul(),
        deadline,
        talentmesh_mesh::limits::DEFAULT_MAX_MESSAGE,
        connect,
    )
}

/// Lets any Connect service call `service` (a name of the test's own): the intention
/// `* -> service`, made with the tests' management token.
pub async fn allow_all_to(service: &str) {
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/v1/connect/intentions/exact?source=*&destination={service}",
            consul_addr()
        ))
        .header("X-Consul-Token", consul_token().expose())
        .json(&serde_json::json!({"Action": "allow"}))
        .send()
        .await
        .expect("consul intentions");
    assert!(
        resp.status().is_success(),
        "intention * -> {service}: {}",
        resp.status()
    );
}

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
        let vars: HashMap<String, String> = service_store_vars(service)
            .into_iter()
            .chain([
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
            ])
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

    /// Registers the service in the local Consul ([`consul_addr`], with the tests' token
    /// [`consul_token`]) under a name unique to this test.
    pub fn with_consul(mut self) -> TestEnv {
        self.vars.extend(consul_vars());
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

    /// A MySQL pool on this test's database (which the service under test creates), as the
    /// admin.
    pub async fn mysql(&self) -> sqlx::MySqlPool {
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(2)
            .connect(&format!("{}/{}", mysql_url(), self.mysql_database))
            .await
            .expect("connect to the test database")
    }

    /// Redis as the admin (every key of every test).
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis_url())
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
                        .connect(&mysql_url())
                        .await
                    {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{db}`"))
                            .execute(&pool)
                            .await;
                    }
                    if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
                        .max_connections(1)
                        .connect(&postgres_url())
                        .await
                    {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                            .execute(&pool)
                            .await;
                    }
                    if let Ok(client) = redis::Client::open(redis_url()) {
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
                    if let Some(graph) = try_neo4j_graph().await {
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
