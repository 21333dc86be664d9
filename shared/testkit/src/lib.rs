//! Isolation for tests that use the real local servers. A [`TestEnv`] names a MySQL database,
//! a PostgreSQL schema, a Redis key prefix and a Neo4j namespace of its own (random), hands out
//! the `TALENTMESH_*` variables that point a service at them with ports chosen by the OS, and
//! drops all of it when the test ends, so tests run in parallel without seeing each other.
//!
//! The servers themselves are started by `dev/servers.sh up` (the README's test command does it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod company;

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

/// Polls `probe` every 100 ms until it returns a value or `timeout` passes.
pub async fn eventually_value<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` every 100 ms until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// grpc.health.v1 `SERVING`.
pub const SERVING: i32 = 1;
/// grpc.health.v1 `NOT_SERVING`.
pub const NOT_SERVING: i32 = 2;

/// The grpc.health.v1 status of `service` ("" for the whole server) at `addr`, or None when the
/// server does not answer.
pub async fn health_status(addr: std::net::SocketAddr, service: &str) -> Option<i32> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .ok()
        .map(|r| r.into_inner().status)
}

/// The services `addr` lists through gRPC reflection (v1), sorted.
pub async fn reflected_services(addr: std::net::SocketAddr) -> Vec<String> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect for reflection");
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .expect("reflection stream")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("reflection answer")
        .expect("one answer");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("reflection answered something else: {answer:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    names
}

/// Asserts that the service at `addr` reflects exactly `served` plus `grpc.health.v1.Health`,
/// and that grpc.health.v1 reports SERVING for every one of them (a served service without a
/// health status answers NOT_FOUND and fails here).
pub async fn assert_serving_exactly(addr: std::net::SocketAddr, served: &[&str]) {
    let mut expected: Vec<String> = served.iter().map(|s| s.to_string()).collect();
    expected.push("grpc.health.v1.Health".to_string());
    expected.sort();
    assert_eq!(
        reflected_services(addr).await,
        expected,
        "reflection lists what is served"
    );
    for service in served {
        assert_eq!(
            health_status(addr, service).await,
            Some(SERVING),
            "health status of {service}"
        );
    }
}

/// A service running in-process for a test: its addresses and a way to stop it.
pub struct Spawned {
    pub addr: std::net::SocketAddr,
    pub metrics: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Spawned {
    /// Binds OS-chosen ports from `mesh`, runs `run(listeners, shutdown)` on a task, and waits
    /// until the health service says SERVING.
    pub async fn start<F, Fut>(mesh: &talentmesh_mesh::MeshConfig, run: F) -> Spawned
    where
        F: FnOnce(
            talentmesh_mesh::server::Listeners,
            std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
        ) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let listeners = talentmesh_mesh::server::Listeners::bind(mesh)
            .await
            .expect("bind");
        let addr = listeners.grpc.local_addr().unwrap();
        let metrics = listeners.metrics.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(
            listeners,
            Box::pin(async move {
                let _ = rx.await;
            }),
        ));
        let spawned = Spawned {
            addr,
            metrics,
            shutdown: Some(tx),
            task: Some(task),
        };
        let serving = eventually(Duration::from_secs(30), || async move {
            health_status(addr, "").await == Some(SERVING)
        })
        .await;
        if !serving {
            // Say why when the service gave up (a failed start returns its error).
            let mut spawned = spawned;
            let ended = match spawned.task.take() {
                Some(task) if task.is_finished() => format!("{:?}", task.await),
                _ => "still running".to_string(),
            };
            panic!("service on {addr} did not become SERVING ({ended})");
        }
        spawned
    }

    /// Starts a service the way its binary does, through its `run(config, launch)`, on
    /// OS-chosen ports: `run` gets a [`Launch`](talentmesh_mesh::server::Launch) to adjust
    /// (`with_verifier`, `with_upstream`) before handing it to the service.
    pub async fn service<F, Fut>(mesh: &talentmesh_mesh::MeshConfig, run: F) -> Spawned
    where
        F: FnOnce(talentmesh_mesh::server::Launch) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Spawned::start(mesh, move |listeners, shutdown| {
            run(talentmesh_mesh::server::Launch::new(listeners, shutdown))
        })
        .await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks the service to shut down and asserts it stops cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task).await;
            assert!(
                matches!(result, Ok(Ok(Ok(())))),
                "service did not stop cleanly: {result:?}"
            );
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub use sqlx::MySqlPool;

/// One integer from a query, for tests that count rows.
pub async fn scalar_i64(pool: &MySqlPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// Signs `claims` as an EdDSA access token with key id `kid` and a PKCS#8 Ed25519 key — how
/// tests forge tokens (expired, wrong audience, unknown key) to check that they are refused.
pub fn sign_ed(kid: &str, pkcs8: &[u8], claims: &talentmesh_mesh::auth::Claims) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ed_der(pkcs8),
    )
    .expect("sign test token")
}

/// A signing key the test owns and a verifier that trusts only it: services under test check
/// real EdDSA tokens without an identity service.
pub struct TestKeys {
    der: Vec<u8>,
    decoding: std::sync::Arc<jsonwebtoken::DecodingKey>,
}

/// Issuer and audience the mesh expects by default.
pub const TEST_ISSUER: &str = "talentmesh-identity";
pub const TEST_AUDIENCE: &str = "talentmesh";
const TEST_KID: &str = "test-key";

impl TestKeys {
    pub fn new() -> std::sync::Arc<TestKeys> {
        use base64::Engine;
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let x =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        std::sync::Arc::new(TestKeys {
            der: key
                .to_pkcs8_der()
                .expect("encode test key")
                .as_bytes()
                .to_vec(),
            decoding: std::sync::Arc::new(
                jsonwebtoken::DecodingKey::from_ed_components(&x).expect("test public key"),
            ),
        })
    }

    pub fn verifier(
        self: &std::sync::Arc<Self>,
    ) -> std::sync::Arc<talentmesh_mesh::auth::Verifier> {
        std::sync::Arc::new(talentmesh_mesh::auth::Verifier::new(
            self.clone(),
            TEST_ISSUER,
            TEST_AUDIENCE,
        ))
    }

    /// A bearer token for user `sub` with `roles` (e.g. "admin"), valid for five minutes.
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = talentmesh_mesh::auth::Claims {
            sub: sub.into(),
            iss: TEST_ISSUER.into(),
            aud: TEST_AUDIENCE.into(),
            exp: now + 300,
            nbf: now - 5,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            email: format!("{sub}@example.com"),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        };
        sign_ed(TEST_KID, &self.der, &claims)
    }
}

impl talentmesh_mesh::auth::KeySource for TestKeys {
    fn key(
        &self,
        kid: &str,
    ) -> futures::future::BoxFuture<'_, Option<std::sync::Arc<jsonwebtoken::DecodingKey>>> {
        let key = (kid == TEST_KID).then(|| self.decoding.clone());
        Box::pin(async move { key })
    }
}

/// Asserts a gRPC call failed with `code` and returns its status (for checking details).
pub fn fails<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: tonic::Code,
) -> tonic::Status {
    match result {
        Ok(r) => panic!("expected {code:?}, got {:?}", r.into_inner()),
        Err(s) => {
            assert_eq!(s.code(), code, "{s:?}");
            s
        }
    }
}

/// Starts a sync operation (a check or a repair of every projection) on the service at `url`
/// as `token` (an admin's), and waits up to a minute for it to finish.
pub async fn sync_operation(
    url: &str,
    token: &str,
    kind: talentmesh_proto::sync::v1::OperationKind,
) -> talentmesh_proto::sync::v1::Operation {
    use talentmesh_proto::sync::v1 as sync;
    fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    }
    let mut client =
        sync::sync_admin_service_client::SyncAdminServiceClient::connect(url.to_string())
            .await
            .expect("connect to the sync admin service");
    let op = client
        .start_operation(with_token(
            sync::StartOperationRequest {
                kind: kind as i32,
                projections: vec![],
            },
            token,
        ))
        .await
        .expect("start the operation")
        .into_inner()
        .operation
        .expect("an operation");
    eventually_value(Duration::from_secs(60), || {
        let mut client = client.clone();
        let r = with_token(
            sync::GetOperationRequest {
                name: op.name.clone(),
            },
            token,
        );
        async move {
            let op = client
                .get_operation(r)
                .await
                .expect("read the operation")
                .into_inner()
                .operation
                .expect("an operation");
            (op.state != sync::OperationState::Running as i32).then_some(op)
        }
    })
    .await
    .expect("the operation finished within a minute")
}

/// Of `projection` in a finished operation: (drift found and not repaired, records repaired).
pub fn drift(op: &talentmesh_proto::sync::v1::Operation, projection: &str) -> (i64, i64) {
    let p = op
        .projections
        .iter()
        .find(|p| p.projection == projection)
        .unwrap_or_else(|| panic!("no projection {projection} in {op:?}"));
    (p.missing + p.stale + p.orphaned, p.repaired)
}

/// Whether a check of the service at `url` finds `projections` free of drift within 30 s (the
/// projections catch up with what the test wrote).
pub async fn in_sync_soon(url: &str, token: &str, projections: &[&str]) -> bool {
    use talentmesh_proto::sync::v1 as sync;
    eventually(Duration::from_secs(30), || async {
        let op = sync_operation(url, token, sync::OperationKind::Check).await;
        op.state == sync::OperationState::Succeeded as i32
            && projections.iter().all(|p| drift(&op, p).0 == 0)
    })
    .await
}

/// After a test broke one record of each of `projections` behind the service's back: a check
/// finds exactly that, a repair puts it right, and a second check finds nothing.
pub async fn assert_one_drift_each_found_and_repaired(
    url: &str,
    token: &str,
    projections: &[&str],
) {
    use talentmesh_proto::sync::v1::OperationKind;
    let checked = sync_operation(url, token, OperationKind::Check).await;
    for p in projections {
        assert_eq!(drift(&checked, p), (1, 0), "check, {p}: {checked:?}");
    }
    let repaired = sync_operation(url, token, OperationKind::Repair).await;
    for p in projections {
        assert_eq!(drift(&repaired, p).1, 1, "repair, {p}: {repaired:?}");
    }
    let after = sync_operation(url, token, OperationKind::Check).await;
    for p in projections {
        assert_eq!(
            drift(&after, p),
            (0, 0),
            "check after repair, {p}: {after:?}"
        );
    }
}

/// Where one entity type is projected, for [`TestEnv::remove_projected`].
pub struct Projected<'a> {
    /// The PostgreSQL table (in this test's schema) keyed by `id`.
    pub pg_table: &'a str,
    /// The Neo4j label of its nodes, keyed `<namespace>/<id>`.
    pub neo4j_label: &'a str,
    /// The Redis keyspace of its hashes, `<prefix><keyspace>:<id>`.
    pub redis_keyspace: &'a str,
}

impl TestEnv {
    /// Removes entity `id` from each derived store behind the service's back (drift for the
    /// consistency checker to find): its PostgreSQL row, its Neo4j node, its Redis hash.
    pub async fn remove_projected(&self, id: &str, at: Projected<'_>) {
        let pg = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(POSTGRES_URL)
            .await
            .expect("connect to postgres");
        let deleted = sqlx::query(&format!(
            "DELETE FROM \"{}\".{} WHERE id = $1",
            self.postgres_schema, at.pg_table
        ))
        .bind(id)
        .execute(&pg)
        .await
        .expect("delete the postgres row");
        assert_eq!(deleted.rows_affected(), 1, "no {} row {id}", at.pg_table);
        let graph = neo4rs::Graph::new(NEO4J_URI, "neo4j", "talentmesh")
            .await
            .expect("connect to neo4j");
        graph
            .run(
                neo4rs::query(&format!(
                    "MATCH (n:{} {{key: $key}}) DETACH DELETE n",
                    at.neo4j_label
                ))
                .param("key", format!("{}/{id}", self.neo4j_namespace)),
            )
            .await
            .expect("delete the neo4j node");
        let removed: i64 = redis::cmd("DEL")
            .arg(format!("{}{}:{id}", self.redis_prefix, at.redis_keyspace))
            .query_async(&mut self.redis().await)
            .await
            .expect("delete the redis hash");
        assert_eq!(removed, 1, "no {} hash {id}", at.redis_keyspace);
    }
}
