//! Jobs over raw gRPC with the company service beside them (permissions and offices come from
//! it), on the real stores: validation, who may write, drafts versus published, the search in
//! Chinese and English with its filters, closing and reopening, and the job graph feeding the
//! company's competitor analysis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::error::field_violations_of;
use talentmesh_mesh::MeshChannel;
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::company::v1::membership_service_client::MembershipServiceClient;
use talentmesh_proto::job::v1 as pb;
use talentmesh_proto::job::v1::job_service_client::JobServiceClient;
use talentmesh_testkit::{eventually, Spawned, TestEnv, TestKeys};
use tonic::transport::Channel;
use tonic::Code;

const PATIENCE: Duration = Duration::from_secs(20);

struct Mesh {
    company: Spawned,
    job: Spawned,
    _company_env: TestEnv,
    job_env: TestEnv,
    keys: Arc<TestKeys>,
    companies: CompanyServiceClient<Channel>,
    members: MembershipServiceClient<Channel>,
    jobs: JobServiceClient<Channel>,
}

async fn start() -> Mesh {
    let keys = TestKeys::new();
    let company_env = TestEnv::new("company").set("TALENTMESH_COMPANY_CHECK_EVERY", "0s");
    let config = talentmesh_company::Config::load(company_env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let company = Spawned::service(&mesh, move |l| {
        talentmesh_company::run(config, l.with_verifier(verifier))
    })
    .await;

    let job_env = TestEnv::new("job")
        .set("TALENTMESH_JOB_CHECK_EVERY", "0s")
        .set(
            "TALENTMESH_JOB_COMPANY_GRAPH_NAMESPACE",
            company_env.neo4j_namespace.clone(),
        );
    let config = talentmesh_job::Config::load(job_env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let company_channel = MeshChannel::fixed("company", &[company.url()], Duration::from_secs(5));
    // No resume service here: these tests do not apply.
    let resume_channel = MeshChannel::fixed(
        "resume",
        &["http://127.0.0.1:9".to_string()],
        Duration::from_secs(1),
    );
    let job = Spawned::service(&mesh, move |l| {
        let l = l
            .with_verifier(verifier)
            .with_upstream("company", company_channel);
        talentmesh_job::run(config, l.with_upstream("resume", resume_channel))
    })
    .await;

    let c = Channel::from_shared(company.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let j = Channel::from_shared(job.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    Mesh {
        companies: CompanyServiceClient::new(c.clone()),
        members: MembershipServiceClient::new(c),
        jobs: JobServiceClient::new(j),
        company,
        job,
        _company_env: company_env,
        job_env,
        keys,
    }
}

#[derive(Clone)]
struct User {
    id: String,
    token: String,
}

impl Mesh {
    fn user(&self, roles: &[&str]) -> User {
        let id = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        User {
            token: self.keys.token(&id, roles),
            id,
        }
    }

    /// Creates `job` in `company` as `who` and publishes it; the job as created.
    async fn post(&self, who: &User, company: &str, job: pb::Job) -> pb::Job {
        let mut jobs = self.jobs.clone();
        let created = jobs
            .create_job(req(
                pb::CreateJobRequest {
                    parent: company.to_string(),
                    job: Some(job),
                },
                who,
            ))
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        jobs.publish_job(req(
            pb::PublishJobRequest {
                name: created.name.clone(),
            },
            who,
        ))
        .await
        .unwrap();
        created
    }

    async fn stop(self) {
        self.job.stop().await;
        self.company.stop().await;
    }
}

fn req<T>(msg: T, who: &User) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", who.token).parse().unwrap(),
    );
    r
}

use talentmesh_testkit::fails;

async fn company(m: &Mesh, owner: &User, name: &str) -> (String, String) {
    let c = m
        .companies
        .clone()
        .create_company(req(
            cpb::CreateCompanyRequest {
                company: Some(cpb::Company {
                    display_name: name.into(),
                    industry: "software".into(),
                    city_code: "440300".into(),
                    ..Default::default()
                }),
            },
            owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    let office = m
        .companies
        .clone()
        .create_office(req(
            cpb::CreateOfficeRequest {
                parent: c.name.clone(),
                office: Some(cpb::Office {
                    address: "南山区科技园".into(),
                    city_code: "440300".into(),
                    location: Some(cpb::GeoPoint {
                        latitude: 22.54,
                        longitude: 113.95,
                        system: 0,
                    }),
                    ..Default::default()
                }),
            },
            owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .office
        .unwrap();
    (c.name, office.name)
}

fn job(title: &str, skills: &[&str]) -> pb::Job {
    pb::Job {
        title: title.into(),
        description: "构建高并发的招聘平台 / build the hiring platform".into(),
        required_skills: skills.iter().map(|s| s.to_string()).collect(),
        salary_min: 25_000,
        salary_max: 40_000,
        city_code: "440300".into(),
        recruit_type: pb::RecruitType::Social as i32,
        headcount: 2,
        ..Default::default()
    }
}

async fn search(m: &Mesh, r: pb::SearchJobsRequest) -> Vec<String> {
    m.jobs
        .clone()
        .search_jobs(tonic::Request::new(r))
        .await
        .unwrap()
        .into_inner()
        .jobs
        .into_iter()
        .map(|j| j.title)
        .collect()
}

/// Both of the job service's contracts (and the sync admin) report SERVING, and reflection lists
/// exactly those: the application service once had no health status at all.
#[tokio::test]
async fn the_job_and_application_services_report_their_health() {
    let m = start().await;
    talentmesh_testkit::assert_serving_exactly(
        m.job.addr,
        &[
            "talentmesh.job.v1.ApplicationService",
            "talentmesh.job.v1.JobService",
            "talentmesh.sync.v1.SyncAdminService",
        ],
    )
    .await;
    talentmesh_testkit::assert_serving_exactly(
        m.company.addr,
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

#[tokio::test]
async fn a_revoked_recruiter_cannot_write_and_shared_skills_reach_the_competitor_analysis() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let recruiter = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Alpha").await;
    // The recruiter joins Alpha.
    let inv = m
        .members
        .clone()
        .create_invitation(req(
            cpb::CreateInvitationRequest {
                parent: co.clone(),
                invitation: Some(cpb::Invitation {
                    email: format!("{}@example.com", recruiter.id),
                    role: cpb::MemberRole::Recruiter as i32,
                    ..Default::default()
                }),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .invitation
        .unwrap();
    m.members
        .clone()
        .accept_invitation(req(
            cpb::AcceptInvitationRequest { name: inv.name },
            &recruiter,
        ))
        .await
        .unwrap();
    let mut jobs = m.jobs.clone();
    let posted = m
        .post(&recruiter, &co, job("Rust Engineer", &["Rust", "Kafka"]))
        .await;

    // Demoted to viewer: the very next write is refused.
    m.members
        .clone()
        .update_member_role(req(
            cpb::UpdateMemberRoleRequest {
                name: format!("{co}/members/{}", recruiter.id),
                role: cpb::MemberRole::Viewer as i32,
            },
            &owner,
        ))
        .await
        .unwrap();
    fails(
        jobs.close_job(req(
            pb::CloseJobRequest {
                name: posted.name.clone(),
            },
            &recruiter,
        ))
        .await,
        Code::PermissionDenied,
    );
    // Another company's member cannot touch it either.
    let beta_owner = m.user(&["employer"]);
    fails(
        jobs.close_job(req(
            pb::CloseJobRequest {
                name: posted.name.clone(),
            },
            &beta_owner,
        ))
        .await,
        Code::PermissionDenied,
    );

    // Beta (same industry and city) seeks Rust too.
    let beta_boss = m.user(&["employer"]);
    let (beta, _) = company(&m, &beta_boss, "Beta").await;
    m.post(&beta_boss, &beta, job("Rust Developer", &["rust", "Redis"]))
        .await;
    let shared = eventually(PATIENCE, || async {
        let rivals = m
            .companies
            .clone()
            .analyze_competitors(req(
                cpb::AnalyzeCompetitorsRequest {
                    name: co.clone(),
                    limit: 10,
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .competitors;
        rivals.iter().any(|r| {
            r.company == beta
                && r.reasons
                    .iter()
                    .any(|x| x == "1 skills sought by both: rust")
        })
    })
    .await;
    assert!(shared, "shared skills not seen by the competitor analysis");
    m.stop().await;
}

#[tokio::test]
async fn relevance_ranks_title_matches_first_and_pages_through_both_tiers() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Tiers").await;
    // Published oldest first: two jobs with the words in the title, two with them only in the
    // description, one without them.
    let postings = [
        ("Rust工程师（初级）", "构建高并发的招聘平台"),
        ("平台开发", "寻找熟悉Rust工程师文化的同事"),
        ("高级Rust工程师", "构建高并发的招聘平台"),
        ("数据平台", "我们需要Rust工程师"),
        ("Java开发", "构建高并发的招聘平台"),
    ];
    for (title, description) in postings {
        m.post(
            &owner,
            &co,
            pb::Job {
                description: description.into(),
                ..job(title, &["Rust"])
            },
        )
        .await;
    }
    let indexed = eventually(PATIENCE, || async {
        search(&m, pb::SearchJobsRequest::default()).await.len() == 5
    })
    .await;
    assert!(indexed, "five published jobs in the index");
    let q = |order_by: &str, page_size: i32, page_token: String| pb::SearchJobsRequest {
        query: "Rust工程师".into(),
        order_by: order_by.into(),
        page_size,
        page_token,
        ..Default::default()
    };
    let ranked = [
        "高级Rust工程师",
        "Rust工程师（初级）",
        "数据平台",
        "平台开发",
    ];
    assert_eq!(search(&m, q("relevance", 0, String::new())).await, ranked);
    assert_eq!(
        search(&m, q("recency", 0, String::new())).await,
        [
            "数据平台",
            "高级Rust工程师",
            "平台开发",
            "Rust工程师（初级）"
        ]
    );
    // Pages of three and of one walk the same order, across the two tiers, and end.
    for size in [3, 1] {
        let mut seen = Vec::new();
        let mut token = String::new();
        for _ in 0..10 {
            let page = m
                .jobs
                .clone()
                .search_jobs(tonic::Request::new(q("relevance", size, token.clone())))
                .await
                .unwrap()
                .into_inner();
            seen.extend(page.jobs.into_iter().map(|j| j.title));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen, ranked, "pages of {size}");
    }
    m.stop().await;
}
