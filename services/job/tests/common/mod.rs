//! The harness of the job service's tests: the company and job services started in-process on
//! OS-chosen ports against the real local servers, each in a [`TestEnv`] of its own, with tokens
//! signed by a key the test owns; users, authorized requests, a company with an office, and
//! jobs to post and search. [`applications`] adds the resume service for the application tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod applications;

use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::MeshChannel;
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::company::v1::membership_service_client::MembershipServiceClient;
use talentmesh_proto::job::v1 as pb;
use talentmesh_proto::job::v1::job_service_client::JobServiceClient;
use talentmesh_testkit::{Spawned, TestEnv, TestKeys};
use tonic::transport::Channel;

/// How long the projections (search, cache, graph) get to catch up with a write.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Mesh {
    pub company: Spawned,
    pub job: Spawned,
    pub _company_env: TestEnv,
    pub job_env: TestEnv,
    pub keys: Arc<TestKeys>,
    pub companies: CompanyServiceClient<Channel>,
    pub members: MembershipServiceClient<Channel>,
    pub jobs: JobServiceClient<Channel>,
}

pub async fn start() -> Mesh {
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
pub struct User {
    pub id: String,
    pub token: String,
}

impl Mesh {
    pub fn user(&self, roles: &[&str]) -> User {
        let id = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        User {
            token: self.keys.token(&id, roles),
            id,
        }
    }

    /// Creates `job` in `company` as `who` and publishes it; the job as created.
    pub async fn post(&self, who: &User, company: &str, job: pb::Job) -> pb::Job {
        let mut jobs = self.jobs.clone();
        let created = jobs
            .create_job(req(
                pb::CreateJobRequest {
                    parent: company.to_string(),
                    job: Some(job),
                    ..Default::default()
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

    pub async fn stop(self) {
        self.job.stop().await;
        self.company.stop().await;
    }
}

pub fn req<T>(msg: T, who: &User) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", who.token).parse().unwrap(),
    );
    r
}

pub async fn company(m: &Mesh, owner: &User, name: &str) -> (String, String) {
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
                ..Default::default()
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
                ..Default::default()
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

pub fn job(title: &str, skills: &[&str]) -> pb::Job {
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

pub async fn search(m: &Mesh, r: pb::SearchJobsRequest) -> Vec<String> {
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
