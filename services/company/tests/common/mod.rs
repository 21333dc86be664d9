//! Starts the company service in-process on OS-chosen ports against the real local servers, in
//! a [`TestEnv`] of its own, with tokens signed by a key the test owns. The calls tests make
//! through it (users, create, join, check, audit) are the testkit's company harness, shared
//! with the services built on companies.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talentmesh_company::{run, Config};
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::company::Companies;
use talentmesh_testkit::{Spawned, TestEnv, TestKeys};

// Not every test binary that includes this module names both.
#[allow(unused_imports)]
pub use talentmesh_testkit::company::{req, User};

pub struct Running {
    pub service: Spawned,
    pub env: TestEnv,
    /// The harness: clients, keys, and the common calls (`create`, `join`, `check`, `audit`).
    pub clients: Companies,
}

impl std::ops::Deref for Running {
    type Target = Companies;
    fn deref(&self) -> &Companies {
        &self.clients
    }
}

/// An invitation into `company` of `invitee<n>@example.com` as a viewer.
pub fn invitation(company: &str, n: usize) -> pb::CreateInvitationRequest {
    pb::CreateInvitationRequest {
        parent: company.to_string(),
        invitation: Some(pb::Invitation {
            email: format!("invitee{n}@example.com"),
            role: pb::MemberRole::Viewer as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The invitation rate limit; tests that do not test it get a budget no test spends.
pub const INVITE_RATE: &str = "TALENTMESH_COMPANY_RATE_INVITE_PER_INVITER";

pub async fn start() -> Running {
    start_with(TestEnv::new("company").set(INVITE_RATE, "100000/s")).await
}

/// Starts the service on `env` (the consistency checker off).
pub async fn start_with(env: TestEnv) -> Running {
    let env = env.set("TALENTMESH_COMPANY_CHECK_EVERY", "0s");
    let keys = TestKeys::new();
    let config = Config::load(env.env()).expect("config");
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let service = Spawned::service(&mesh, move |launch| {
        run(config, launch.with_verifier(verifier))
    })
    .await;
    let clients = Companies::connect(service.url(), keys).await;
    Running {
        service,
        env,
        clients,
    }
}

impl Running {
    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// Asserts the call failed with `code`, returning the status.
// Not every test binary that includes this module asserts failures.
#[allow(unused_imports)]
pub use talentmesh_testkit::fails;

pub const PATIENCE: Duration = Duration::from_secs(20);
