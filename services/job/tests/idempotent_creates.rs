//! AIP-155 request ids on CreateJob and CreateApplication over raw gRPC, with the company and
//! resume services beside the job service: a retry with the same id returns the first resource
//! and writes nothing (one row, one event); ids are per caller; a malformed id is refused by field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::applications::{apply, start, Mesh};
use common::{req, User};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::job::v1 as pb;
use talentmesh_testkit::{fails, scalar_i64, MySqlPool};
use tonic::Code;

fn create_job(company: &str, title: &str, request_id: &str) -> pb::CreateJobRequest {
    pb::CreateJobRequest {
        parent: company.to_string(),
        job: Some(pb::Job {
            title: title.into(),
            city_code: "310000".into(),
            recruit_type: pb::RecruitType::Social as i32,
            headcount: 1,
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

async fn job_as(m: &Mesh, who: &User, body: pb::CreateJobRequest) -> String {
    m.jobs
        .clone()
        .create_job(req(body, who))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
        .name
}

async fn apply_as(m: &Mesh, who: &User, job: &str, cv: &str, request_id: &str) -> String {
    let mut body = apply(job, cv);
    body.request_id = request_id.into();
    m.apps
        .clone()
        .create_application(req(body, who))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap()
        .name
}

async fn job_db(m: &Mesh) -> MySqlPool {
    m._envs[0].mysql().await
}

async fn events(db: &MySqlPool, event_type: &str) -> i64 {
    scalar_i64(
        db,
        &format!("SELECT COUNT(*) FROM outbox WHERE event_type LIKE '%{event_type}%'"),
    )
    .await
}

#[tokio::test]
async fn a_retried_create_job_returns_the_first_job_with_one_row_and_one_event() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (company, _) = m.posted_job(&owner).await;
    let db = job_db(&m).await;
    let (rows, created) = (
        scalar_i64(&db, "SELECT COUNT(*) FROM jobs").await,
        events(&db, "JobChanged").await,
    );
    let id = uuid::Uuid::new_v4().to_string();
    let first = job_as(&m, &owner, create_job(&company, "Rust Engineer", &id)).await;
    let again = job_as(&m, &owner, create_job(&company, "Other title", &id)).await;
    assert_eq!(again, first);
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM jobs").await, rows + 1);
    assert_eq!(events(&db, "JobChanged").await, created + 1);

    // Another employer with the same id creates its own job.
    let other = m.user(&["employer"]);
    let (their_company, _) = m.posted_job(&other).await;
    let theirs = job_as(&m, &other, create_job(&their_company, "Rust Engineer", &id)).await;
    assert_ne!(theirs, first);
    assert!(theirs.starts_with(&their_company), "{theirs}");
    m.stop().await;
}

#[tokio::test]
async fn a_bad_request_id_on_create_job_is_refused_on_request_id() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (company, _) = m.posted_job(&owner).await;
    let db = job_db(&m).await;
    let rows = scalar_i64(&db, "SELECT COUNT(*) FROM jobs").await;
    let status = fails(
        m.jobs
            .clone()
            .create_job(req(create_job(&company, "x", "123"), &owner))
            .await,
        Code::InvalidArgument,
    );
    let fields: Vec<String> = field_violations_of(&status)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["request_id"]);
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM jobs").await, rows);
    m.stop().await;
}

#[tokio::test]
async fn a_retried_application_returns_the_first_with_one_row_and_one_event() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let cand = m.user(&["candidate"]);
    let (_, job) = m.posted_job(&owner).await;
    let cv = m.resume(&cand).await;
    let id = uuid::Uuid::new_v4().to_string();
    let first = apply_as(&m, &cand, &job, &cv, &id).await;
    // Without the request id this retry would be ALREADY_EXISTS (one open application).
    let again = apply_as(&m, &cand, &job, &cv, &id).await;
    assert_eq!(again, first);
    let db = job_db(&m).await;
    assert_eq!(
        scalar_i64(&db, "SELECT COUNT(*) FROM applications").await,
        1
    );
    assert_eq!(events(&db, "ApplicationChanged").await, 1);
    m.stop().await;
}

#[tokio::test]
async fn another_candidate_with_the_same_request_id_applies_on_its_own() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (a, b) = (m.user(&["candidate"]), m.user(&["candidate"]));
    let (_, job) = m.posted_job(&owner).await;
    let (cv_a, cv_b) = (m.resume(&a).await, m.resume(&b).await);
    let id = uuid::Uuid::new_v4().to_string();
    let first = apply_as(&m, &a, &job, &cv_a, &id).await;
    let second = apply_as(&m, &b, &job, &cv_b, &id).await;
    assert_ne!(first, second);
    let db = job_db(&m).await;
    assert_eq!(
        scalar_i64(&db, "SELECT COUNT(*) FROM applications").await,
        2
    );
    m.stop().await;
}

#[tokio::test]
async fn a_bad_request_id_on_create_application_is_refused_on_request_id() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let cand = m.user(&["candidate"]);
    let (_, job) = m.posted_job(&owner).await;
    let cv = m.resume(&cand).await;
    let mut body = apply(&job, &cv);
    body.request_id = "not-a-uuid".into();
    let status = fails(
        m.apps.clone().create_application(req(body, &cand)).await,
        Code::InvalidArgument,
    );
    let fields: Vec<String> = field_violations_of(&status)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["request_id"]);
    let db = job_db(&m).await;
    assert_eq!(
        scalar_i64(&db, "SELECT COUNT(*) FROM applications").await,
        0
    );
    m.stop().await;
}
