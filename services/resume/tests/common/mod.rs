//! The harness of the resume service's tests: the company and resume services started
//! in-process on OS-chosen ports against the real local servers, each in a [`TestEnv`] of its
//! own, with tokens signed by a key the test owns; users, authorized requests, creating and
//! saving resumes, and a full resume to start from.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::MeshChannel;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;
use talentmesh_testkit::{Spawned, TestEnv, TestKeys};
use tonic::transport::Channel;

pub struct Mesh {
    pub company: Spawned,
    pub resume: Spawned,
    pub _company_env: TestEnv,
    pub resume_env: TestEnv,
    pub keys: Arc<TestKeys>,
    pub companies: CompanyServiceClient<Channel>,
    pub resumes: ResumeServiceClient<Channel>,
}

pub async fn start() -> Mesh {
    start_with(&[]).await
}

/// [`start`] with more variables for the resume service (e.g. `TALENTMESH_GRPC_MAX_MESSAGE`).
pub async fn start_with(resume_vars: &[(&str, &str)]) -> Mesh {
    let keys = TestKeys::new();
    let company_env = TestEnv::new("company").set("TALENTMESH_COMPANY_CHECK_EVERY", "0s");
    let config = talentmesh_company::Config::load(company_env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let company = Spawned::service(&mesh, move |l| {
        talentmesh_company::run(config, l.with_verifier(verifier))
    })
    .await;
    let resume_env = TestEnv::new("resume")
        .set("TALENTMESH_RESUME_CHECK_EVERY", "0s")
        .set(
            "TALENTMESH_RESUME_SHARED_GRAPH_NAMESPACE",
            company_env.neo4j_namespace.clone(),
        );
    let resume_env = resume_vars
        .iter()
        .fold(resume_env, |env, (k, v)| env.set(k, *v));
    let config = talentmesh_resume::Config::load(resume_env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let channel = MeshChannel::fixed("company", &[company.url()], Duration::from_secs(5));
    let resume = Spawned::service(&mesh, move |l| {
        talentmesh_resume::run(
            config,
            l.with_verifier(verifier).with_upstream("company", channel),
        )
    })
    .await;
    let c = Channel::from_shared(company.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let r = Channel::from_shared(resume.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    Mesh {
        companies: CompanyServiceClient::new(c),
        resumes: ResumeServiceClient::new(r),
        company,
        resume,
        _company_env: company_env,
        resume_env,
        keys,
    }
}

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

    /// Saves `resume` as a new version as `who` (0: whatever the current version is); the
    /// service's answer.
    pub async fn update(
        &self,
        who: &User,
        resume: pb::Resume,
        expected_version: i64,
    ) -> pb::Resume {
        self.resumes
            .clone()
            .update_resume(req(
                pb::UpdateResumeRequest {
                    resume: Some(resume),
                    expected_version,
                },
                who,
            ))
            .await
            .unwrap()
            .into_inner()
            .resume
            .unwrap()
    }

    /// Creates `resume` as `who`; the service's answer.
    pub async fn create(&self, who: &User, resume: pb::Resume) -> pb::Resume {
        self.resumes
            .clone()
            .create_resume(req(
                pb::CreateResumeRequest {
                    resume: Some(resume),
                    ..Default::default()
                },
                who,
            ))
            .await
            .unwrap()
            .into_inner()
            .resume
            .unwrap()
    }

    pub async fn stop(self) {
        self.resume.stop().await;
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

pub fn ym(year: i32, month: i32) -> Option<pb::YearMonth> {
    Some(pb::YearMonth { year, month })
}

pub fn resume() -> pb::Resume {
    pb::Resume {
        title: "后端工程师简历".into(),
        full_name: "韩梅梅".into(),
        headline: "Backend engineer".into(),
        contact: Some(pb::Contact {
            email: "mei@example.com".into(),
            phone: "13800000000".into(),
        }),
        experience: vec![pb::Experience {
            company: "Acme".into(),
            title: "Engineer".into(),
            start: ym(2019, 3),
            end: ym(2023, 3),
            description: "用Golang和k8s写微服务, some JS".into(),
            skills: vec![],
        }],
        skills: vec![pb::Skill {
            name: "Golang".into(),
            level: 4,
            years: 2.0,
        }],
        summary: "Likes Rust.".into(),
        ..Default::default()
    }
}
