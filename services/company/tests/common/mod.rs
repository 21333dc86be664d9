//! Starts the company service in-process on OS-chosen ports against the real local servers, in
//! a [`TestEnv`] of its own, with tokens signed by a key the test owns. The calls tests make
//! through it (users, create, join, check, audit) are the testkit's company harness, shared
//! with the services built on companies.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talentmesh_company::{run, Config};
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

pub async fn start() -> Running {
    let env = TestEnv::new("company").set("TALENTMESH_COMPANY_CHECK_EVERY", "0s");
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
