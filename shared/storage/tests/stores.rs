//! The entry point against the real servers: every store connects, the service's database and
//! schema are created, health reports each store, and a bad namespace never reaches the DDL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use talentmesh_storage::{Migrations, Needs, StorageConfig, StoreHealth, Stores};
use talentmesh_testkit::TestEnv;

#[tokio::test]
async fn all_four_stores_connect_in_their_own_namespaces() {
    let env = TestEnv::new("storage");
    let mut vars = env.env();
    let config = StorageConfig::load(&mut vars, "storage", Needs::ALL);
    vars.finish().unwrap();
    let stores = Stores::connect(&config, Migrations::default())
        .await
        .unwrap();
    let report = stores.health().await;
    assert_eq!(
        [report.mysql, report.postgres, report.neo4j, report.redis],
        [StoreHealth::Up; 4],
        "{report:?}"
    );
    assert!(report.ready());

    let db: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(stores.mysql().unwrap())
        .await
        .unwrap();
    assert_eq!(db, env.mysql_database);
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(stores.postgres().unwrap())
        .await
        .unwrap();
    assert_eq!(schema, env.postgres_schema);
    assert!(stores
        .redis()
        .unwrap()
        .key("x")
        .starts_with(&env.redis_prefix));
}

#[tokio::test]
async fn a_service_without_a_store_reports_it_unused() {
    let env = TestEnv::new("storage");
    let mut vars = env.env();
    let needs = Needs {
        mysql: true,
        postgres: false,
        neo4j: false,
        redis: false,
    };
    let config = StorageConfig::load(&mut vars, "storage", needs);
    let stores = Stores::connect(&config, Migrations::default())
        .await
        .unwrap();
    let report = stores.health().await;
    assert_eq!(report.mysql, StoreHealth::Up);
    assert_eq!(report.neo4j, StoreHealth::NotUsed);
    assert!(stores.neo4j().is_err());
}

#[test]
fn namespaces_must_be_plain_identifiers() {
    let mut vars = talentmesh_mesh::Env::from_map([(
        "TALENTMESH_MYSQL_DATABASE",
        "x`; DROP DATABASE mysql; --",
    )]);
    let _ = StorageConfig::load(&mut vars, "storage", Needs::ALL);
    assert!(vars.finish().is_err());
}
