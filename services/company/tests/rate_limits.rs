//! Invitations are rate limited per inviter, in Redis, for every instance (issue 15): the call
//! over the budget gets RESOURCE_EXHAUSTED with `ErrorInfo.reason = RATE_LIMITED` and a
//! `RetryInfo` delay, creates nothing, and another inviter keeps their own budget.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{invitation, req, start_with, User, INVITE_RATE};
use prost::Message;
use talentmesh_mesh::error::rpc_status_of;
use talentmesh_proto::company::v1 as pb;
use talentmesh_proto::google::rpc;
use talentmesh_testkit::TestEnv;
use tonic::Code;

#[tokio::test]
async fn the_invitation_over_the_inviters_budget_is_rate_limited() {
    let t = start_with(TestEnv::new("company").set(INVITE_RATE, "2/h")).await;
    let owner: User = t.employer();
    let other: User = t.employer();
    let company = t.create(&owner, "Initech", "", "").await;
    let elsewhere = t.create(&other, "Globex", "", "").await;
    let mut m = t.members.clone();
    for n in 0..2 {
        m.create_invitation(req(invitation(&company.name, n), &owner))
            .await
            .expect("within the budget");
    }
    let err = m
        .create_invitation(req(invitation(&company.name, 2), &owner))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let details = rpc_status_of(&err).details;
    let info = details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.ErrorInfo"))
        .map(|d| rpc::ErrorInfo::decode(d.value.as_slice()).unwrap())
        .expect("ErrorInfo");
    assert_eq!(info.reason, "RATE_LIMITED");
    let delay = details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.RetryInfo"))
        .and_then(|d| {
            rpc::RetryInfo::decode(d.value.as_slice())
                .unwrap()
                .retry_delay
        })
        .expect("RetryInfo.retry_delay");
    // Two per hour refill one every 30 minutes.
    let delay = Duration::new(delay.seconds as u64, delay.nanos as u32);
    assert!(
        delay <= Duration::from_secs(1800) && delay > Duration::from_secs(1790),
        "{delay:?}"
    );
    let listed = m
        .list_invitations(req(
            pb::ListInvitationsRequest {
                parent: company.name.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .invitations;
    assert_eq!(listed.len(), 2, "the refused call created nothing");
    m.create_invitation(req(invitation(&elsewhere.name, 0), &other))
        .await
        .expect("another inviter is not affected");
    t.stop().await;
}
