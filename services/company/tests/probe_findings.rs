//! What an attacker's probe of the company service found, held shut over raw gRPC: a verified
//! company cannot rename itself past review; a non-member's permission check says nothing about
//! whether a company exists; derived relation kinds cannot be declared; outsiders cannot fill a
//! company's audit log; and oversized repeated fields and strings are refused before they are
//! read or echoed back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fails, req, start, User, PATIENCE};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::eventually;
use tonic::Code;

const USCC: &str = "91350100M000100Y43";

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

async fn rename(t: &common::Running, who: &User, name: &str, to: &str) -> pb::Company {
    t.companies
        .clone()
        .update_company(req(
            pb::UpdateCompanyRequest {
                company: Some(pb::Company {
                    name: name.into(),
                    display_name: to.into(),
                    description: "we make robots".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name", "description"]),
                expected_version: 0,
            },
            who,
        ))
        .await
        .expect("update")
        .into_inner()
        .company
        .expect("the company")
}

async fn review(t: &common::Running, admin: &User, name: &str, approve: bool) -> pb::Company {
    t.companies
        .clone()
        .review_verification(req(
            pb::ReviewVerificationRequest {
                name: name.into(),
                approve,
                reason: if approve { "" } else { "not that brand" }.into(),
            },
            admin,
        ))
        .await
        .expect("review")
        .into_inner()
        .company
        .expect("the company")
}

const VERIFIED: i32 = pb::VerificationState::Verified as i32;
const PENDING: i32 = pb::VerificationState::Pending as i32;

#[tokio::test]
async fn a_verified_company_that_renames_itself_goes_back_to_review() {
    let t = start().await;
    let owner = t.employer();
    let admin = t.admin();
    let company = t.create(&owner, "星河机器人", "software", "310000").await;
    t.companies
        .clone()
        .submit_verification(req(
            pb::SubmitVerificationRequest {
                name: company.name.clone(),
                uscc: USCC.into(),
                legal_name: "上海星河机器人有限公司".into(),
                legal_representative: "张三".into(),
                licence_document: "files/licence.pdf".into(),
            },
            &owner,
        ))
        .await
        .unwrap();
    assert_eq!(
        review(&t, &admin, &company.name, true)
            .await
            .verification_state,
        VERIFIED
    );

    // Unvouched fields, and the same name again, change freely.
    let same = rename(&t, &owner, &company.name, "星河机器人").await;
    assert_eq!(same.verification_state, VERIFIED);

    // A new name loses the badge until an admin has looked again, for everyone who reads it.
    let renamed = rename(&t, &owner, &company.name, "Tencent").await;
    assert_eq!(
        (renamed.display_name.as_str(), renamed.verification_state),
        ("Tencent", PENDING)
    );
    let public = t
        .companies
        .clone()
        .get_company(tonic::Request::new(pb::GetCompanyRequest {
            name: company.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(public.verification_state, PENDING);
    let reopened = t
        .audit(&owner, &company.name, "verification.reopened")
        .await;
    assert_eq!(reopened.len(), 1, "{reopened:?}");
    assert!(
        reopened[0].detail.contains("Tencent") && reopened[0].actor == owner.name(),
        "{:?}",
        reopened[0]
    );
    // The legal name and the credit code change only through a new submission, which review
    // in progress (or a verification standing) refuses.
    let refused = fails(
        t.companies
            .clone()
            .submit_verification(req(
                pb::SubmitVerificationRequest {
                    name: company.name.clone(),
                    uscc: USCC.into(),
                    legal_name: "深圳市腾讯计算机系统有限公司".into(),
                    legal_representative: "马化腾".into(),
                    licence_document: "files/other.pdf".into(),
                },
                &owner,
            ))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(refused.message(), "a verification is already pending");
    // The admin decides on the new name: a rejection keeps the name, without the badge.
    let rejected = review(&t, &admin, &company.name, false).await;
    assert_eq!(
        rejected.verification_state,
        pb::VerificationState::Rejected as i32
    );
    t.stop().await;
}

#[tokio::test]
async fn a_non_members_check_reads_the_same_for_a_foreign_and_a_missing_company() {
    let t = start().await;
    let owner = t.employer();
    let member = t.employer();
    let outsider = t.employer();
    let company = t.create(&owner, "Foreign Co", "software", "310000").await;
    // Membership changes move the company's permission version past 0.
    t.join(&owner, &company.name, &member, pb::MemberRole::Recruiter)
        .await;
    let inside = t.check(&member, &company.name, "job.write").await;
    assert!(
        inside.allowed && inside.permission_version > 0,
        "{inside:?}"
    );

    let missing = "companies/00000000-0000-7000-8000-000000000000";
    let foreign = t.check(&outsider, &company.name, "job.write").await;
    let none = t.check(&outsider, missing, "job.write").await;
    assert_eq!(foreign, none);
    assert_eq!(
        (foreign.allowed, foreign.role, foreign.permission_version),
        (false, pb::MemberRole::Unspecified as i32, 0)
    );
    t.stop().await;
}

#[tokio::test]
async fn derived_relation_kinds_cannot_be_declared() {
    let t = start().await;
    let owner = t.employer();
    let a = t.create(&owner, "Alpha", "software", "310000").await;
    let b = t.create(&owner, "Beta", "software", "310000").await;
    let declare = |kind: pb::RelationKind| {
        let mut c = t.companies.clone();
        let r = req(
            pb::CreateRelationRequest {
                parent: a.name.clone(),
                relation: Some(pb::Relation {
                    target: b.name.clone(),
                    kind: kind as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &owner,
        );
        async move { c.create_relation(r).await }
    };
    for kind in [
        pb::RelationKind::SameIndustryAndCity,
        pb::RelationKind::SharedSkills,
    ] {
        let s = fails(declare(kind).await, Code::InvalidArgument);
        let fields: Vec<String> = field_violations_of(&s)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["relation.kind"], "{kind:?}");
    }
    declare(pb::RelationKind::Competitor)
        .await
        .expect("a declarable kind");
    let declared = t
        .companies
        .clone()
        .list_relations(tonic::Request::new(pb::ListRelationsRequest {
            parent: a.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .declared;
    let kinds: Vec<i32> = declared.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [pb::RelationKind::Competitor as i32]);
    t.stop().await;
}

#[tokio::test]
async fn outsiders_cannot_fill_a_companys_audit_log() {
    let t = start().await;
    let owner = t.employer();
    let viewer = t.employer();
    let outsider = t.employer();
    let company = t.create(&owner, "Target Co", "software", "310000").await;
    t.join(&owner, &company.name, &viewer, pb::MemberRole::Viewer)
        .await;

    // A full batch of denied checks from someone outside the company.
    let checks = (0..100)
        .map(|_| pb::PermissionCheck {
            subject: outsider.name(),
            company: company.name.clone(),
            permission: "job.write".into(),
        })
        .collect();
    let decisions = t
        .members
        .clone()
        .batch_check_permissions(req(pb::BatchCheckPermissionsRequest { checks }, &outsider))
        .await
        .unwrap()
        .into_inner()
        .decisions;
    assert_eq!(decisions.len(), 100);
    assert!(decisions.iter().all(|d| !d.allowed));

    // A member's denial, asked afterwards, is the company's business and is logged. The writer
    // keeps order, so once it is in, anything queued before it would be in too.
    assert!(!t.check(&viewer, &company.name, "job.write").await.allowed);
    let denials = || t.audit(&owner, &company.name, "permission.denied");
    let logged = eventually(PATIENCE, || async {
        denials().await.iter().any(|e| e.actor == viewer.name())
    })
    .await;
    assert!(logged, "the member's denial was not audited");
    let actors: Vec<String> = denials().await.into_iter().map(|e| e.actor).collect();
    assert_eq!(actors, [viewer.name()]);
    t.stop().await;
}

#[tokio::test]
async fn oversized_masks_names_and_tokens_are_refused_on_raw_grpc() {
    let t = start().await;
    let owner = t.employer();
    let company = t.create(&owner, "Bounded Co", "software", "310000").await;
    let huge = "x".repeat(1 << 20);

    // 10,000 unknown mask paths: one refusal, not one per path echoed back.
    let paths: Vec<String> = (0..10_000).map(|i| format!("p{i}")).collect();
    let s = fails(
        t.companies
            .clone()
            .update_company(req(
                pb::UpdateCompanyRequest {
                    company: Some(pb::Company {
                        name: company.name.clone(),
                        display_name: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask { paths }),
                    expected_version: 0,
                },
                &owner,
            ))
            .await,
        Code::InvalidArgument,
    );
    let violations = field_violations_of(&s);
    assert_eq!(violations.len(), 1, "{} violations", violations.len());
    assert_eq!(violations[0].field, "update_mask");
    // One megabyte-long path is refused without being echoed.
    let s = fails(
        t.companies
            .clone()
            .update_company(req(
                pb::UpdateCompanyRequest {
                    company: Some(pb::Company {
                        name: company.name.clone(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec![huge.clone()],
                    }),
                    expected_version: 0,
                },
                &owner,
            ))
            .await,
        Code::InvalidArgument,
    );
    assert!(s.details().len() < 4096, "{} bytes", s.details().len());

    // A megabyte permission name, likewise.
    let s = fails(
        t.members
            .clone()
            .check_permission(req(
                pb::CheckPermissionRequest {
                    check: Some(pb::PermissionCheck {
                        subject: owner.name(),
                        company: company.name.clone(),
                        permission: huge.clone(),
                    }),
                },
                &owner,
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(field_violations_of(&s)[0].field, "check.permission");
    assert!(s.details().len() < 4096, "{} bytes", s.details().len());

    // Page tokens longer than any the service hands out are not decoded.
    let s = fails(
        t.companies
            .clone()
            .list_companies(tonic::Request::new(pb::ListCompaniesRequest {
                page_token: "A".repeat(100_000),
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(field_violations_of(&s)[0].field, "page_token");
    let s = fails(
        t.members
            .clone()
            .list_audit_events(req(
                pb::ListAuditEventsRequest {
                    parent: company.name.clone(),
                    page_token: "A".repeat(100_000),
                    ..Default::default()
                },
                &owner,
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(field_violations_of(&s)[0].field, "page_token");
    t.stop().await;
}
