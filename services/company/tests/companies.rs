//! Companies and verification over raw gRPC against the real stores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fails, req, start};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::company::v1 as pb;
use tonic::Code;

#[tokio::test]
async fn create_ignores_server_fields_and_update_takes_only_what_the_mask_names() {
    let t = start().await;
    let owner = t.employer();
    let mut c = t.companies.clone();
    let created = c
        .create_company(req(
            pb::CreateCompanyRequest {
                company: Some(pb::Company {
                    name: "companies/00000000-0000-0000-0000-000000000001".into(),
                    display_name: "  星河科技  ".into(),
                    industry: "software".into(),
                    city_code: "310000".into(),
                    verification_state: pb::VerificationState::Verified as i32,
                    creator: "users/somebody-else".into(),
                    version: 99,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_ne!(
        created.name,
        "companies/00000000-0000-0000-0000-000000000001"
    );
    assert_eq!(created.display_name, "星河科技");
    assert_eq!(
        created.verification_state,
        pb::VerificationState::Unverified as i32
    );
    assert_eq!(created.creator, owner.name());
    assert_eq!(created.version, 1);
    assert_eq!(created.caller_role, "owner");

    // Candidates do not create companies.
    let candidate = t.user(&["candidate"]);
    fails(
        c.create_company(req(
            pb::CreateCompanyRequest {
                company: Some(pb::Company {
                    display_name: "x".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &candidate,
        ))
        .await,
        Code::PermissionDenied,
    );

    // Bad fields are named, and nothing is written.
    let bad = fails(
        c.update_company(req(
            pb::UpdateCompanyRequest {
                company: Some(pb::Company {
                    name: created.name.clone(),
                    city_code: "31".into(),
                    website: "ftp://x".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec![
                        "city_code".into(),
                        "website".into(),
                        "verification_state".into(),
                    ],
                }),
                expected_version: 0,
            },
            &owner,
        ))
        .await,
        Code::InvalidArgument,
    );
    let fields: Vec<String> = field_violations_of(&bad)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert!(
        fields.contains(&"company.city_code".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"company.website".to_string()),
        "{fields:?}"
    );
    assert!(fields.contains(&"update_mask".to_string()), "{fields:?}");

    let got = c
        .get_company(req(
            pb::GetCompanyRequest {
                name: created.name.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(got.version, 1, "a refused update wrote nothing");

    let updated = c
        .update_company(req(
            pb::UpdateCompanyRequest {
                company: Some(pb::Company {
                    name: created.name.clone(),
                    description: "做招聘的".into(),
                    display_name: "ignored, not in the mask".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
                expected_version: 1,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(updated.description, "做招聘的");
    assert_eq!(updated.display_name, "星河科技");
    assert_eq!(updated.version, 2);

    // A stale expected version is refused.
    fails(
        c.update_company(req(
            pb::UpdateCompanyRequest {
                company: Some(pb::Company {
                    name: created.name.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
                expected_version: 1,
            },
            &owner,
        ))
        .await,
        Code::Aborted,
    );

    // Soft delete: gone for everyone, and its memberships grant nothing.
    c.delete_company(req(
        pb::DeleteCompanyRequest {
            name: created.name.clone(),
        },
        &owner,
    ))
    .await
    .unwrap();
    fails(
        c.get_company(req(
            pb::GetCompanyRequest {
                name: created.name.clone(),
            },
            &owner,
        ))
        .await,
        Code::NotFound,
    );
    assert!(!t.check(&owner, &created.name, "company.read").await.allowed);
    t.stop().await;
}

#[tokio::test]
async fn verification_goes_through_pending_to_verified_or_rejected_and_is_audited() {
    let t = start().await;
    let owner = t.employer();
    let admin = t.admin();
    let company = t
        .create(&owner, "Fuzhou Works", "manufacturing", "350100")
        .await;
    let mut c = t.companies.clone();
    let submit = |uscc: &str, name: &str| pb::SubmitVerificationRequest {
        name: name.to_string(),
        uscc: uscc.to_string(),
        legal_name: "福州某某有限公司".into(),
        legal_representative: "张三".into(),
        licence_document: "files/licence-1.pdf".into(),
    };

    // The check digit is wrong: refused, naming the field, nothing written.
    let bad = fails(
        c.submit_verification(req(submit("91350100M000100Y4Z", &company.name), &owner))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(field_violations_of(&bad)[0].field, "uscc");

    let pending = c
        .submit_verification(req(submit("91350100M000100Y43", &company.name), &owner))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(
        pending.verification_state,
        pb::VerificationState::Pending as i32
    );
    assert_eq!(
        pending.verification.as_ref().unwrap().uscc,
        "91350100M000100Y43"
    );

    // Only platform admins review; owners cannot approve themselves.
    let review = |approve: bool, reason: &str| pb::ReviewVerificationRequest {
        name: company.name.clone(),
        approve,
        reason: reason.into(),
    };
    fails(
        c.review_verification(req(review(true, ""), &owner)).await,
        Code::PermissionDenied,
    );
    fails(
        c.review_verification(req(review(false, ""), &admin)).await,
        Code::InvalidArgument,
    );
    let rejected = c
        .review_verification(req(review(false, "licence unreadable"), &admin))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(
        rejected.verification_state,
        pb::VerificationState::Rejected as i32
    );
    assert_eq!(
        rejected.verification.unwrap().reject_reason,
        "licence unreadable"
    );
    // Nothing is pending now.
    fails(
        c.review_verification(req(review(true, ""), &admin)).await,
        Code::FailedPrecondition,
    );

    c.submit_verification(req(submit("91350100M000100Y43", &company.name), &owner))
        .await
        .unwrap();
    let verified = c
        .review_verification(req(review(true, ""), &admin))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(
        verified.verification_state,
        pb::VerificationState::Verified as i32
    );
    assert_eq!(verified.verification.unwrap().reviewer, admin.name());

    // One code verifies one company.
    let other_owner = t.employer();
    let other = t.create(&other_owner, "Copycat", "", "").await;
    fails(
        c.submit_verification(req(submit("91350100M000100Y43", &other.name), &other_owner))
            .await,
        Code::AlreadyExists,
    );

    // Outsiders see the state but not the documents.
    let public = c
        .get_company(tonic::Request::new(pb::GetCompanyRequest {
            name: company.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(
        public.verification_state,
        pb::VerificationState::Verified as i32
    );
    assert!(public.verification.is_none());

    let trail: Vec<String> = t
        .audit(&owner, &company.name, "verification.")
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        trail,
        [
            "verification.approved",
            "verification.submitted",
            "verification.rejected",
            "verification.submitted"
        ]
    );
    t.stop().await;
}
