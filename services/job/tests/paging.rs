//! Page tokens of the job service: a walk through search results (by recency and by
//! relevance) stays put while jobs are published, and a token only continues the list and the
//! request it came from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{company, job, req, start, Mesh, User, PATIENCE};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::job::v1 as pb;
use talentmesh_testkit::eventually;
use tonic::Code;

/// One page of a search: its titles and the next page's token.
async fn page(m: &Mesh, r: pb::SearchJobsRequest) -> (Vec<String>, String) {
    let p = m
        .jobs
        .clone()
        .search_jobs(tonic::Request::new(r))
        .await
        .unwrap()
        .into_inner();
    (
        p.jobs.into_iter().map(|j| j.title).collect(),
        p.next_page_token,
    )
}

/// Waits until a search for `query` finds `n` jobs.
async fn indexed(m: &Mesh, query: &str, n: usize) {
    let found = eventually(PATIENCE, || async {
        let r = pb::SearchJobsRequest {
            query: query.into(),
            page_size: 100,
            ..Default::default()
        };
        page(m, r).await.0.len() == n
    })
    .await;
    assert!(found, "{n} jobs matching {query:?} in the index");
}

/// Posts jobs titled `titles` in order (oldest first), with `description`.
async fn post_all(m: &Mesh, owner: &User, co: &str, titles: &[&str], description: &str) {
    for title in titles {
        m.post(
            owner,
            co,
            pb::Job {
                description: description.into(),
                ..job(title, &["Rust"])
            },
        )
        .await;
    }
}

/// Walks a search from `first_token` to its end (pages of 2); every title seen, in order.
async fn walk_on(m: &Mesh, r: &pb::SearchJobsRequest, mut token: String) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let (titles, next) = page(
            m,
            pb::SearchJobsRequest {
                page_token: token,
                ..r.clone()
            },
        )
        .await;
        seen.extend(titles);
        token = next;
        if token.is_empty() {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn a_recency_walk_neither_repeats_nor_shifts_when_a_job_is_published() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Drift").await;
    let titles = [
        "Zebra one",
        "Zebra two",
        "Zebra three",
        "Zebra four",
        "Zebra five",
    ];
    post_all(&m, &owner, &co, &titles, "build the hiring platform").await;
    indexed(&m, "zebra", 5).await;
    let r = pb::SearchJobsRequest {
        query: "zebra".into(),
        order_by: "recency".into(),
        page_size: 2,
        ..Default::default()
    };
    let (first, token) = page(&m, r.clone()).await;
    assert_eq!(first, ["Zebra five", "Zebra four"]);
    // A job is published between the first page and the next.
    post_all(&m, &owner, &co, &["Zebra six"], "build the hiring platform").await;
    indexed(&m, "zebra", 6).await;
    let rest = walk_on(&m, &r, token).await;
    // The walk goes on where it was: no job of page one again, none left out. (The new job
    // is newer than the page the walk is past, so this walk does not meet it.)
    assert_eq!(rest, ["Zebra three", "Zebra two", "Zebra one"]);
    m.stop().await;
}

#[tokio::test]
async fn a_relevance_walk_neither_repeats_nor_shifts_when_a_title_match_is_published() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Tiers").await;
    post_all(
        &m,
        &owner,
        &co,
        &["Quokka A", "Quokka B", "Quokka C"],
        "work",
    )
    .await;
    post_all(&m, &owner, &co, &["Other D", "Other E"], "quokka care").await;
    indexed(&m, "quokka", 5).await;
    let r = pb::SearchJobsRequest {
        query: "quokka".into(),
        page_size: 2,
        ..Default::default()
    };
    let (first, token) = page(&m, r.clone()).await;
    assert_eq!(first, ["Quokka C", "Quokka B"]);
    post_all(&m, &owner, &co, &["Quokka F"], "work").await;
    indexed(&m, "quokka", 6).await;
    // On through the title tier and across into the description tier.
    let rest = walk_on(&m, &r, token).await;
    assert_eq!(rest, ["Quokka A", "Other E", "Other D"]);
    m.stop().await;
}

/// Asserts `r` is refused as INVALID_ARGUMENT naming `page_token`.
fn refused_on_page_token<T: std::fmt::Debug>(r: Result<T, tonic::Status>) {
    let s = r.expect_err("refused");
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let fields: Vec<String> = field_violations_of(&s)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["page_token"], "{s:?}");
}

#[tokio::test]
async fn a_search_token_is_refused_with_another_query_filter_or_order() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Bound").await;
    post_all(
        &m,
        &owner,
        &co,
        &["Rust one", "Rust two", "Rust three"],
        "work",
    )
    .await;
    indexed(&m, "rust", 3).await;
    let r = pb::SearchJobsRequest {
        query: "rust".into(),
        order_by: "recency".into(),
        page_size: 1,
        ..Default::default()
    };
    let (_, token) = page(&m, r.clone()).await;
    assert!(!token.is_empty());
    // The same search takes it.
    let (next, _) = page(
        &m,
        pb::SearchJobsRequest {
            page_token: token.clone(),
            ..r.clone()
        },
    )
    .await;
    assert_eq!(next, ["Rust two"]);
    let others = [
        pb::SearchJobsRequest {
            query: "one".into(),
            ..r.clone()
        },
        pb::SearchJobsRequest {
            order_by: "relevance".into(),
            ..r.clone()
        },
        pb::SearchJobsRequest {
            city_code: "110000".into(),
            ..r.clone()
        },
    ];
    for other in others {
        let sent = pb::SearchJobsRequest {
            page_token: token.clone(),
            ..other
        };
        refused_on_page_token(m.jobs.clone().search_jobs(tonic::Request::new(sent)).await);
    }
    m.stop().await;
}

#[tokio::test]
async fn a_token_of_another_list_is_refused() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Lists").await;
    post_all(&m, &owner, &co, &["Rust one", "Rust two"], "work").await;
    indexed(&m, "rust", 2).await;
    let list = |token: String, state: i32| pb::ListJobsRequest {
        parent: co.clone(),
        state,
        page_size: 1,
        page_token: token,
    };
    let listed = m
        .jobs
        .clone()
        .list_jobs(req(list(String::new(), 0), &owner))
        .await
        .unwrap()
        .into_inner();
    assert!(!listed.next_page_token.is_empty());
    let (_, searched) = page(
        &m,
        pb::SearchJobsRequest {
            query: "rust".into(),
            page_size: 1,
            ..Default::default()
        },
    )
    .await;
    assert!(!searched.is_empty());
    // The company's job list's token, sent to the search; the search's, to the list.
    let to_search = pb::SearchJobsRequest {
        query: "rust".into(),
        page_size: 1,
        page_token: listed.next_page_token.clone(),
        ..Default::default()
    };
    refused_on_page_token(
        m.jobs
            .clone()
            .search_jobs(tonic::Request::new(to_search))
            .await,
    );
    refused_on_page_token(
        m.jobs
            .clone()
            .list_jobs(req(list(searched, 0), &owner))
            .await,
    );
    // The list's own token, with another state filter.
    let published = pb::JobState::Published as i32;
    refused_on_page_token(
        m.jobs
            .clone()
            .list_jobs(req(list(listed.next_page_token, published), &owner))
            .await,
    );
    m.stop().await;
}
