//! What an attacker's probe of the job service found, held shut over raw gRPC (no gateway in
//! front): another company's draft answers a change exactly like a job that does not exist;
//! and every string and repeated field is capped, the search's skill filter included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{company, job, req, start};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::job::v1 as pb;
use talentmesh_testkit::fails;
use tonic::Code;

#[tokio::test]
async fn another_companys_draft_answers_a_change_like_a_missing_job() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Drafts Co").await;
    let mut jobs = m.jobs.clone();
    let draft = jobs
        .create_job(req(
            pb::CreateJobRequest {
                parent: co.clone(),
                job: Some(job("Secret Rust role", &["Rust"])),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let missing = format!("{co}/jobs/00000000-0000-7000-8000-000000000000");
    let stranger = m.user(&["employer"]);

    let update = |name: &str| {
        req(
            pb::UpdateJobRequest {
                job: Some(pb::Job {
                    name: name.to_string(),
                    title: "pwned".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
                expected_version: 0,
            },
            &stranger,
        )
    };
    let publish = |name: &str| {
        req(
            pb::PublishJobRequest {
                name: name.to_string(),
            },
            &stranger,
        )
    };
    let on_draft = fails(jobs.update_job(update(&draft.name)).await, Code::NotFound);
    let on_missing = fails(jobs.update_job(update(&missing)).await, Code::NotFound);
    assert_eq!(on_draft.message(), on_missing.message());
    assert_eq!(on_draft.details(), on_missing.details());
    let on_draft = fails(jobs.publish_job(publish(&draft.name)).await, Code::NotFound);
    let on_missing = fails(jobs.publish_job(publish(&missing)).await, Code::NotFound);
    assert_eq!(on_draft.message(), on_missing.message());

    // Once published the job is public, and a refusal may say why.
    jobs.publish_job(req(
        pb::PublishJobRequest {
            name: draft.name.clone(),
        },
        &owner,
    ))
    .await
    .unwrap();
    fails(
        jobs.update_job(update(&draft.name)).await,
        Code::PermissionDenied,
    );
    m.stop().await;
}

fn fields_of(s: &tonic::Status) -> Vec<String> {
    field_violations_of(s)
        .into_iter()
        .map(|v| v.field)
        .collect()
}

#[tokio::test]
async fn search_filters_and_masks_are_capped_on_raw_grpc() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Caps Co").await;
    let mut jobs = m.jobs.clone();
    let big = "rust".repeat(750_000); // 3 MB, under the 4 MiB message limit

    // The skill filter that once took 3 MB, and the other strings beside it.
    for (r, field) in [
        (
            pb::SearchJobsRequest {
                skill: big.clone(),
                ..Default::default()
            },
            "skill",
        ),
        (
            pb::SearchJobsRequest {
                skill: "r".repeat(41),
                ..Default::default()
            },
            "skill",
        ),
        (
            pb::SearchJobsRequest {
                query: big.clone(),
                ..Default::default()
            },
            "query",
        ),
        (
            pb::SearchJobsRequest {
                order_by: big.clone(),
                ..Default::default()
            },
            "order_by",
        ),
        (
            pb::SearchJobsRequest {
                page_token: "A".repeat(100_000),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let s = fails(
            jobs.search_jobs(tonic::Request::new(r)).await,
            Code::InvalidArgument,
        );
        assert_eq!(fields_of(&s), [field]);
        assert!(
            s.details().len() < 4096,
            "{field}: {} bytes",
            s.details().len()
        );
    }
    // A skill at the cap is a search like any other.
    jobs.search_jobs(tonic::Request::new(pb::SearchJobsRequest {
        skill: "r".repeat(40),
        ..Default::default()
    }))
    .await
    .expect("a 40-character skill");

    // An office name of a megabyte is refused before it is looked up.
    let s = fails(
        jobs.create_job(req(
            pb::CreateJobRequest {
                parent: co.clone(),
                job: Some(pb::Job {
                    office: format!("{co}/offices/{big}"),
                    ..job("Rust", &[])
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields_of(&s), ["job.office"]);

    // An update mask of 10,000 unknown paths is one refusal, not 10,000 echoed back.
    let posted = m.post(&owner, &co, job("Rust", &["Rust"])).await;
    let s = fails(
        jobs.update_job(req(
            pb::UpdateJobRequest {
                job: Some(pb::Job {
                    name: posted.name.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: (0..10_000).map(|i| format!("p{i}")).collect(),
                }),
                expected_version: 0,
            },
            &owner,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields_of(&s), ["update_mask"]);
    m.stop().await;
}
