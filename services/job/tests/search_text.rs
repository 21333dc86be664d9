//! Search as Chinese users type it: full-width letters, traditional characters, one-character
//! queries all find jobs written in half-width letters and simplified characters (and the
//! other way round); and text the stores cannot hold is refused at the boundary, field named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{company, job, req, search, start, Mesh, User, PATIENCE};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::job::v1 as pb;
use talentmesh_testkit::eventually;

fn query(q: &str) -> pb::SearchJobsRequest {
    pb::SearchJobsRequest {
        query: q.into(),
        ..Default::default()
    }
}

/// Posts the jobs and waits until all of them are in the index.
async fn posted(m: &Mesh, owner: &User, titles: &[&str]) {
    let (co, _) = company(m, owner, "星河科技").await;
    for title in titles {
        // Only the Rust job names the skill: the index holds skills with the text.
        let skills: &[&str] = if title.contains("Rust") {
            &["Rust"]
        } else {
            &["SQL"]
        };
        m.post(owner, &co, job(title, skills)).await;
    }
    let n = titles.len();
    assert!(
        eventually(PATIENCE, || async {
            search(m, pb::SearchJobsRequest::default()).await.len() == n
        })
        .await,
        "{n} jobs in the index"
    );
}

#[tokio::test]
async fn full_width_traditional_and_one_character_queries_find_the_job() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    posted(
        &m,
        &owner,
        &["高级Rust后端工程师", "資深前端開發", "数据分析"],
    )
    .await;
    let cases: [(&str, &[&str]); 12] = [
        ("ｒｕｓｔ", &["高级Rust后端工程师"]),
        ("ＲＵＳＴ　後端", &["高级Rust后端工程师"]),
        ("後端工程師", &["高级Rust后端工程师"]),
        ("师", &["高级Rust后端工程师"]),
        ("師", &["高级Rust后端工程师"]),
        // Simplified queries find a title written in traditional characters.
        ("资深前端", &["資深前端開發"]),
        ("开发", &["資深前端開發"]),
        ("端", &["高级Rust后端工程师", "資深前端開發"]),
        ("医", &[]),
        // A query with no searchable word finds nothing, never everything.
        ("🚀🔥", &[]),
        ("？！…", &[]),
        // Blank is no query at all: every job.
        ("  ", &["高级Rust后端工程师", "資深前端開發", "数据分析"]),
    ];
    for (q, want) in cases {
        let mut found = search(&m, query(q)).await;
        found.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(found, want, "query {q:?}");
    }
    // A full-width skill filter finds the half-width skill.
    let by_skill = search(
        &m,
        pb::SearchJobsRequest {
            skill: "Ｒｕｓｔ".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_skill, ["高级Rust后端工程师"]);
    m.stop().await;
}

#[tokio::test]
async fn control_characters_are_refused_by_field_and_line_breaks_kept_in_descriptions() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "Controls").await;
    let create = |j: pb::Job| {
        let mut jobs = m.jobs.clone();
        let r = req(
            pb::CreateJobRequest {
                parent: co.clone(),
                job: Some(j),
                ..Default::default()
            },
            &owner,
        );
        async move { jobs.create_job(r).await }
    };
    let refused = [
        (job("Rust\tengineer", &[]), "job.title"),
        (job("Rust\u{0}engineer", &[]), "job.title"),
        (
            pb::Job {
                description: "nul \u{0} here".into(),
                ..job("Rust engineer", &[])
            },
            "job.description",
        ),
        (job("Rust engineer", &["Ru\u{0}st"]), "job.required_skills"),
    ];
    for (j, field) in refused {
        let s = create(j).await.expect_err(field);
        assert_eq!(s.code(), tonic::Code::InvalidArgument, "{field}");
        let fields: Vec<String> = field_violations_of(&s)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, [field]);
    }
    let kept = create(pb::Job {
        description: "职责：\n\t- 设计\r\n\t- 开发".into(),
        ..job("Rust engineer", &[])
    })
    .await
    .expect("a multi-line description is accepted")
    .into_inner()
    .job
    .unwrap();
    assert_eq!(kept.description, "职责：\n\t- 设计\r\n\t- 开发");
    // A search with a NUL is refused, naming the field, rather than failing in PostgreSQL.
    let s = m
        .jobs
        .clone()
        .search_jobs(tonic::Request::new(query("rust\u{0}")))
        .await
        .expect_err("NUL in a query");
    assert_eq!(s.code(), tonic::Code::InvalidArgument);
    assert_eq!(field_violations_of(&s)[0].field, "query");
    m.stop().await;
}
