//! AIP-155 request ids on CreateResume over raw gRPC: the testkit's conformance suite (a retry
//! with the same id returns the first resume and writes nothing, one row and one event; ids are
//! per caller; a malformed id is refused by field; a duplicate in flight is ABORTED).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{req, resume, start, Mesh, User};
use talentmesh_proto::resume::v1 as pb;
use talentmesh_testkit::idempotency::IdempotentCreate;
use talentmesh_testkit::{idempotent_create_tests, TestEnv};
use tonic::Status;

struct Resumes(Mesh);

impl IdempotentCreate for Resumes {
    type Caller = User;
    const METHOD: &'static str = "CreateResume";

    async fn caller(&self) -> User {
        self.0.user(&["candidate"])
    }

    fn user_id(who: &User) -> &str {
        &who.id
    }

    async fn create(&self, who: &User, request_id: &str, body: u8) -> Result<String, Status> {
        let resume = pb::Resume {
            title: ["后端工程师简历", "another title"][usize::from(body)].into(),
            ..resume()
        };
        let body = pb::CreateResumeRequest {
            resume: Some(resume),
            request_id: request_id.into(),
        };
        let reply = self.0.resumes.clone().create_resume(req(body, who)).await?;
        Ok(reply.into_inner().resume.unwrap().name)
    }

    const WRITES: &'static [&'static str] = &[
        "SELECT COUNT(*) FROM resumes",
        "SELECT COUNT(*) FROM outbox",
    ];

    fn env(&self) -> &TestEnv {
        &self.0.resume_env
    }

    async fn stop(self) {
        self.0.stop().await
    }
}

idempotent_create_tests!(create_resume, async { Resumes(start().await) });
