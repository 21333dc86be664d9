//! AIP-155 request ids at the REST surface: `?requestId=` on a create is a query parameter the
//! gateway maps on its own, the OpenAPI document shows it, and a POST retried with the same id
//! answers the first company and leaves one company listed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use talentmesh_e2e::{bad_fields, Mesh};
use talentmesh_testkit::eventually_value;

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
    let params = doc["paths"]["/v1/companies"]["post"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let request_id = params
        .iter()
        .find(|p| p["name"] == "requestId")
        .unwrap_or_else(|| panic!("no requestId on POST /v1/companies: {params:?}"));
    assert_eq!(request_id["in"], "query");
    mesh.stop().await;
}
