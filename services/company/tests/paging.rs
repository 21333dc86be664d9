//! Page tokens of the company service: walks of the company list and the audit log stay put
//! while rows are added, and a token only continues the list and the request it came from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use common::{fails, req, start, Running, User, PATIENCE};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::eventually;
use tonic::Code;

/// One page of companies in `industry`: names and the next page's token.
async fn companies(t: &Running, industry: &str, token: &str) -> (Vec<String>, String) {
    let p = t
        .companies
        .clone()
        .list_companies(tonic::Request::new(pb::ListCompaniesRequest {
            industry: industry.into(),
            page_size: 2,
            page_token: token.into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    (
        p.companies.into_iter().map(|c| c.display_name).collect(),
        p.next_page_token,
    )
}

/// Waits until `n` companies of `industry` are listed.
async fn indexed(t: &Running, industry: &str, n: usize) {
    let all = eventually(PATIENCE, || async {
        let mut token = String::new();
        let mut count = 0;
        loop {
            let (names, next) = companies(t, industry, &token).await;
            count += names.len();
            if next.is_empty() {
                return count == n;
            }
            token = next;
        }
    })
    .await;
    assert!(all, "{n} companies of {industry} indexed");
}

#[tokio::test]
async fn a_company_walk_stays_put_while_companies_are_created() {
    let t = start().await;
    let owner = t.employer();
    let originals = ["Walk A", "Walk B", "Walk C", "Walk D"];
    for name in originals {
        t.create(&owner, name, "software", "440300").await;
    }
    indexed(&t, "software", 4).await;
    let (mut seen, mut token) = companies(&t, "software", "").await;
    assert_eq!(seen.len(), 2);
    for name in ["Walk E", "Walk F"] {
        t.create(&owner, name, "software", "440300").await;
    }
    indexed(&t, "software", 6).await;
    while !token.is_empty() {
        let (names, next) = companies(&t, "software", &token).await;
        seen.extend(names);
        token = next;
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no company twice: {seen:?}");
    for name in originals {
        assert!(seen.iter().any(|s| s == name), "{name} in {seen:?}");
    }
    t.stop().await;
}

/// The audit log of `company` from `token`, newest first, pages of 2: event ids and the
/// next token.
async fn audit_page(
    t: &Running,
    who: &User,
    company: &str,
    prefix: &str,
    token: &str,
) -> Result<(Vec<i64>, String), tonic::Status> {
    let p = t
        .members
        .clone()
        .list_audit_events(req(
            pb::ListAuditEventsRequest {
                parent: company.into(),
                action_prefix: prefix.into(),
                page_size: 2,
                page_token: token.into(),
            },
            who,
        ))
        .await?
        .into_inner();
    Ok((
        p.events.into_iter().map(|e| e.id).collect(),
        p.next_page_token,
    ))
}

#[tokio::test]
async fn an_audit_walk_stays_put_while_events_are_logged() {
    let t = start().await;
    let owner = t.employer();
    let c = t.create(&owner, "Audited", "software", "440300").await;
    for _ in 0..3 {
        t.join(&owner, &c.name, &t.employer(), pb::MemberRole::Viewer)
            .await;
    }
    let all: Vec<i64> = t
        .audit(&owner, &c.name, "")
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(all.len() > 3, "{all:?}");
    let (mut seen, mut token) = audit_page(&t, &owner, &c.name, "", "").await.unwrap();
    // More events are logged between the first page and the next.
    t.join(&owner, &c.name, &t.employer(), pb::MemberRole::Viewer)
        .await;
    while !token.is_empty() {
        let (ids, next) = audit_page(&t, &owner, &c.name, "", &token).await.unwrap();
        seen.extend(ids);
        token = next;
    }
    // The walk is the log as it was when it began, newest first, each event once.
    assert_eq!(seen, all);
    t.stop().await;
}

fn refused_on_page_token(s: &tonic::Status) {
    let fields: Vec<String> = field_violations_of(s)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["page_token"], "{s:?}");
}

#[tokio::test]
async fn a_token_is_refused_with_another_filter_or_in_another_list() {
    let t = start().await;
    let owner = t.employer();
    for name in ["Bound A", "Bound B", "Bound C"] {
        t.create(&owner, name, "software", "440300").await;
    }
    indexed(&t, "software", 3).await;
    let (_, token) = companies(&t, "software", "").await;
    assert!(!token.is_empty());
    // The same filter takes it; another does not.
    assert_eq!(companies(&t, "software", &token).await.0.len(), 1);
    let s = fails(
        t.companies
            .clone()
            .list_companies(tonic::Request::new(pb::ListCompaniesRequest {
                industry: "finance".into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    refused_on_page_token(&s);

    // The company list's token in the audit log, and the audit log's with another prefix or
    // in another company's log.
    let c = t.create(&owner, "Logged", "software", "440300").await;
    let other = t.create(&owner, "Other", "software", "440300").await;
    for _ in 0..2 {
        t.join(&owner, &c.name, &t.employer(), pb::MemberRole::Viewer)
            .await;
    }
    let s = audit_page(&t, &owner, &c.name, "", &token)
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    refused_on_page_token(&s);
    let (_, audit_token) = audit_page(&t, &owner, &c.name, "", "").await.unwrap();
    assert!(!audit_token.is_empty());
    for (company, prefix) in [(&c.name, "member."), (&other.name, "")] {
        let s = audit_page(&t, &owner, company, prefix, &audit_token)
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{company} {prefix}");
        refused_on_page_token(&s);
    }
    t.stop().await;
}
