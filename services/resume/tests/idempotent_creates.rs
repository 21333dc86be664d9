//! AIP-155 request ids on CreateResume over raw gRPC: a retry with the same id returns the first
//! resume and writes nothing (one row, one event, no import budget spent); ids are per caller;
//! a malformed id is refused by field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{req, resume, start, Mesh, User};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_testkit::{fails, scalar_i64};
use tonic::Code;

fn create(request_id: &str) -> pb::CreateResumeRequest {
    pb::CreateResumeRequest {
        resume: Some(resume()),
        request_id: request_id.into(),
    }
}

async fn create_as(m: &Mesh, who: &User, body: pb::CreateResumeRequest) -> String {
    m.resumes
        .clone()
        .create_resume(req(body, who))
        .await
        .unwrap()
        .into_inner()
        .resume
        .unwrap()
        .name
}

#[tokio::test]
async fn a_retried_create_returns_the_first_resume_with_one_row_and_one_event() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    let id = uuid::Uuid::new_v4().to_string();
    let first = create_as(&m, &me, create(&id)).await;
    let mut other_body = create(&id);
    other_body.resume.as_mut().unwrap().title = "another title".into();
    let again = create_as(&m, &me, other_body).await;
    assert_eq!(again, first);
    let db = m.resume_env.mysql().await;
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM resumes").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM outbox").await, 1);
    m.stop().await;
}

#[tokio::test]
async fn another_candidate_with_the_same_request_id_creates_its_own() {
    let m = start().await;
    let (a, b) = (m.user(&["candidate"]), m.user(&["candidate"]));
    let id = uuid::Uuid::new_v4().to_string();
    let first = create_as(&m, &a, create(&id)).await;
    let second = create_as(&m, &b, create(&id)).await;
    assert_ne!(first, second);
    let db = m.resume_env.mysql().await;
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM resumes").await, 2);
    m.stop().await;
}

#[tokio::test]
async fn a_request_id_that_is_not_a_uuid_is_refused_on_request_id() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    let status = fails(
        m.resumes
            .clone()
            .create_resume(req(create("00000000-0000-0000-0000"), &me))
            .await,
        Code::InvalidArgument,
    );
    let fields: Vec<String> = field_violations_of(&status)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["request_id"]);
    let db = m.resume_env.mysql().await;
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM resumes").await, 0);
    m.stop().await;
}
