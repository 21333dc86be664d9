//! The checker over the job's three projections: a search row, a graph node and a cache entry
//! removed behind the service's back are found and repaired.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talentmesh_storage::{Migrations, Stores};
use talentmesh_testkit::{
    assert_one_drift_each_found_and_repaired, in_sync_soon, Projected, Spawned, TestEnv, TestKeys,
};

const PROJECTIONS: [&str; 3] = ["jobs_search", "jobs_graph", "jobs_cache"];

#[tokio::test]
async fn drift_in_every_job_projection_is_found_and_repaired() {
    let keys = TestKeys::new();
    let env = TestEnv::new("job").set("TALENTMESH_JOB_CHECK_EVERY", "0s");
    let config = talentmesh_job::Config::load(env.env()).unwrap();
    let storage = config.storage.clone();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    // No company service is needed: the rows are written straight into MySQL as the service
    // would, event included, through its own store code.
    let unreachable = |name: &str| {
        talentmesh_mesh::MeshChannel::fixed(
            name,
            &["http://127.0.0.1:9".to_string()],
            Duration::from_secs(1),
        )
    };
    let job = Spawned::service(&mesh, move |l| {
        let l = l.with_verifier(verifier);
        let l = l.with_upstream("company", unreachable("company"));
        talentmesh_job::run(config, l.with_upstream("resume", unreachable("resume")))
    })
    .await;
    let stores = Stores::connect(
        &storage,
        Migrations {
            mysql: None,
            postgres: None,
        },
    )
    .await
    .unwrap();
    let pool = stores.mysql().unwrap().clone();
    let outbox = talentmesh_storage::outbox::Outbox::new("job");
    let company = uuid::Uuid::now_v7().to_string();
    let mut ids = Vec::new();
    for title in ["Rust Engineer", "Go Engineer"] {
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO jobs (id, company_id, state, title, description, required_skills, preferred_skills, \
             creator, created_at, updated_at, published_at) VALUES (?, ?, 2, ?, '', '[\"rust\"]', '[]', 'u', NOW(6), NOW(6), NOW(6))",
        )
        .bind(&id)
        .bind(&company)
        .bind(title)
        .execute(&mut *tx)
        .await
        .unwrap();
        let row = talentmesh_job::store::load(&mut tx, &id)
            .await
            .unwrap()
            .unwrap();
        outbox.record(&mut tx, row.draft()).await.unwrap();
        tx.commit().await.unwrap();
        ids.push(id);
    }
    let admin = keys.token("ops", &["admin"]);
    assert!(
        in_sync_soon(&job.url(), &admin, &PROJECTIONS).await,
        "projections never caught up"
    );

    env.remove_projected(
        &ids[0],
        Projected {
            pg_table: "job_search",
            neo4j_label: "Job",
            redis_keyspace: "jobcache",
        },
    )
    .await;

    assert_one_drift_each_found_and_repaired(&job.url(), &admin, &PROJECTIONS).await;
    job.stop().await;
}
