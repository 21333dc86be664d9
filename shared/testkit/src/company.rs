//! The company service as tests meet it: users with tokens signed by the test's key, and the
//! calls most tests need before their own (create a company, invite and accept a member, ask a
//! permission, read the audit log). The company crate's own tests and the services that build
//! on companies (jobs, resumes) share it instead of each writing it again.
//!
//! Start the service itself through its crate's `run` with [`crate::Spawned::service`]; this
//! module knows only the contract.

use std::sync::Arc;

use talentmesh_proto::company::v1 as pb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::company::v1::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

use crate::TestKeys;

/// A user of the test: an id and the token that proves it.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub token: String,
}

impl User {
    /// `users/{id}`.
    pub fn name(&self) -> String {
        format!("users/{}", self.id)
    }

    /// The e-mail address invitations to this user are sent to.
    pub fn email(&self) -> String {
        format!("{}@example.com", self.id)
    }
}

/// A request carrying `who`'s bearer token.
pub fn req<T>(msg: T, who: &User) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", who.token)
            .parse()
            .expect("a token is a valid header"),
    );
    r
}

/// Clients of a running company service and the keys its tokens are signed with.
#[derive(Clone)]
pub struct Companies {
    pub keys: Arc<TestKeys>,
    pub companies: CompanyServiceClient<Channel>,
    pub members: MembershipServiceClient<Channel>,
}

impl Companies {
    /// Connects to the company service at `url` (`http://host:port`).
    pub async fn connect(url: String, keys: Arc<TestKeys>) -> Companies {
        let channel = Channel::from_shared(url)
            .expect("url")
            .connect()
            .await
            .expect("connect to the company service");
        Companies {
            keys,
            companies: CompanyServiceClient::new(channel.clone()),
            members: MembershipServiceClient::new(channel),
        }
    }

    /// A new user with `roles` (e.g. `employer`, `admin`).
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

    /// Creates a company owned by `who`.
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
                    ..Default::default()
                },
                who,
            ))
            .await
            .expect("create company")
            .into_inner()
            .company
            .expect("the created company")
    }

    /// Invites `user` into `company` (a resource name) as `role` and has them accept.
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
                    ..Default::default()
                },
                owner,
            ))
            .await
            .expect("invite")
            .into_inner()
            .invitation
            .expect("the invitation");
        self.members
            .clone()
            .accept_invitation(req(pb::AcceptInvitationRequest { name: inv.name }, user))
            .await
            .expect("accept");
    }

    /// The decision on `user` holding `permission` in `company`, asked by `user`.
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
            .expect("a decision")
    }

    /// The display names ListCompanies answers for `query` in `industry` and `city` (empty for
    /// any), sorted; anonymous, like a visitor's search. The future owns what it needs, so a
    /// test can make one per poll.
    pub fn list_names(
        &self,
        query: &str,
        industry: &str,
        city: &str,
    ) -> impl std::future::Future<Output = Vec<String>> + Send + 'static {
        let mut companies = self.companies.clone();
        let request = pb::ListCompaniesRequest {
            query: query.into(),
            industry: industry.into(),
            city_code: city.into(),
            ..Default::default()
        };
        async move {
            let mut names: Vec<String> = companies
                .list_companies(tonic::Request::new(request))
                .await
                .expect("list companies")
                .into_inner()
                .companies
                .into_iter()
                .map(|c| c.display_name)
                .collect();
            names.sort();
            names
        }
    }

    /// The audit events of `company` whose action starts with `prefix`, read by `who`.
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
}
