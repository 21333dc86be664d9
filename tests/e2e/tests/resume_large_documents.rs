//! Resumes at the size limit through the gateway: after six saves the owner still lists every
//! version (in pages cut to the mesh's message limit), the export of them imports again through
//! the gateway's body limit, and a request over the message limit is a clear 413.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{json, Value};
use talentmesh_e2e::Mesh;
use talentmesh_gateway::config::DEFAULT_BODY_LIMIT;

const PASSWORD: &str = "correct horse 42";

/// A resume with every text at its length limit and every list at its count limit, in
/// three-byte characters (about 1.6 MB as JSON and encoded).
fn at_the_size_limit(mark: char) -> Value {
    let text = |n: usize| std::iter::repeat_n(mark, n).collect::<String>();
    json!({
        "title": text(100),
        "fullName": text(200),
        "headline": text(200),
        "summary": text(5_000),
        "education": (0..20).map(|_| json!({"school": text(200)})).collect::<Vec<_>>(),
        "experience": (0..50).map(|_| json!({
            "company": text(200),
            "start": {"year": 2015, "month": 1},
            "description": text(5_000),
        })).collect::<Vec<_>>(),
        "projects": (0..50).map(|i| json!({"name": format!("p{i}"), "description": text(5_000)})).collect::<Vec<_>>(),
        "skills": (0..100).map(|i| json!({"name": format!("skill{i:03}{}", text(30)), "level": 3})).collect::<Vec<_>>(),
    })
}

async fn mesh() -> Mesh {
    Mesh::start_with_jobs_and(
        |env| {
            env.set(
                "TALENTMESH_GATEWAY_BODY_LIMIT",
                DEFAULT_BODY_LIMIT.to_string(),
            )
        },
        &|env| env,
    )
    .await
}

/// Creates a resume at the size limit and saves it five more times; its name.
async fn six_versions(mesh: &Mesh, token: &str) -> String {
    let (s, created) = mesh
        .call(
            Method::POST,
            "/v1/resumes",
            Some(token),
            Some(at_the_size_limit('简')),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let name = created["name"].as_str().unwrap().to_string();
    for mark in ['历', '后', '端', '工', '程'] {
        let (s, b) = mesh
            .call(
                Method::PUT,
                &format!("/v1/{name}"),
                Some(token),
                Some(at_the_size_limit(mark)),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    name
}

#[tokio::test]
async fn six_saves_at_the_size_limit_still_list_every_version_through_the_gateway() {
    let mesh = mesh().await;
    let me = mesh
        .login("mei@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await
        .token;
    let name = six_versions(&mesh, &me).await;

    let (s, page) = mesh.get(&format!("/v1/{name}/versions"), Some(&me)).await;
    assert_eq!(s, 200, "{page}");
    let (mut versions, mut token) = (Vec::new(), String::new());
    for _ in 0..7 {
        let path = format!("/v1/{name}/versions?pageSize=2&pageToken={token}");
        let (s, page) = mesh.get(&path, Some(&me)).await;
        assert_eq!(s, 200, "{page}");
        let got = page["versions"].as_array().unwrap();
        assert!(!got.is_empty() && got.len() <= 2);
        versions.extend(
            got.iter()
                .map(|v| v["version"].as_str().unwrap().to_string()),
        );
        token = page["nextPageToken"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(versions, ["6", "5", "4", "3", "2", "1"]);
    mesh.stop().await;
}

#[tokio::test]
async fn an_export_at_the_size_limit_imports_back_through_the_gateway() {
    let mesh = mesh().await;
    let me = mesh
        .login("mei@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await
        .token;
    six_versions(&mesh, &me).await;
    let (s, export) = mesh.get("/v1/resumes:export", Some(&me)).await;
    assert_eq!(s, 200, "{export}");
    let document = export["document"].as_str().unwrap().to_string();
    assert!(document.len() > 4 * 1024 * 1024, "{}", document.len());
    let (s, imported) = mesh
        .call(
            Method::POST,
            "/v1/resumes:import",
            Some(&me),
            Some(json!({"document": document})),
        )
        .await;
    assert_eq!(s, 200, "{imported}");
    // An import writes each resume once, at version 1, with its newest version's content (the
    // history stays in the export; importing it would cost a version and an event apiece).
    assert_eq!(imported["resumes"][0]["version"], "1");
    mesh.stop().await;
}

#[tokio::test]
async fn a_request_over_the_message_limit_is_413_not_a_decode_failure() {
    let mesh = mesh().await;
    let me = mesh
        .login("mei@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await
        .token;
    // Within the body limit, over the mesh's message limit (32 MiB).
    let document = "x".repeat(talentmesh_mesh::limits::DEFAULT_MAX_MESSAGE + 1);
    let (s, b) = mesh
        .call(
            Method::POST,
            "/v1/resumes:import",
            Some(&me),
            Some(json!({"document": document})),
        )
        .await;
    assert_eq!(s, 413, "{b}");
    assert_eq!(b["code"], 8, "{b}");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("TALENTMESH_GRPC_MAX_MESSAGE"),
        "{b}"
    );
    mesh.stop().await;
}
