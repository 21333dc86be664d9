//! The shared permission client other services use: its in-process answers never outlive a
//! newer permission version it has seen.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{req, start};
use talentmesh_authz::{Freshness, PermissionClient};
use talentmesh_mesh::MeshChannel;
use talentmesh_proto::company::v1 as pb;

#[tokio::test]
async fn cached_answers_give_way_to_a_newer_permission_version() {
    let t = start().await;
    let owner = t.employer();
    let recruiter = t.employer();
    let company = t.create(&owner, "Client Co", "", "").await;
    t.join(&owner, &company.name, &recruiter, pb::MemberRole::Recruiter)
        .await;
    let id = company.name.trim_start_matches("companies/");
    let channel = MeshChannel::fixed("company", &[t.service.url()], Duration::from_secs(5));
    // A long lifetime, so only the version rule can retire the cached answer.
    let client = PermissionClient::new(channel, Duration::from_secs(600));

    let first = client
        .check(
            &recruiter.token,
            &recruiter.id,
            id,
            "job.write",
            Freshness::Cached,
        )
        .await
        .unwrap();
    assert!(first.allowed);
    assert_eq!(first.role, pb::MemberRole::Recruiter);

    t.members
        .clone()
        .update_member_role(req(
            pb::UpdateMemberRoleRequest {
                name: format!("{}/members/{}", company.name, recruiter.id),
                role: pb::MemberRole::Viewer as i32,
            },
            &owner,
        ))
        .await
        .unwrap();
    // Not yet seen here: the cached answer stands (this is what `ttl` bounds).
    assert!(client
        .allowed(
            &recruiter.token,
            &recruiter.id,
            id,
            "job.write",
            Freshness::Cached
        )
        .await
        .unwrap());
    // An exact check sees the change at once...
    let exact = client
        .check(
            &recruiter.token,
            &recruiter.id,
            id,
            "company.read",
            Freshness::Exact,
        )
        .await
        .unwrap();
    assert!(exact.allowed);
    assert!(exact.permission_version > first.permission_version);
    // ...and from then on the older cached answer is void.
    assert!(!client
        .allowed(
            &recruiter.token,
            &recruiter.id,
            id,
            "job.write",
            Freshness::Cached
        )
        .await
        .unwrap());
    t.stop().await;
}
