//! AIP-155 request ids on the company service's creates over raw gRPC: CreateCompany,
//! CreateOffice, CreateRelation and CreateInvitation each run the testkit's conformance suite
//! (a retry with the same id returns the first resource and writes, emits and audits nothing;
//! ids are per caller; a malformed id is refused by field; a duplicate in flight is ABORTED).
//! Particular to invitations: a replay spends none of the inviter's invitation budget.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{invitation, req, start, start_with, Running, User, INVITE_RATE};
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::idempotency::{request_id, IdempotentCreate};
use talentmesh_testkit::{idempotent_create_tests, TestEnv};
use tonic::{Code, Status};

/// A company of a new employer, who is the caller of the child creates.
async fn employer_with_company(t: &Running) -> (User, String) {
    let who = t.employer();
    let company = t.create(&who, "星河科技", "software", "440300").await;
    (who, company.name)
}

/// Implements the parts of [`IdempotentCreate`] that are the same for every create here.
macro_rules! on_the_company_service {
    () => {
        fn user_id(who: &Self::Caller) -> &str {
            &who.0.id
        }

        fn env(&self) -> &TestEnv {
            &self.0.env
        }

        async fn stop(self) {
            self.0.stop().await
        }
    };
}

struct Companies(Running);

impl IdempotentCreate for Companies {
    // A 1-tuple so that `user_id` reads `who.0` as for the child creates.
    type Caller = (User,);
    const METHOD: &'static str = "CreateCompany";

    async fn caller(&self) -> (User,) {
        (self.0.employer(),)
    }

    async fn create(&self, who: &(User,), request_id: &str, body: u8) -> Result<String, Status> {
        let company = pb::Company {
            display_name: ["星河科技", "another name"][usize::from(body)].into(),
            industry: "software".into(),
            city_code: "310000".into(),
            ..Default::default()
        };
        let body = pb::CreateCompanyRequest {
            company: Some(company),
            request_id: request_id.into(),
        };
        let reply = self
            .0
            .companies
            .clone()
            .create_company(req(body, &who.0))
            .await?;
        Ok(reply.into_inner().company.unwrap().name)
    }

    const WRITES: &'static [&'static str] = &[
        "SELECT COUNT(*) FROM companies",
        "SELECT COUNT(*) FROM outbox",
    ];

    on_the_company_service!();
}

struct Offices(Running);

impl IdempotentCreate for Offices {
    /// The employer and its company.
    type Caller = (User, String);
    const METHOD: &'static str = "CreateOffice";

    async fn caller(&self) -> (User, String) {
        employer_with_company(&self.0).await
    }

    async fn create(
        &self,
        who: &(User, String),
        request_id: &str,
        body: u8,
    ) -> Result<String, Status> {
        let (label, latitude) = [("HQ", 22.5431), ("R&D", 22.5302)][usize::from(body)];
        let office = pb::Office {
            label: label.into(),
            address: "深圳市南山区".into(),
            city_code: "440300".into(),
            location: Some(pb::GeoPoint {
                latitude,
                longitude: 113.912,
                system: pb::CoordinateSystem::Wgs84 as i32,
            }),
            ..Default::default()
        };
        let body = pb::CreateOfficeRequest {
            parent: who.1.clone(),
            office: Some(office),
            request_id: request_id.into(),
        };
        let reply = self
            .0
            .companies
            .clone()
            .create_office(req(body, &who.0))
            .await?;
        Ok(reply.into_inner().office.unwrap().name)
    }

    const WRITES: &'static [&'static str] = &[
        "SELECT COUNT(*) FROM company_offices",
        "SELECT COUNT(*) FROM outbox",
    ];

    on_the_company_service!();
}

struct Relations(Running);

impl IdempotentCreate for Relations {
    /// The employer, its company (the source) and another company (the target).
    type Caller = (User, String, String);
    const METHOD: &'static str = "CreateRelation";

    async fn caller(&self) -> (User, String, String) {
        let (who, source) = employer_with_company(&self.0).await;
        let (_, target) = employer_with_company(&self.0).await;
        (who, source, target)
    }

    async fn create(
        &self,
        who: &(User, String, String),
        request_id: &str,
        body: u8,
    ) -> Result<String, Status> {
        let kind = [pb::RelationKind::Partner, pb::RelationKind::Competitor][usize::from(body)];
        let relation = pb::Relation {
            target: who.2.clone(),
            kind: kind as i32,
            ..Default::default()
        };
        let body = pb::CreateRelationRequest {
            parent: who.1.clone(),
            relation: Some(relation),
            request_id: request_id.into(),
        };
        let reply = self
            .0
            .companies
            .clone()
            .create_relation(req(body, &who.0))
            .await?;
        Ok(reply.into_inner().relation.unwrap().name)
    }

    const WRITES: &'static [&'static str] = &[
        "SELECT COUNT(*) FROM company_relations",
        "SELECT COUNT(*) FROM outbox",
        "SELECT COUNT(*) FROM company_audit WHERE action = 'relation.declared'",
    ];

    on_the_company_service!();
}

struct Invitations(Running);

impl IdempotentCreate for Invitations {
    /// The employer (its company's owner) and its company.
    type Caller = (User, String);
    const METHOD: &'static str = "CreateInvitation";

    async fn caller(&self) -> (User, String) {
        employer_with_company(&self.0).await
    }

    async fn create(
        &self,
        who: &(User, String),
        request_id: &str,
        body: u8,
    ) -> Result<String, Status> {
        let body = pb::CreateInvitationRequest {
            request_id: request_id.into(),
            ..invitation(&who.1, body.into())
        };
        let reply = self
            .0
            .members
            .clone()
            .create_invitation(req(body, &who.0))
            .await?;
        Ok(reply.into_inner().invitation.unwrap().name)
    }

    const WRITES: &'static [&'static str] = &[
        "SELECT COUNT(*) FROM company_invitations",
        "SELECT COUNT(*) FROM company_audit WHERE action = 'invitation.created'",
        "SELECT COUNT(*) FROM outbox",
    ];

    on_the_company_service!();
}

idempotent_create_tests!(create_company, async { Companies(start().await) });
idempotent_create_tests!(create_office, async { Offices(start().await) });
idempotent_create_tests!(create_relation, async { Relations(start().await) });
idempotent_create_tests!(create_invitation, async { Invitations(start().await) });

#[tokio::test]
async fn a_replayed_invitation_spends_none_of_the_inviters_budget() {
    let t = start_with(TestEnv::new("company").set(INVITE_RATE, "2/h")).await;
    let invites = Invitations(t);
    let who = invites.caller().await;
    let id = request_id();
    let first = invites.create(&who, &id, 0).await.unwrap();
    for _ in 0..3 {
        assert_eq!(invites.create(&who, &id, 0).await.unwrap(), first);
    }
    // The second of two an hour: the replays spent nothing.
    invites.create(&who, &request_id(), 1).await.unwrap();
    // The limit is in force: a third is refused.
    let third = invites.create(&who, &request_id(), 2).await.unwrap_err();
    assert_eq!(third.code(), Code::ResourceExhausted, "{third:?}");
    invites.stop().await;
}
