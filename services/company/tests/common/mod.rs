//! Starts the company service in-process on OS-chosen ports against the real local servers, in
//! a [`TestEnv`] of its own, with tokens signed by a key the test owns.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use talentmesh_company::{serve, Config};
use talentmesh_proto::company::v1 as pb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::company::v1::membership_service_client::MembershipServiceClient;
use talentmesh_testkit::{Spawned, TestEnv, TestKeys};
use tonic::transport::Channel;

pub struct Running {
    pub service: Spawned,
    pub env: TestEnv,
    pub keys: Arc<TestKeys>,
    pub companies: CompanyServiceClient<Channel>,
    pub members: MembershipServiceClient<Channel>,
}

pub async fn start() -> Running {
    let env = TestEnv::new("company").set("TALENTMESH_COMPANY_CHECK_EVERY", "0s");
    let keys = TestKeys::new();
    let config = Config::load(env.env()).expect("config");
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let service = Spawned::start(&mesh, move |listeners, shutdown| {
        serve(config, verifier, listeners, shutdown)
    })
    .await;
    let channel = Channel::from_shared(service.url())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    Running {
        companies: CompanyServiceClient::new(channel.clone()),
        members: MembershipServiceClient::new(channel),
        service,
        env,
        keys,
    }
}

/// A user of the test: an id and the token that proves it.
#[derive(Clone)]
pub struct User {
    pub id: String,
    pub token: String,
}

impl User {
    pub fn name(&self) -> String {
        format!("users/{}", self.id)
    }

    pub fn email(&self) -> String {
        format!("{}@example.com", self.id)
    }
}

impl Running {
    pub fn user(&self, roles: &[&str]) -> User {
        let id = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        User {
            token: self.keys.token(&id, roles),
            id,
        }
    }

    pub fn employer(&self) -> User {
        self.user(&["employer"])
    }

    pub fn admin(&self) -> User {
        self.user(&["admin"])
    }

    pub async fn create(&self, who: &User, name: &str, industry: &str, city: &str) -> pb::Company {
        self.companies
            .clone()
            .create_company(req(
                pb::CreateCompanyRequest {
                    company: Some(pb::Company {
                        display_name: name.into(),
                        industry: industry.into(),
                        city_code: city.into(),
                        ..Default::default()
                    }),
                },
                who,
            ))
            .await
            .expect("create company")
            .into_inner()
            .company
            .unwrap()
    }

    /// Invites `user` into `company` as `role` and has them accept.
    pub async fn join(&self, owner: &User, company: &str, user: &User, role: pb::MemberRole) {
        let inv = self
            .members
            .clone()
            .create_invitation(req(
                pb::CreateInvitationRequest {
                    parent: company.into(),
                    invitation: Some(pb::Invitation {
                        email: user.email(),
                        role: role as i32,
                        ..Default::default()
                    }),
                },
                owner,
            ))
            .await
            .expect("invite")
            .into_inner()
            .invitation
            .unwrap();
        self.members
            .clone()
            .accept_invitation(req(pb::AcceptInvitationRequest { name: inv.name }, user))
            .await
            .expect("accept");
    }

    pub async fn check(
        &self,
        user: &User,
        company: &str,
        permission: &str,
    ) -> pb::PermissionDecision {
        self.members
            .clone()
            .check_permission(req(
                pb::CheckPermissionRequest {
                    check: Some(pb::PermissionCheck {
                        subject: user.name(),
                        company: company.into(),
                        permission: permission.into(),
                    }),
                },
                user,
            ))
            .await
            .expect("check")
            .into_inner()
            .decision
            .unwrap()
    }

    pub async fn audit(&self, who: &User, company: &str, prefix: &str) -> Vec<pb::AuditEvent> {
        self.members
            .clone()
            .list_audit_events(req(
                pb::ListAuditEventsRequest {
                    parent: company.into(),
                    action_prefix: prefix.into(),
                    ..Default::default()
                },
                who,
            ))
            .await
            .expect("audit")
            .into_inner()
            .events
    }

    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// A request carrying `who`'s bearer token.
pub fn req<T>(msg: T, who: &User) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", who.token).parse().unwrap(),
    );
    r
}

/// Asserts the call failed with `code`, returning the status.
// Not every test binary that includes this module asserts failures.
#[allow(unused_imports)]
pub use talentmesh_testkit::fails;

pub const PATIENCE: Duration = Duration::from_secs(20);
