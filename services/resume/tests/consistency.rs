//! The checker over the resume's three projections: an analysis row, a graph node and a cache
//! entry removed behind the service's back are found by a check and put back by a repair.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talentmesh_proto::resume::v1 as pb;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;
use talentmesh_testkit::{
    assert_one_drift_each_found_and_repaired, in_sync_soon, Projected, Spawned, TestEnv, TestKeys,
};

const PROJECTIONS: [&str; 3] = ["resumes_analysis", "resumes_graph", "resumes_cache"];

#[tokio::test]
async fn drift_in_every_resume_projection_is_found_and_repaired() {
    let keys = TestKeys::new();
    let env = TestEnv::new("resume").set("TALENTMESH_RESUME_CHECK_EVERY", "0s");
    let config = talentmesh_resume::Config::load(env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    // Saving a resume asks no other service.
    let company = talentmesh_mesh::MeshChannel::fixed(
        "company",
        &["http://127.0.0.1:9".to_string()],
        Duration::from_secs(1),
    );
    let service = Spawned::service(&mesh, move |l| {
        talentmesh_resume::run(
            config,
            l.with_verifier(verifier).with_upstream("company", company),
        )
    })
    .await;
    let mut client = ResumeServiceClient::connect(service.url()).await.unwrap();
    let candidate = keys.token("cand", &["candidate"]);
    let mut ids = Vec::new();
    for title in ["后端简历", "Backend resume"] {
        let mut r = tonic::Request::new(pb::CreateResumeRequest {
            resume: Some(pb::Resume {
                title: title.into(),
                summary: "Rust 和 k8s".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        r.metadata_mut().insert(
            "authorization",
            format!("Bearer {candidate}").parse().unwrap(),
        );
        let created = client
            .create_resume(r)
            .await
            .unwrap()
            .into_inner()
            .resume
            .unwrap();
        ids.push(created.name.trim_start_matches("resumes/").to_string());
    }
    let admin = keys.token("ops", &["admin"]);
    assert!(
        in_sync_soon(&service.url(), &admin, &PROJECTIONS).await,
        "projections never caught up"
    );

    env.remove_projected(
        &ids[0],
        Projected {
            pg_table: "resume_analysis",
            neo4j_label: "Resume",
            redis_keyspace: "resumecache",
        },
    )
    .await;

    assert_one_drift_each_found_and_repaired(&service.url(), &admin, &PROJECTIONS).await;
    service.stop().await;
}
