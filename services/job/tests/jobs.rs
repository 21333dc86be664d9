//! Jobs over raw gRPC with the company service beside them (permissions and offices come from
//! it), on the real stores: the services' health, then a job's whole life — validation, who may
//! write, drafts versus published, the search in Chinese and English with its filters, closing
//! and reopening, and updates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{company, job, req, search, start, PATIENCE};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::job::v1 as pb;
use talentmesh_testkit::{eventually, fails};
use tonic::Code;

/// Both of the job service's contracts (and the sync admin) report SERVING, and reflection lists
/// exactly those: the application service once had no health status at all.
#[tokio::test]
async fn the_job_and_application_services_report_their_health() {
    let m = start().await;
    talentmesh_testkit::assert_serving_exactly(
        &m.job,
        &[
            "talentmesh.job.v1.ApplicationService",
            "talentmesh.job.v1.JobService",
            "talentmesh.sync.v1.SyncAdminService",
        ],
    )
    .await;
    talentmesh_testkit::assert_serving_exactly(
        &m.company,
        &[
            "talentmesh.company.v1.CompanyService",
            "talentmesh.company.v1.MembershipService",
            "talentmesh.sync.v1.SyncAdminService",
        ],
    )
    .await;
    m.stop().await;
}

#[tokio::test]
async fn members_post_validated_jobs_that_search_finds_in_chinese_and_english() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, office) = company(&m, &owner, "星河科技").await;
    let mut jobs = m.jobs.clone();

    // Bad input names the field and writes nothing.
    let cases: Vec<(pb::Job, &str)> = vec![
        (
            pb::Job {
                salary_min: 50_000,
                salary_max: 40_000,
                ..job("x", &[])
            },
            "job.salary_min",
        ),
        (
            pb::Job {
                city_code: "999999".into(),
                ..job("x", &[])
            },
            "job.city_code",
        ),
        (
            job("x", &(0..31).map(|_| "rust").collect::<Vec<_>>()),
            "job.required_skills",
        ),
        (
            pb::Job {
                description: "字".repeat(10_001),
                ..job("x", &[])
            },
            "job.description",
        ),
        (
            pb::Job {
                recruit_type: pb::RecruitType::Campus as i32,
                ..job("x", &[])
            },
            "job.graduation_year",
        ),
        (
            pb::Job {
                office: "companies/00000000-0000-7000-8000-000000000000/offices/x".into(),
                ..job("x", &[])
            },
            "job.office",
        ),
    ];
    for (bad, field) in cases {
        let s = fails(
            jobs.create_job(req(
                pb::CreateJobRequest {
                    parent: co.clone(),
                    job: Some(bad),
                    ..Default::default()
                },
                &owner,
            ))
            .await,
            Code::InvalidArgument,
        );
        let fields: Vec<String> = field_violations_of(&s)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert!(fields.contains(&field.to_string()), "{field}: {fields:?}");
    }
    let pool = m.job_env.mysql().await;
    assert_eq!(
        talentmesh_testkit::scalar_i64(&pool, "SELECT COUNT(*) FROM jobs").await,
        0,
        "nothing written"
    );

    // Only members with job.write post.
    let stranger = m.user(&["employer"]);
    fails(
        jobs.create_job(req(
            pb::CreateJobRequest {
                parent: co.clone(),
                job: Some(job("x", &[])),
                ..Default::default()
            },
            &stranger,
        ))
        .await,
        Code::PermissionDenied,
    );
    fails(
        jobs.create_job(tonic::Request::new(pb::CreateJobRequest {
            parent: co.clone(),
            job: Some(job("x", &[])),
            ..Default::default()
        }))
        .await,
        Code::Unauthenticated,
    );

    // The office gives the city; server fields are the server's.
    let draft = jobs
        .create_job(req(
            pb::CreateJobRequest {
                parent: co.clone(),
                job: Some(pb::Job {
                    office: office.clone(),
                    city_code: String::new(),
                    state: pb::JobState::Published as i32,
                    version: 9,
                    ..job("高级Rust后端工程师", &["Rust", "Go", "SQL"])
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(draft.state, pb::JobState::Draft as i32);
    assert_eq!(draft.version, 1);
    assert_eq!(draft.city_code, "440300");
    // A draft is the company's business only.
    fails(
        jobs.get_job(tonic::Request::new(pb::GetJobRequest {
            name: draft.name.clone(),
        }))
        .await,
        Code::NotFound,
    );
    fails(
        jobs.get_job(req(
            pb::GetJobRequest {
                name: draft.name.clone(),
            },
            &stranger,
        ))
        .await,
        Code::NotFound,
    );
    jobs.get_job(req(
        pb::GetJobRequest {
            name: draft.name.clone(),
        },
        &owner,
    ))
    .await
    .unwrap();

    let english = jobs
        .create_job(req(
            pb::CreateJobRequest {
                parent: co.clone(),
                job: Some(pb::Job {
                    salary_min: 10_000,
                    salary_max: 15_000,
                    city_code: "310000".into(),
                    ..job("Senior Rust Engineer", &["Rust", "Kubernetes"])
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let intern = jobs
        .create_job(req(
            pb::CreateJobRequest {
                parent: co.clone(),
                job: Some(pb::Job {
                    recruit_type: pb::RecruitType::Intern as i32,
                    ..job("Java开发实习生", &["Java"])
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    for j in [&draft, &english, &intern] {
        jobs.publish_job(req(
            pb::PublishJobRequest {
                name: j.name.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    }
    fails(
        jobs.publish_job(req(
            pb::PublishJobRequest {
                name: draft.name.clone(),
            },
            &owner,
        ))
        .await,
        Code::FailedPrecondition,
    );
    let public = jobs
        .get_job(tonic::Request::new(pb::GetJobRequest {
            name: draft.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(public.state, pb::JobState::Published as i32);

    let indexed = eventually(PATIENCE, || async {
        search(&m, pb::SearchJobsRequest::default()).await.len() == 3
    })
    .await;
    assert!(indexed, "three published jobs in the index");
    let q = |query: &str| pb::SearchJobsRequest {
        query: query.into(),
        ..Default::default()
    };
    assert_eq!(search(&m, q("Rust工程师")).await, ["高级Rust后端工程师"]);
    assert_eq!(
        search(&m, q("rust engineer")).await,
        ["Senior Rust Engineer"]
    );
    assert_eq!(search(&m, q("实习")).await, ["Java开发实习生"]);
    assert_eq!(
        search(
            &m,
            pb::SearchJobsRequest {
                city_code: "310000".into(),
                ..Default::default()
            }
        )
        .await,
        ["Senior Rust Engineer"]
    );
    let mut rust = search(
        &m,
        pb::SearchJobsRequest {
            skill: "rust".into(),
            ..Default::default()
        },
    )
    .await;
    rust.sort();
    assert_eq!(rust, ["Senior Rust Engineer", "高级Rust后端工程师"]);
    // Salary ranges overlap: 30k–50k meets 25k–40k, not 10k–15k.
    let mut paid = search(
        &m,
        pb::SearchJobsRequest {
            salary_min: 30_000,
            salary_max: 50_000,
            ..Default::default()
        },
    )
    .await;
    paid.sort();
    assert_eq!(paid, ["Java开发实习生", "高级Rust后端工程师"]);
    assert_eq!(
        search(
            &m,
            pb::SearchJobsRequest {
                recruit_type: pb::RecruitType::Intern as i32,
                ..Default::default()
            }
        )
        .await,
        ["Java开发实习生"]
    );
    assert_eq!(
        search(
            &m,
            pb::SearchJobsRequest {
                order_by: "recency".into(),
                page_size: 1,
                ..Default::default()
            }
        )
        .await,
        ["Java开发实习生"]
    );
    fails(
        m.jobs
            .clone()
            .search_jobs(tonic::Request::new(pb::SearchJobsRequest {
                salary_min: 5,
                salary_max: 1,
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );

    // Closed: gone from search, still the company's to read; reopened: back.
    jobs.close_job(req(
        pb::CloseJobRequest {
            name: english.name.clone(),
        },
        &owner,
    ))
    .await
    .unwrap();
    let gone = eventually(PATIENCE, || async {
        search(&m, q("rust engineer")).await.is_empty()
    })
    .await;
    assert!(gone, "a closed job is still found");
    // Public reads come from the Redis cache, which trails the close by its projection's lag.
    let hidden = eventually(PATIENCE, || async {
        let got = m
            .jobs
            .clone()
            .get_job(tonic::Request::new(pb::GetJobRequest {
                name: english.name.clone(),
            }))
            .await;
        got.err().map(|s| s.code()) == Some(Code::NotFound)
    })
    .await;
    assert!(hidden, "a closed job is still public");
    let closed = jobs
        .get_job(req(
            pb::GetJobRequest {
                name: english.name.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(closed.state, pb::JobState::Closed as i32);
    jobs.reopen_job(req(
        pb::ReopenJobRequest {
            name: english.name.clone(),
        },
        &owner,
    ))
    .await
    .unwrap();
    let back = eventually(PATIENCE, || async {
        search(&m, q("rust engineer")).await.len() == 1
    })
    .await;
    assert!(back, "a reopened job is not found");

    // Updates: only mutable fields, validated, and the new title is searchable.
    fails(
        jobs.update_job(req(
            pb::UpdateJobRequest {
                job: Some(pb::Job {
                    name: draft.name.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["state".into()],
                }),
                expected_version: 0,
            },
            &owner,
        ))
        .await,
        Code::InvalidArgument,
    );
    let renamed = jobs
        .update_job(req(
            pb::UpdateJobRequest {
                job: Some(pb::Job {
                    name: draft.name.clone(),
                    title: "资深Rust架构师".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
                expected_version: 0,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(renamed.title, "资深Rust架构师");
    assert_eq!(renamed.required_skills, ["Rust", "Go", "SQL"]);
    let found = eventually(PATIENCE, || async {
        search(&m, q("架构师")).await == ["资深Rust架构师"]
    })
    .await;
    assert!(found, "updated title not searchable");
    let fresh = eventually(PATIENCE, || async {
        let j = m
            .jobs
            .clone()
            .get_job(tonic::Request::new(pb::GetJobRequest {
                name: draft.name.clone(),
            }))
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        j.title == "资深Rust架构师" && j.version == renamed.version
    })
    .await;
    assert!(fresh, "the cached public read never showed the new version");
    m.stop().await;
}
