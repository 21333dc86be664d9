//! The store pools' metrics against the real servers: a connection held is `in_use`, given
//! back it is `idle`, and each store reports the maximum it was configured with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use talentmesh_mesh::metrics::Metrics;
use talentmesh_storage::pool_metrics::StorePoolMetrics;
use talentmesh_storage::{Migrations, Needs, StorageConfig, Stores};
use talentmesh_testkit::TestEnv;

/// The value of the `name` series whose labels include every one of `labels`.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<i64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn pools_report_connections_in_use_idle_and_their_maximum() {
    let env = TestEnv::new("storage");
    let mut vars = env.env();
    let config = StorageConfig::load(&mut vars, "storage", Needs::ALL);
    vars.finish().unwrap();
    let stores = Stores::connect(&config, Migrations::default())
        .await
        .unwrap();
    let metrics = Metrics::new("storage");
    metrics
        .registry()
        .register_collector(Box::new(StorePoolMetrics::new(
            stores.clone(),
            Some(config.max_connections),
        )));

    let held = stores.mysql().unwrap().acquire().await.unwrap();
    let redis = stores.redis().unwrap().get().await.unwrap();
    let text = metrics.encode();
    let connections = "talentmesh_store_pool_connections";
    for store in ["mysql", "redis"] {
        let in_use = value(
            &text,
            connections,
            &[&format!(r#"store="{store}""#), r#"state="in_use""#],
        );
        assert!(in_use.is_some_and(|n| n >= 1), "{store} in use in\n{text}");
    }
    let max = i64::from(config.max_connections);
    for store in ["mysql", "postgres", "redis", "neo4j"] {
        assert_eq!(
            value(
                &text,
                "talentmesh_store_pool_max_connections",
                &[&format!(r#"store="{store}""#), r#"service="storage""#],
            ),
            Some(max),
            "{store} maximum in\n{text}"
        );
    }

    // Given back, the MySQL connection is idle (sqlx returns it on drop, on a task).
    let in_use_before = value(
        &text,
        connections,
        &[r#"store="mysql""#, r#"state="in_use""#],
    );
    drop(held);
    drop(redis);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = metrics.encode();
        let in_use = value(
            &text,
            connections,
            &[r#"store="mysql""#, r#"state="in_use""#],
        );
        let idle = value(&text, connections, &[r#"store="mysql""#, r#"state="idle""#]);
        if in_use < in_use_before && idle.is_some_and(|n| n >= 1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection never came back idle:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
