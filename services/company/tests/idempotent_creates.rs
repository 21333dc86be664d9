//! AIP-155 request ids on CreateCompany over raw gRPC: a retry with the same id returns the
//! first company and writes nothing; ids are per caller; a malformed id is refused by field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fails, req, start, User};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::scalar_i64;
use tonic::Code;

fn create(display_name: &str, request_id: &str) -> pb::CreateCompanyRequest {
    pb::CreateCompanyRequest {
        company: Some(pb::Company {
            display_name: display_name.into(),
            industry: "software".into(),
            city_code: "310000".into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

async fn create_as(t: &common::Running, who: &User, body: pb::CreateCompanyRequest) -> String {
    t.companies
        .clone()
        .create_company(req(body, who))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap()
        .name
}

#[tokio::test]
async fn a_retry_with_the_same_request_id_returns_the_first_company_and_writes_nothing() {
    let t = start().await;
    let owner = t.employer();
    let id = uuid::Uuid::new_v4().to_string();
    let first = create_as(&t, &owner, create("星河科技", &id)).await;
    let db = t.env.mysql().await;
    let events = scalar_i64(&db, "SELECT COUNT(*) FROM outbox").await;
    assert!(events >= 1);

    // Same id, even with another body (AIP-155 allows returning the first answer).
    let again = create_as(&t, &owner, create("another name", &id)).await;
    assert_eq!(again, first);
    let replayed = t
        .companies
        .clone()
        .create_company(req(create("星河科技", &id.to_uppercase()), &owner))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(replayed.name, first);
    assert_eq!(replayed.display_name, "星河科技");

    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM companies").await, 1);
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM outbox").await, events);
    t.stop().await;
}

#[tokio::test]
async fn another_caller_with_the_same_request_id_creates_its_own() {
    let t = start().await;
    let (a, b) = (t.employer(), t.employer());
    let id = uuid::Uuid::new_v4().to_string();
    let first = create_as(&t, &a, create("甲", &id)).await;
    let second = create_as(&t, &b, create("乙", &id)).await;
    assert_ne!(first, second);
    let db = t.env.mysql().await;
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM companies").await, 2);
    t.stop().await;
}

#[tokio::test]
async fn without_a_request_id_every_call_creates() {
    let t = start().await;
    let owner = t.employer();
    let first = create_as(&t, &owner, create("甲", "")).await;
    let second = create_as(&t, &owner, create("甲", "")).await;
    assert_ne!(first, second);
    t.stop().await;
}

#[tokio::test]
async fn a_request_id_that_is_not_a_uuid_is_refused_on_request_id() {
    let t = start().await;
    let owner = t.employer();
    let status = fails(
        t.companies
            .clone()
            .create_company(req(create("甲", "retry-1"), &owner))
            .await,
        Code::InvalidArgument,
    );
    let fields: Vec<String> = field_violations_of(&status)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["request_id"]);
    let db = t.env.mysql().await;
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM companies").await, 0);
    t.stop().await;
}

#[tokio::test]
async fn a_duplicate_while_the_first_is_in_flight_is_aborted() {
    let t = start().await;
    let owner = t.employer();
    let id = uuid::Uuid::new_v4().to_string();
    // The claim a running first request holds, as it would be in Redis.
    let key = format!(
        "{}request:{}:CreateCompany:{id}",
        t.env.redis_prefix, owner.id
    );
    let mut redis = t.env.redis().await;
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("pending:someone")
        .arg("EX")
        .arg(60)
        .query_async(&mut redis)
        .await
        .unwrap();
    let status = fails(
        t.companies
            .clone()
            .create_company(req(create("甲", &id), &owner))
            .await,
        Code::Aborted,
    );
    assert!(status.message().contains("in progress"), "{status:?}");
    let db = t.env.mysql().await;
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM companies").await, 0);

    // Once the first is gone (its claim released or expired), the id creates.
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    create_as(&t, &owner, create("甲", &id)).await;
    assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM companies").await, 1);
    t.stop().await;
}
