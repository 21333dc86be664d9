//! AIP-155 request ids at the REST surface: `?requestId=` on a create is a query parameter the
//! gateway maps on its own (any request field not in the body), the OpenAPI document shows it,
//! and a POST retried with the same id answers the first company and leaves one company listed;
//! the same for an office, a child resource whose create has `parent` in the path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value as Json};
use talentmesh_e2e::{bad_fields, Mesh};
use talentmesh_testkit::eventually_value;
use talentmesh_testkit::idempotency::request_id;

const PASSWORD: &str = "correct horse 42";

#[tokio::test]
async fn a_post_retried_with_the_same_request_id_creates_one_company() {
    let mesh = Mesh::start_with_company(|env| env).await;
    let owner = mesh
        .login("boss@example.com", PASSWORD, Some("ROLE_EMPLOYER"))
        .await
        .token;
    // Any UUID: the mesh, and so its Redis key prefix, is this test's own.
    let id = "3f1c2a4e-9b7d-4c1e-8f2a-5d6b7c8e9f01";
    let post = |name: &'static str, query: String| {
        let (mesh, owner) = (&mesh, owner.clone());
        async move {
            let body = json!({"displayName": name, "industry": "software", "cityCode": "440300"});
            mesh.call(
                Method::POST,
                &format!("/v1/companies{query}"),
                Some(&owner),
                Some(body),
            )
            .await
        }
    };

    let (status, first) = post("星河科技", format!("?requestId={id}")).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = post("星河科技", format!("?requestId={id}")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["name"], first["name"]);

    let (status, refused) = post("星河科技", "?requestId=42".into()).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(bad_fields(&refused), ["request_id"]);

    // A company created after the retries: once the list shows it, the list has caught up with
    // everything created before it (the search projection applies events in order).
    let (status, sentinel) = post("后来公司", String::new()).await;
    assert_eq!(status, 200, "{sentinel}");
    let listed = eventually_value(Duration::from_secs(20), || async {
        let (status, body) = mesh.get("/v1/companies?pageSize=100", Some(&owner)).await;
        let names: Vec<String> = body["companies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        (status == 200 && names.iter().any(|n| sentinel["name"] == n.as_str())).then_some(names)
    })
    .await
    .expect("the sentinel company is listed");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().any(|n| first["name"] == n.as_str()));
    mesh.stop().await;
}

#[tokio::test]
async fn the_openapi_document_shows_request_id_on_creates() {
    let mesh = Mesh::start_with_company(|env| env).await;
    let (status, doc) = mesh.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    for path in [
        "/v1/companies",
        "/v1/companies/{company}/offices",
        "/v1/companies/{company}/relations",
        "/v1/companies/{company}/invitations",
    ] {
        let params = doc["paths"][path]["post"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let request_id = params
            .iter()
            .find(|p| p["name"] == "requestId")
            .unwrap_or_else(|| panic!("no requestId on POST {path}: {params:?}"));
        assert_eq!(request_id["in"], "query", "{path}");
    }
    mesh.stop().await;
}

#[tokio::test]
async fn an_office_post_retried_with_the_same_request_id_creates_one_office() {
    let mesh = Mesh::start_with_company(|env| env).await;
    let owner = mesh
        .login("boss@example.com", PASSWORD, Some("ROLE_EMPLOYER"))
        .await
        .token;
    let company = json!({"displayName": "星河科技", "industry": "software", "cityCode": "440300"});
    let (status, company) = mesh
        .call(Method::POST, "/v1/companies", Some(&owner), Some(company))
        .await;
    assert_eq!(status, 200, "{company}");
    let offices = format!("/v1/{}/offices", company["name"].as_str().unwrap());
    let post = |label: &'static str, query: String| {
        let (mesh, owner, path) = (&mesh, owner.clone(), format!("{offices}{query}"));
        async move {
            let body = json!({
                "label": label,
                "address": "深圳市南山区",
                "cityCode": "440300",
                "location": {"latitude": 22.5431, "longitude": 113.912},
            });
            mesh.call(Method::POST, &path, Some(&owner), Some(body))
                .await
        }
    };

    let id = request_id();
    let (status, first) = post("HQ", format!("?requestId={id}")).await;
    assert_eq!(status, 200, "{first}");
    // A retry, even with another body, answers the first office.
    let (status, again) = post("R&D", format!("?requestId={id}")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["name"], first["name"]);
    assert_eq!(again["label"], "HQ");

    let (status, refused) = post("HQ", "?requestId=42".into()).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(bad_fields(&refused), ["request_id"]);

    // Offices are read from the company's own database: no projection to wait for.
    let (status, listed) = mesh.get(&offices, Some(&owner)).await;
    assert_eq!(status, 200, "{listed}");
    let names: Vec<&Json> = listed["offices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| &o["name"])
        .collect();
    assert_eq!(names, [&first["name"]], "{listed}");
    mesh.stop().await;
}
