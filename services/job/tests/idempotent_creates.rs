//! AIP-155 request ids on CreateJob and CreateApplication over raw gRPC, with the company and
//! resume services beside the job service: each runs the testkit's conformance suite (a retry
//! with the same id returns the first resource and writes nothing, one row and one event; ids
//! are per caller; a malformed id is refused by field; a duplicate in flight is ABORTED).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::applications::{apply, start, Mesh};
use common::{req, User};
use talentmesh_proto::job::v1 as pb;
use talentmesh_testkit::idempotency::IdempotentCreate;
use talentmesh_testkit::{idempotent_create_tests, TestEnv};
use tonic::Status;

/// The job service's environment (the mesh's first).
fn job_env(m: &Mesh) -> &TestEnv {
    &m._envs[0]
}

struct Jobs(Mesh);

impl IdempotentCreate for Jobs {
    /// The employer and its company.
    type Caller = (User, String);
    const METHOD: &'static str = "CreateJob";

    async fn caller(&self) -> (User, String) {
        let owner = self.0.user(&["employer"]);
        let (company, _) = self.0.posted_job(&owner).await;
        (owner, company)
    }

    fn user_id(who: &(User, String)) -> &str {
        &who.0.id
    }

    async fn create(
        &self,
        who: &(User, String),
        request_id: &str,
        body: u8,
    ) -> Result<String, Status> {
        let job = pb::Job {
            title: ["Rust Engineer", "Other title"][usize::from(body)].into(),
            city_code: "310000".into(),
            recruit_type: pb::RecruitType::Social as i32,
            headcount: 1,
            ..Default::default()
        };
        let body = pb::CreateJobRequest {
            parent: who.1.clone(),
            job: Some(job),
            request_id: request_id.into(),
        };
        let reply = self.0.jobs.clone().create_job(req(body, &who.0)).await?;
        Ok(reply.into_inner().job.unwrap().name)
    }

    const WRITES: &'static [&'static str] = &[
        "SELECT COUNT(*) FROM jobs",
        "SELECT COUNT(*) FROM outbox WHERE event_type LIKE '%JobChanged%'",
    ];

    fn env(&self) -> &TestEnv {
        job_env(&self.0)
    }

    async fn stop(self) {
        self.0.stop().await
    }
}

/// Two posted jobs a candidate may apply to (body 0 and 1).
struct Applications {
    mesh: Mesh,
    jobs: [String; 2],
}

impl Applications {
    async fn start() -> Applications {
        let mesh = start().await;
        let owner = mesh.user(&["employer"]);
        let (_, first) = mesh.posted_job(&owner).await;
        let (_, second) = mesh.posted_job(&owner).await;
        Applications {
            mesh,
            jobs: [first, second],
        }
    }
}

impl IdempotentCreate for Applications {
    /// The candidate and its resume.
    type Caller = (User, String);
    const METHOD: &'static str = "CreateApplication";

    async fn caller(&self) -> (User, String) {
        let candidate = self.mesh.user(&["candidate"]);
        let cv = self.mesh.resume(&candidate).await;
        (candidate, cv)
    }

    fn user_id(who: &(User, String)) -> &str {
        &who.0.id
    }

    async fn create(
        &self,
        who: &(User, String),
        request_id: &str,
        body: u8,
    ) -> Result<String, Status> {
        let mut body = apply(&self.jobs[usize::from(body)], &who.1);
        body.request_id = request_id.into();
        let reply = self
            .mesh
            .apps
            .clone()
            .create_application(req(body, &who.0))
            .await?;
        Ok(reply.into_inner().application.unwrap().name)
    }

    const WRITES: &'static [&'static str] = &[
        "SELECT COUNT(*) FROM applications",
        "SELECT COUNT(*) FROM outbox WHERE event_type LIKE '%ApplicationChanged%'",
    ];

    fn env(&self) -> &TestEnv {
        job_env(&self.mesh)
    }

    async fn stop(self) {
        self.mesh.stop().await
    }
}

idempotent_create_tests!(create_job, async { Jobs(start().await) });
// Without the request id, a retried application would be ALREADY_EXISTS (one open application
// per job and candidate); with it, the first application answers.
idempotent_create_tests!(create_application, Applications::start());
