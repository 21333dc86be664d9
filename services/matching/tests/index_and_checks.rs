//! The matching service on its own stores with the built-in embedder: documents stored in MySQL
//! are embedded into PostgreSQL and searchable; an embedding removed behind the service's back
//! is found by a check and put back by a repair; a restarted instance rebuilds its index from
//! PostgreSQL; bad requests get the right code with the field named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talentmesh_matching::events;
use talentmesh_matching::store::{Documents, Kind};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::job::v1 as jpb;
use talentmesh_proto::matching::v1 as pb;
use talentmesh_proto::matching::v1::matching_service_client::MatchingServiceClient;
use talentmesh_proto::resume::v1 as rpb;
use talentmesh_storage::outbox::Outbox;
use talentmesh_testkit::{
    assert_one_drift_each_found_and_repaired, eventually_value, in_sync_soon, Spawned, TestEnv,
    TestKeys,
};
use tonic::Code;

const PROJECTIONS: [&str; 1] = ["embeddings"];

// Names as the job and resume services give them: ids are UUIDs.
const COMPANY: &str = "companies/00000000-0000-4000-8000-0000000000c1";
const RUST_ID: &str = "00000000-0000-4000-8000-000000000001";
const JAVA_ID: &str = "00000000-0000-4000-8000-000000000002";
const REACT_ID: &str = "00000000-0000-4000-8000-000000000003";
const RUST_JOB: &str =
    "companies/00000000-0000-4000-8000-0000000000c1/jobs/00000000-0000-4000-8000-000000000001";
const JAVA_JOB: &str =
    "companies/00000000-0000-4000-8000-0000000000c1/jobs/00000000-0000-4000-8000-000000000002";
const RESUME: &str = "resumes/00000000-0000-4000-8000-0000000000a1";
const MISSING_RESUME: &str = "resumes/00000000-0000-4000-8000-0000000000ff";

async fn start(env: &TestEnv, keys: &std::sync::Arc<TestKeys>) -> Spawned {
    let config = talentmesh_matching::Config::load(env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    // Only company members' checks call the company service; nothing here does.
    let company = talentmesh_mesh::MeshChannel::fixed(
        "company",
        &["http://127.0.0.1:9".to_string()],
        Duration::from_secs(1),
    );
    Spawned::service(&mesh, move |l| {
        talentmesh_matching::run(
            config,
            l.with_verifier(verifier).with_upstream("company", company),
        )
    })
    .await
}

fn request<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

fn job(id: &str, title: &str, skills: &[&str]) -> jpb::Job {
    jpb::Job {
        name: format!("{COMPANY}/jobs/{id}"),
        title: title.into(),
        required_skills: skills.iter().map(|s| (*s).to_string()).collect(),
        state: jpb::JobState::Published as i32,
        city_code: "440300".into(),
        version: 1,
        ..Default::default()
    }
}

async fn recommend(
    client: &mut MatchingServiceClient<tonic::transport::Channel>,
    resume: &str,
    token: &str,
) -> Result<Vec<String>, tonic::Status> {
    let answer = client
        .recommend_jobs(request(
            pb::RecommendJobsRequest {
                resume: resume.into(),
                ..Default::default()
            },
            token,
        ))
        .await?
        .into_inner();
    Ok(answer
        .matches
        .into_iter()
        .map(|m| m.job.unwrap_or_default().name)
        .collect())
}

#[tokio::test]
async fn embeddings_are_searchable_checked_repaired_and_rebuilt_at_start() {
    let keys = TestKeys::new();
    let env = TestEnv::new("matching")
        .set("TALENTMESH_MATCHING_CHECK_EVERY", "0s")
        .set("TALENTMESH_MATCHING_EMBEDDINGS_URL", "builtin");
    let ns = env.neo4j_namespace.clone();
    let env = env.set("TALENTMESH_MATCHING_SHARED_GRAPH_NAMESPACE", ns.clone());
    let service = start(&env, &keys).await;

    // Documents as the reactions store them (the job and resume services are not needed).
    let docs = Documents::new(env.mysql().await, Outbox::new("matching"));
    for j in [
        job(RUST_ID, "Rust后端工程师", &["Rust", "Kubernetes"]),
        job(JAVA_ID, "Java开发工程师", &["Java", "Spring"]),
        job(REACT_ID, "Frontend Engineer", &["React", "TypeScript"]),
    ] {
        assert!(docs
            .upsert(
                Kind::Job,
                &events::job_document(&j),
                &prost::Message::encode_to_vec(&j)
            )
            .await
            .unwrap());
    }
    let resume = rpb::Resume {
        name: RESUME.into(),
        owner: "users/cand".into(),
        title: "Rust工程师".into(),
        full_name: "韩梅梅".into(),
        summary: "五年Rust和k8s经验".into(),
        version: 1,
        ..Default::default()
    };
    let stored = events::without_personal_data(resume.clone());
    assert!(stored.full_name.is_empty() && stored.contact.is_none());
    docs.upsert(
        Kind::Resume,
        &events::resume_document(&stored, false),
        &prost::Message::encode_to_vec(&stored),
    )
    .await
    .unwrap();
    // An older version arriving late changes nothing.
    let mut old = job(RUST_ID, "旧标题", &["Go"]);
    old.version = 0;
    assert!(!docs
        .upsert(
            Kind::Job,
            &events::job_document(&old),
            &prost::Message::encode_to_vec(&old)
        )
        .await
        .unwrap());

    let candidate = keys.token("cand", &["candidate"]);
    let mut client = MatchingServiceClient::connect(service.url()).await.unwrap();
    let first = eventually_value(Duration::from_secs(20), || {
        let mut client = client.clone();
        let candidate = candidate.clone();
        async move {
            let jobs = recommend(&mut client, RESUME, &candidate).await.ok()?;
            (jobs.len() == 3).then(|| jobs[0].clone())
        }
    })
    .await
    .expect("the jobs are embedded and indexed");
    assert_eq!(first, RUST_JOB);

    // The checker covers the embeddings.
    let admin = keys.token("ops", &["admin"]);
    assert!(
        in_sync_soon(&service.url(), &admin, &PROJECTIONS).await,
        "embeddings never caught up"
    );
    env.remove_postgres_row("embeddings", JAVA_JOB).await;
    assert_one_drift_each_found_and_repaired(&service.url(), &admin, &PROJECTIONS).await;

    // Bad requests: the field named; someone else's resume looks missing.
    let status = client
        .recommend_jobs(request(
            pb::RecommendJobsRequest {
                resume: RESUME.into(),
                page_size: 101,
                ..Default::default()
            },
            &candidate,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations_of(&status)[0].field, "page_size");
    let status = recommend(&mut client, "jobs/r1", &candidate)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations_of(&status)[0].field, "resume");
    let other = keys.token("other", &["candidate"]);
    let status = recommend(&mut client, RESUME, &other).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = recommend(&mut client, MISSING_RESUME, &candidate)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .recommend_jobs(tonic::Request::new(pb::RecommendJobsRequest {
            resume: RESUME.into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .match_job(request(
            pb::MatchJobRequest {
                resume: RESUME.into(),
                job: RUST_JOB.into(),
                salary_min: -5,
                ..Default::default()
            },
            &candidate,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations_of(&status)[0].field, "salary_min");

    // A restarted instance has the whole index before it serves.
    service.stop().await;
    let service = start(&env, &keys).await;
    let mut client = MatchingServiceClient::connect(service.url()).await.unwrap();
    let jobs = recommend(&mut client, RESUME, &candidate).await.unwrap();
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    assert_eq!(jobs[0], RUST_JOB);

    // Related skills were learned at start from the documents' co-occurrence: Rust and
    // Kubernetes appear together in the Rust job and in the resume.
    let graph = talentmesh_testkit::neo4j_graph().await;
    let strength = eventually_value(Duration::from_secs(20), || {
        let graph = graph.clone();
        let ns = ns.clone();
        async move {
            let mut rows = graph
                .execute(
                    neo4rs::query(
                        "MATCH (:Skill {ns: $ns, name: 'rust'})-[r:RELATED_TO]->(:Skill {ns: $ns, name: 'kubernetes'}) \
                         RETURN r.strength AS strength",
                    )
                    .param("ns", ns),
                )
                .await
                .ok()?;
            rows.next().await.ok()??.get::<f64>("strength").ok()
        }
    })
    .await
    .expect("related skills learned");
    assert!((strength - 1.0).abs() < 1e-9, "{strength}");
    service.stop().await;
}
