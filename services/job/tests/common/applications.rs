//! The harness of the application tests: the company, resume and job services started
//! in-process (the job service calls the other two, the resume service reads the job service's
//! events), a posted job, a candidate's resume, and the requests to apply and to move an
//! application. Users and authorized requests are the common ones ([`super::User`],
//! [`super::req`]).

use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::MeshChannel;
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::job::v1 as pb;
use talentmesh_proto::job::v1::application_service_client::ApplicationServiceClient;
use talentmesh_proto::job::v1::job_service_client::JobServiceClient;
use talentmesh_proto::resume::v1 as rpb;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;
use talentmesh_testkit::{Spawned, TestEnv, TestKeys};
use tonic::transport::Channel;

use super::{req, User};

pub struct Mesh {
    pub services: Vec<Spawned>,
    pub _envs: Vec<TestEnv>,
    pub keys: Arc<TestKeys>,
    pub companies: CompanyServiceClient<Channel>,
    pub resumes: ResumeServiceClient<Channel>,
    pub jobs: JobServiceClient<Channel>,
    pub apps: ApplicationServiceClient<Channel>,
}

pub async fn channel(s: &Spawned) -> Channel {
    Channel::from_shared(s.url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

pub async fn start() -> Mesh {
    let keys = TestKeys::new();
    let cenv = TestEnv::new("company").set("TALENTMESH_COMPANY_CHECK_EVERY", "0s");
    let config = talentmesh_company::Config::load(cenv.env()).unwrap();
    let (mesh, v) = (config.mesh.clone(), keys.verifier());
    let company = Spawned::service(&mesh, move |l| {
        talentmesh_company::run(config, l.with_verifier(v))
    })
    .await;
    let fixed =
        |name: &str, s: &Spawned| MeshChannel::fixed(name, &[s.url()], Duration::from_secs(5));

    let jenv = TestEnv::new("job")
        .set("TALENTMESH_JOB_CHECK_EVERY", "0s")
        .set(
            "TALENTMESH_JOB_COMPANY_GRAPH_NAMESPACE",
            cenv.neo4j_namespace.clone(),
        );
    // The resume service reads the job service's events (applications open resumes).
    let renv = TestEnv::new("resume")
        .set("TALENTMESH_RESUME_CHECK_EVERY", "0s")
        .set(
            "TALENTMESH_RESUME_JOB_EVENTS_STREAM",
            format!("{}events", jenv.redis_prefix),
        )
        .set(
            "TALENTMESH_RESUME_SHARED_GRAPH_NAMESPACE",
            cenv.neo4j_namespace.clone(),
        );
    let config = talentmesh_resume::Config::load(renv.env()).unwrap();
    let (mesh, v, c) = (
        config.mesh.clone(),
        keys.verifier(),
        fixed("company", &company),
    );
    let resume = Spawned::service(&mesh, move |l| {
        talentmesh_resume::run(config, l.with_verifier(v).with_upstream("company", c))
    })
    .await;

    let config = talentmesh_job::Config::load(jenv.env()).unwrap();
    let (mesh, v) = (config.mesh.clone(), keys.verifier());
    let (c, r) = (fixed("company", &company), fixed("resume", &resume));
    let job = Spawned::service(&mesh, move |l| {
        let l = l.with_verifier(v).with_upstream("company", c);
        talentmesh_job::run(config, l.with_upstream("resume", r))
    })
    .await;

    let (c, r, j) = (
        channel(&company).await,
        channel(&resume).await,
        channel(&job).await,
    );
    Mesh {
        companies: CompanyServiceClient::new(c),
        resumes: ResumeServiceClient::new(r),
        jobs: JobServiceClient::new(j.clone()),
        apps: ApplicationServiceClient::new(j),
        services: vec![job, resume, company],
        _envs: vec![jenv, renv, cenv],
        keys,
    }
}

impl Mesh {
    pub fn user(&self, roles: &[&str]) -> User {
        let id = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        User {
            token: self.keys.token(&id, roles),
            id,
        }
    }

    pub async fn stop(self) {
        for s in self.services {
            s.stop().await;
        }
    }

    pub async fn posted_job(&self, owner: &User) -> (String, String) {
        let company = self
            .companies
            .clone()
            .create_company(req(
                cpb::CreateCompanyRequest {
                    company: Some(cpb::Company {
                        display_name: "Acme".into(),
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
            .unwrap()
            .name;
        let job = self.draft_job(owner, &company, "Rust Engineer").await;
        self.jobs
            .clone()
            .publish_job(req(pb::PublishJobRequest { name: job.clone() }, owner))
            .await
            .unwrap();
        (company, job)
    }

    /// A job of `company` named `title`, created by `owner` and left a draft.
    pub async fn draft_job(&self, owner: &User, company: &str, title: &str) -> String {
        self.jobs
            .clone()
            .create_job(req(
                pb::CreateJobRequest {
                    parent: company.to_string(),
                    job: Some(pb::Job {
                        title: title.into(),
                        city_code: "310000".into(),
                        recruit_type: pb::RecruitType::Social as i32,
                        headcount: 1,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap()
            .name
    }

    pub async fn resume(&self, who: &User) -> String {
        self.resumes
            .clone()
            .create_resume(req(
                rpb::CreateResumeRequest {
                    resume: Some(rpb::Resume {
                        title: "CV".into(),
                        contact: Some(rpb::Contact {
                            email: format!("{}@example.com", who.id),
                            phone: String::new(),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                who,
            ))
            .await
            .unwrap()
            .into_inner()
            .resume
            .unwrap()
            .name
    }
}

pub fn apply(job: &str, resume: &str) -> pb::CreateApplicationRequest {
    pb::CreateApplicationRequest {
        parent: job.to_string(),
        application: Some(pb::Application {
            resume: resume.to_string(),
            stage: pb::Stage::Hired as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn mv(name: &str, stage: pb::Stage, reason: &str) -> pb::MoveApplicationRequest {
    pb::MoveApplicationRequest {
        name: name.to_string(),
        stage: stage as i32,
        reason: reason.into(),
    }
}
