//! Text as people type it, at the REST surface: control characters are refused with 400 and
//! the field named (never a 200 that the search projection then cannot store), line breaks
//! are kept where text is multi-line, and search finds full-width and traditional spellings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use talentmesh_e2e::{bad_fields, Mesh};
use talentmesh_testkit::eventually;

const PASSWORD: &str = "correct horse 42";

#[tokio::test]
async fn control_characters_are_a_400_naming_the_field_and_search_folds_widths_and_scripts() {
    let mesh = Mesh::start_with_company(|env| env).await;
    // Identity: a tab around the address is refused, not trimmed into an account.
    let (status, body) = mesh
        .post(
            "/v1/users:register",
            json!({"email": "ann@example.com\t", "password": PASSWORD, "role": "ROLE_EMPLOYER"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(bad_fields(&body), ["email"]);
    let owner = mesh
        .login("ann@example.com", PASSWORD, Some("ROLE_EMPLOYER"))
        .await
        .token;

    let create = |company: serde_json::Value| {
        mesh.call(Method::POST, "/v1/companies", Some(&owner), Some(company))
    };
    let (status, body) =
        create(json!({"displayName": "星河\u{0}科技", "industry": "software"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(bad_fields(&body), ["company.display_name"]);
    let (status, body) = create(json!({"displayName": "星河\t科技"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(bad_fields(&body), ["company.display_name"]);
    let (status, created) = create(json!({
        "displayName": "廣州數據 ＡＣＭＥ",
        "description": "我们：\n\t- 做招聘",
        "industry": "software",
    }))
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["description"], "我们：\n\t- 做招聘");

    // Simplified, half-width and one-character queries find it (percent-encoded UTF-8).
    for query in [
        "广州数据",
        "acme",
        "%EF%BD%81%EF%BD%83%EF%BD%8D%EF%BD%85",
        "数",
    ] {
        let path = format!(
            "/v1/companies?query={}",
            query
                .chars()
                .map(|c| if c.is_ascii() {
                    c.to_string()
                } else {
                    c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
                })
                .collect::<String>()
        );
        let found = eventually(Duration::from_secs(20), || async {
            let (status, body) = mesh.get(&path, None).await;
            status == 200
                && body["companies"]
                    .as_array()
                    .is_some_and(|c| c.len() == 1 && c[0]["name"] == created["name"])
        })
        .await;
        assert!(found, "query {query} did not find the company");
    }
    mesh.stop().await;
}
