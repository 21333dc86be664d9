//! Company-scoped permissions over raw gRPC: roles, invitations, the last-owner rule, the
//! cache that must never outlive a change, isolation between companies, and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{fails, req, start, PATIENCE};
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::eventually;
use tonic::Code;

#[tokio::test]
async fn a_revoked_role_is_denied_on_the_very_next_call() {
    let t = start().await;
    let owner = t.employer();
    let recruiter = t.user(&["employer"]);
    let company = t.create(&owner, "Acme", "software", "310000").await;
    t.join(&owner, &company.name, &recruiter, pb::MemberRole::Recruiter)
        .await;

    // Warm the cache: the same decision twice.
    for _ in 0..2 {
        let d = t.check(&recruiter, &company.name, "job.write").await;
        assert!(d.allowed);
        assert_eq!(d.role, pb::MemberRole::Recruiter as i32);
    }
    let before = t
        .check(&recruiter, &company.name, "job.write")
        .await
        .permission_version;

    let member = format!("{}/members/{}", company.name, recruiter.id);
    t.members
        .clone()
        .update_member_role(req(
            pb::UpdateMemberRoleRequest {
                name: member.clone(),
                role: pb::MemberRole::Viewer as i32,
            },
            &owner,
        ))
        .await
        .unwrap();
    let after = t.check(&recruiter, &company.name, "job.write").await;
    assert!(!after.allowed, "demoted recruiter still allowed");
    assert_eq!(after.role, pb::MemberRole::Viewer as i32);
    assert!(after.permission_version > before);
    assert!(
        t.check(&recruiter, &company.name, "company.read")
            .await
            .allowed
    );

    t.members
        .clone()
        .delete_member(req(pb::DeleteMemberRequest { name: member }, &owner))
        .await
        .unwrap();
    let gone = t.check(&recruiter, &company.name, "company.read").await;
    assert!(!gone.allowed, "removed member still allowed");
    assert_eq!(gone.role, pb::MemberRole::Unspecified as i32);

    // The batch form answers in order.
    let decisions = t
        .members
        .clone()
        .batch_check_permissions(req(
            pb::BatchCheckPermissionsRequest {
                checks: ["company.delete", "job.write", "audit.read"]
                    .iter()
                    .map(|p| pb::PermissionCheck {
                        subject: owner.name(),
                        company: company.name.clone(),
                        permission: p.to_string(),
                    })
                    .collect(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .decisions;
    assert_eq!(decisions.len(), 3);
    assert!(decisions.iter().all(|d| d.allowed));

    // Unknown permissions are named; asking about someone else is refused.
    fails(
        t.members
            .clone()
            .check_permission(req(
                pb::CheckPermissionRequest {
                    check: Some(pb::PermissionCheck {
                        subject: owner.name(),
                        company: company.name.clone(),
                        permission: "job.fly".into(),
                    }),
                },
                &owner,
            ))
            .await,
        Code::InvalidArgument,
    );
    fails(
        t.members
            .clone()
            .check_permission(req(
                pb::CheckPermissionRequest {
                    check: Some(pb::PermissionCheck {
                        subject: owner.name(),
                        company: company.name.clone(),
                        permission: "job.write".into(),
                    }),
                },
                &recruiter,
            ))
            .await,
        Code::PermissionDenied,
    );

    // The denials are in the audit log, for admins of the company.
    let logged = eventually(PATIENCE, || async {
        t.audit(&owner, &company.name, "permission.denied")
            .await
            .iter()
            .any(|e| e.actor == recruiter.name() && e.detail.contains("job.write"))
    })
    .await;
    assert!(logged, "denied check not audited");
    let changes: Vec<String> = t
        .audit(&owner, &company.name, "member.")
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        changes,
        [
            "member.removed",
            "member.role_changed",
            "member.added",
            "member.added"
        ]
    );
    t.stop().await;
}

#[tokio::test]
async fn roles_limit_who_changes_what_and_the_last_owner_stays() {
    let t = start().await;
    let owner = t.employer();
    let admin = t.employer();
    let recruiter = t.employer();
    let viewer = t.employer();
    let company = t.create(&owner, "Globex", "finance", "110000").await;
    t.join(&owner, &company.name, &admin, pb::MemberRole::Admin)
        .await;
    t.join(&owner, &company.name, &recruiter, pb::MemberRole::Recruiter)
        .await;
    t.join(&admin, &company.name, &viewer, pb::MemberRole::Viewer)
        .await;
    let member = |u: &common::User| format!("{}/members/{}", company.name, u.id);
    let set_role = |name: String, role: pb::MemberRole| pb::UpdateMemberRoleRequest {
        name,
        role: role as i32,
    };
    let mut m = t.members.clone();

    // A recruiter cannot change roles.
    fails(
        m.update_member_role(req(
            set_role(member(&viewer), pb::MemberRole::Recruiter),
            &recruiter,
        ))
        .await,
        Code::PermissionDenied,
    );
    // A viewer cannot write.
    fails(
        t.companies
            .clone()
            .update_company(req(
                pb::UpdateCompanyRequest {
                    company: Some(pb::Company {
                        name: company.name.clone(),
                        description: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["description".into()],
                    }),
                    expected_version: 0,
                },
                &viewer,
            ))
            .await,
        Code::PermissionDenied,
    );
    // An admin cannot make owners, demote or remove the owner.
    fails(
        m.update_member_role(req(
            set_role(member(&viewer), pb::MemberRole::Owner),
            &admin,
        ))
        .await,
        Code::PermissionDenied,
    );
    fails(
        m.update_member_role(req(
            set_role(member(&owner), pb::MemberRole::Viewer),
            &admin,
        ))
        .await,
        Code::PermissionDenied,
    );
    fails(
        m.delete_member(req(
            pb::DeleteMemberRequest {
                name: member(&owner),
            },
            &admin,
        ))
        .await,
        Code::PermissionDenied,
    );
    // The last owner can neither be demoted nor leave.
    let s = fails(
        m.update_member_role(req(set_role(member(&owner), pb::MemberRole::Admin), &owner))
            .await,
        Code::FailedPrecondition,
    );
    assert!(s.message().contains("last owner"), "{}", s.message());
    fails(
        m.delete_member(req(
            pb::DeleteMemberRequest {
                name: member(&owner),
            },
            &owner,
        ))
        .await,
        Code::FailedPrecondition,
    );
    // With a second owner, the first may step down.
    m.update_member_role(req(set_role(member(&admin), pb::MemberRole::Owner), &owner))
        .await
        .unwrap();
    m.update_member_role(req(
        set_role(member(&owner), pb::MemberRole::Viewer),
        &owner,
    ))
    .await
    .unwrap();
    assert!(
        !t.check(&owner, &company.name, "company.manage_members")
            .await
            .allowed
    );
    // An admin may manage weaker members.
    m.update_member_role(req(
        set_role(member(&viewer), pb::MemberRole::Recruiter),
        &admin,
    ))
    .await
    .unwrap();
    let listed = m
        .list_members(req(
            pb::ListMembersRequest {
                parent: company.name.clone(),
            },
            &viewer,
        ))
        .await
        .unwrap()
        .into_inner()
        .members;
    assert_eq!(listed.len(), 4);
    t.stop().await;
}

#[tokio::test]
async fn invitations_are_for_the_invited_address_only() {
    let t = start().await;
    let owner = t.employer();
    let invitee = t.employer();
    let stranger = t.employer();
    let company = t.create(&owner, "Initech", "", "").await;
    let mut m = t.members.clone();
    fails(
        m.create_invitation(req(
            pb::CreateInvitationRequest {
                parent: company.name.clone(),
                invitation: Some(pb::Invitation {
                    email: "not-an-address".into(),
                    role: pb::MemberRole::Viewer as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await,
        Code::InvalidArgument,
    );
    let inv = m
        .create_invitation(req(
            pb::CreateInvitationRequest {
                parent: company.name.clone(),
                invitation: Some(pb::Invitation {
                    email: invitee.email().to_uppercase(),
                    role: pb::MemberRole::Recruiter as i32,
                    state: pb::InvitationState::Accepted as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .invitation
        .unwrap();
    assert_eq!(
        inv.state,
        pb::InvitationState::Pending as i32,
        "client-set state ignored"
    );
    assert_eq!(inv.email, invitee.email());
    // Someone else cannot accept it; it looks like no invitation at all.
    fails(
        m.accept_invitation(req(
            pb::AcceptInvitationRequest {
                name: inv.name.clone(),
            },
            &stranger,
        ))
        .await,
        Code::NotFound,
    );
    let joined = m
        .accept_invitation(req(
            pb::AcceptInvitationRequest {
                name: inv.name.clone(),
            },
            &invitee,
        ))
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(joined.role, pb::MemberRole::Recruiter as i32);
    fails(
        m.accept_invitation(req(
            pb::AcceptInvitationRequest {
                name: inv.name.clone(),
            },
            &invitee,
        ))
        .await,
        Code::FailedPrecondition,
    );
    assert!(t.check(&invitee, &company.name, "job.write").await.allowed);
    t.stop().await;
}

#[tokio::test]
async fn a_member_of_one_company_cannot_see_or_change_another() {
    let t = start().await;
    let alice = t.employer();
    let bob = t.employer();
    let a = t.create(&alice, "Company A", "software", "310000").await;
    let b = t.create(&bob, "Company B", "software", "310000").await;
    let missing = "companies/00000000-0000-7000-8000-000000000000".to_string();
    let mut m = t.members.clone();
    let mut c = t.companies.clone();

    // Private data of B looks exactly like a company that does not exist.
    for name in [&b.name, &missing] {
        let s1 = fails(
            m.list_members(req(
                pb::ListMembersRequest {
                    parent: name.clone(),
                },
                &alice,
            ))
            .await,
            Code::NotFound,
        );
        let s2 = fails(
            m.list_audit_events(req(
                pb::ListAuditEventsRequest {
                    parent: name.clone(),
                    ..Default::default()
                },
                &alice,
            ))
            .await,
            Code::NotFound,
        );
        let s3 = fails(
            m.list_invitations(req(
                pb::ListInvitationsRequest {
                    parent: name.clone(),
                },
                &alice,
            ))
            .await,
            Code::NotFound,
        );
        let s4 = fails(
            c.analyze_competitors(req(
                pb::AnalyzeCompetitorsRequest {
                    name: name.clone(),
                    limit: 0,
                },
                &alice,
            ))
            .await,
            Code::NotFound,
        );
        assert_eq!(s1.message(), "company not found");
        assert_eq!(s2.message(), s1.message());
        assert_eq!(s3.message(), s1.message());
        assert_eq!(s4.message(), s1.message());
    }
    // Changes to B are refused.
    fails(
        c.update_company(req(
            pb::UpdateCompanyRequest {
                company: Some(pb::Company {
                    name: b.name.clone(),
                    display_name: "pwned".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                expected_version: 0,
            },
            &alice,
        ))
        .await,
        Code::PermissionDenied,
    );
    fails(
        c.delete_company(req(
            pb::DeleteCompanyRequest {
                name: b.name.clone(),
            },
            &alice,
        ))
        .await,
        Code::PermissionDenied,
    );
    fails(
        m.create_invitation(req(
            pb::CreateInvitationRequest {
                parent: b.name.clone(),
                invitation: Some(pb::Invitation {
                    email: alice.email(),
                    role: pb::MemberRole::Owner as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &alice,
        ))
        .await,
        Code::NotFound,
    );
    fails(
        m.update_member_role(req(
            pb::UpdateMemberRoleRequest {
                name: format!("{}/members/{}", b.name, bob.id),
                role: pb::MemberRole::Viewer as i32,
            },
            &alice,
        ))
        .await,
        Code::NotFound,
    );
    // Alice's own company is hers; B's profile is public but without its documents.
    let seen = c
        .get_company(req(
            pb::GetCompanyRequest {
                name: b.name.clone(),
            },
            &alice,
        ))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert!(seen.verification.is_none());
    assert_eq!(seen.caller_role, "");
    assert_eq!(seen.display_name, "Company B");
    let mine = c
        .get_company(req(
            pb::GetCompanyRequest {
                name: a.name.clone(),
            },
            &alice,
        ))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert!(mine.verification.is_some());
    // No token, no writes.
    fails(
        c.delete_company(tonic::Request::new(pb::DeleteCompanyRequest {
            name: a.name.clone(),
        }))
        .await,
        Code::Unauthenticated,
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    t.stop().await;
}
