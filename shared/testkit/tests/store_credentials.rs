//! The local stores require credentials (`dev/servers.sh`): a connection without them is
//! refused on each, and each service's own user reaches its own namespaces only. Against servers
//! from before credentials these tests fail, which is the finding they guard.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::Connection;
use talentmesh_testkit::{
    mysql_url, neo4j_graph, neo4j_uri, postgres_url, redis_url, service_store_vars, TestEnv,
};

/// `scheme://user:password@rest` without the password: `scheme://user@rest`.
fn without_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

/// The store URL `service` runs with under test, which must be its own user's: on servers
/// without per-service users it would be the admin's, and the writes below must not reach
/// another service's namespace as the admin.
fn service_var(service: &str, key: &str) -> String {
    let url = service_store_vars(service)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .unwrap();
    let admin = [mysql_url(), postgres_url(), redis_url()];
    assert!(
        !admin.contains(&url),
        "{key}: no {service} user on this server (run dev/servers.sh up)"
    );
    url
}

#[tokio::test]
async fn mariadb_refuses_a_connection_without_a_password() {
    let admin = mysql_url();
    sqlx::MySqlConnection::connect(&admin)
        .await
        .expect("the admin gets in with its password");
    for url in [
        without_password(&admin),
        format!("{}/mysql", without_password(&admin)),
    ] {
        let refused = sqlx::MySqlConnection::connect(&url).await;
        assert!(refused.is_err(), "root got in without a password");
    }
    let identity = without_password(&service_var("identity", "TALENTMESH_MYSQL_URL"));
    assert!(sqlx::MySqlConnection::connect(&identity).await.is_err());
}

#[tokio::test]
async fn postgres_refuses_a_connection_without_a_password() {
    let admin = postgres_url();
    sqlx::PgConnection::connect(&admin)
        .await
        .expect("the superuser gets in with its password");
    let refused = sqlx::PgConnection::connect(&without_password(&admin)).await;
    assert!(refused.is_err(), "postgres got in without a password");
    let job = without_password(&service_var("job", "TALENTMESH_POSTGRES_URL"));
    assert!(sqlx::PgConnection::connect(&job).await.is_err());
}

#[tokio::test]
async fn redis_refuses_commands_without_credentials() {
    let anonymous = without_password(&redis_url());
    let anonymous = anonymous.replace("admin@", "");
    let mut conn = redis::Client::open(anonymous.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("the TCP connection itself is accepted");
    let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
    let err = pong.expect_err("the default user answered PING");
    assert_eq!(err.code(), Some("NOAUTH"), "{err}");
}

#[tokio::test]
async fn neo4j_refuses_a_wrong_password() {
    let graph = neo4j_graph().await;
    graph
        .run(neo4rs::query("RETURN 1"))
        .await
        .expect("the admin runs a query");
    // start_txn: a connection from the pool without neo4rs's minute of retries around queries.
    let refused = async {
        let graph = neo4rs::Graph::new(neo4j_uri(), "neo4j", "not-the-password").await?;
        graph.start_txn().await.map(|_| ())
    }
    .await;
    assert!(refused.is_err(), "neo4j let a wrong password in");
}

#[tokio::test]
async fn a_services_mariadb_user_reaches_only_its_own_databases() {
    let mut identity =
        sqlx::MySqlConnection::connect(&service_var("identity", "TALENTMESH_MYSQL_URL"))
            .await
            .expect("identity's user gets in");
    let own = TestEnv::new("identity");
    sqlx::query(&format!(
        "CREATE DATABASE IF NOT EXISTS `{}`",
        own.mysql_database
    ))
    .execute(&mut identity)
    .await
    .expect("identity creates its own (test) database");
    for other in ["talentmesh_company", "mysql"] {
        let refused = sqlx::query(&format!("CREATE TABLE `{other}`.`stolen` (id INT)"))
            .execute(&mut identity)
            .await;
        assert!(refused.is_err(), "identity wrote into {other}");
    }
}

#[tokio::test]
async fn a_services_postgres_role_has_no_right_on_another_services_schema() {
    let mut job = sqlx::PgConnection::connect(&service_var("job", "TALENTMESH_POSTGRES_URL"))
        .await
        .expect("job's role gets in");
    let (own, other): (bool, bool) = sqlx::query_as(
        "SELECT has_schema_privilege('job', 'USAGE'), has_schema_privilege('company', 'USAGE')",
    )
    .fetch_one(&mut job)
    .await
    .expect("the service schemas exist (dev/servers.sh makes them)");
    assert!(own, "job cannot use its own schema");
    assert!(!other, "job can use the company service's schema");
}

#[tokio::test]
async fn a_services_redis_user_writes_only_its_own_keys() {
    let env = TestEnv::new("identity");
    let mut identity = redis::Client::open(service_var("identity", "TALENTMESH_REDIS_URL"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(format!("{}probe", env.redis_prefix))
        .arg("1")
        .query_async(&mut identity)
        .await
        .expect("identity writes its own keys");
    let refused: redis::RedisResult<()> = redis::cmd("SET")
        .arg("company:probe")
        .arg("1")
        .query_async(&mut identity)
        .await;
    assert_eq!(refused.unwrap_err().code(), Some("NOPERM"));
    let keys: redis::RedisResult<Vec<String>> =
        redis::cmd("KEYS").arg("*").query_async(&mut identity).await;
    assert_eq!(keys.unwrap_err().code(), Some("NOPERM"), "KEYS is refused");
}
