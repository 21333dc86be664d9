//! The job search's ranking: relevance puts title matches before description matches, recency
//! orders by publication, and pages of any size walk the same order across both tiers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{company, job, search, start, PATIENCE};
use talentmesh_proto::job::v1 as pb;
use talentmesh_testkit::eventually;

#[tokio::test]
async fn relevance_ranks_title_matches_first_and_pages_through_both_tiers() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Tiers").await;
    // Published oldest first: two jobs with the words in the title, two with them only in the
    // description, one without them.
    let postings = [
        ("Rust工程师（初级）", "构建高并发的招聘平台"),
        ("平台开发", "寻找熟悉Rust工程师文化的同事"),
        ("高级Rust工程师", "构建高并发的招聘平台"),
        ("数据平台", "我们需要Rust工程师"),
        ("Java开发", "构建高并发的招聘平台"),
    ];
    for (title, description) in postings {
        m.post(
            &owner,
            &co,
            pb::Job {
                description: description.into(),
                ..job(title, &["Rust"])
            },
        )
        .await;
    }
    let indexed = eventually(PATIENCE, || async {
        search(&m, pb::SearchJobsRequest::default()).await.len() == 5
    })
    .await;
    assert!(indexed, "five published jobs in the index");
    let q = |order_by: &str, page_size: i32, page_token: String| pb::SearchJobsRequest {
        query: "Rust工程师".into(),
        order_by: order_by.into(),
        page_size,
        page_token,
        ..Default::default()
    };
    let ranked = [
        "高级Rust工程师",
        "Rust工程师（初级）",
        "数据平台",
        "平台开发",
    ];
    assert_eq!(search(&m, q("relevance", 0, String::new())).await, ranked);
    assert_eq!(
        search(&m, q("recency", 0, String::new())).await,
        [
            "数据平台",
            "高级Rust工程师",
            "平台开发",
            "Rust工程师（初级）"
        ]
    );
    // Pages of three and of one walk the same order, across the two tiers, and end.
    for size in [3, 1] {
        let mut seen = Vec::new();
        let mut token = String::new();
        for _ in 0..10 {
            let page = m
                .jobs
                .clone()
                .search_jobs(tonic::Request::new(q("relevance", size, token.clone())))
                .await
                .unwrap()
                .into_inner();
            seen.extend(page.jobs.into_iter().map(|j| j.title));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen, ranked, "pages of {size}");
    }
    m.stop().await;
}
