//! Jobs and the company's members and graph: a recruiter demoted to viewer is refused at the
//! very next write, another company's member is refused too, and skills sought by two
//! companies reach the company service's competitor analysis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{company, job, req, start, PATIENCE};
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::job::v1 as pb;
use talentmesh_testkit::{eventually, fails};
use tonic::Code;

#[tokio::test]
async fn a_revoked_recruiter_cannot_write_and_shared_skills_reach_the_competitor_analysis() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let recruiter = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Alpha").await;
    // The recruiter joins Alpha.
    let inv = m
        .members
        .clone()
        .create_invitation(req(
            cpb::CreateInvitationRequest {
                parent: co.clone(),
                invitation: Some(cpb::Invitation {
                    email: format!("{}@example.com", recruiter.id),
                    role: cpb::MemberRole::Recruiter as i32,
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
    m.members
        .clone()
        .accept_invitation(req(
            cpb::AcceptInvitationRequest { name: inv.name },
            &recruiter,
        ))
        .await
        .unwrap();
    let mut jobs = m.jobs.clone();
    let posted = m
        .post(&recruiter, &co, job("Rust Engineer", &["Rust", "Kafka"]))
        .await;

    // Demoted to viewer: the very next write is refused.
    m.members
        .clone()
        .update_member_role(req(
            cpb::UpdateMemberRoleRequest {
                name: format!("{co}/members/{}", recruiter.id),
                role: cpb::MemberRole::Viewer as i32,
            },
            &owner,
        ))
        .await
        .unwrap();
    fails(
        jobs.close_job(req(
            pb::CloseJobRequest {
                name: posted.name.clone(),
            },
            &recruiter,
        ))
        .await,
        Code::PermissionDenied,
    );
    // Another company's member cannot touch it either.
    let beta_owner = m.user(&["employer"]);
    fails(
        jobs.close_job(req(
            pb::CloseJobRequest {
                name: posted.name.clone(),
            },
            &beta_owner,
        ))
        .await,
        Code::PermissionDenied,
    );

    // Beta (same industry and city) seeks Rust too.
    let beta_boss = m.user(&["employer"]);
    let (beta, _) = company(&m, &beta_boss, "Beta").await;
    m.post(&beta_boss, &beta, job("Rust Developer", &["rust", "Redis"]))
        .await;
    let shared = eventually(PATIENCE, || async {
        let rivals = m
            .companies
            .clone()
            .analyze_competitors(req(
                cpb::AnalyzeCompetitorsRequest {
                    name: co.clone(),
                    limit: 10,
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .competitors;
        rivals.iter().any(|r| {
            r.company == beta
                && r.reasons
                    .iter()
                    .any(|x| x == "1 skills sought by both: rust")
        })
    })
    .await;
    assert!(shared, "shared skills not seen by the competitor analysis");
    m.stop().await;
}
