//! The sync control plane through the gateway, as an operator's console uses it: it finds the
//! services that serve the sync admin API in Consul, reports on them, and starts operations on
//! them, for platform admins only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use talentmesh_e2e::{bad_fields, Mesh, ADMIN_EMAIL, ADMIN_PASSWORD};

async fn login(mesh: &Mesh, email: &str) -> String {
    mesh.login(email, ADMIN_PASSWORD, None).await.token
}

async fn admin_token(mesh: &Mesh) -> String {
    login(mesh, ADMIN_EMAIL).await
}

async fn candidate_token(mesh: &Mesh) -> String {
    let (status, body) = mesh
        .post(
            "/v1/users:register",
            json!({"email": "cand@example.com", "password": ADMIN_PASSWORD, "role": "ROLE_CANDIDATE"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    login(mesh, "cand@example.com").await
}

#[tokio::test]
async fn overview_lists_identity_with_the_status_its_instance_reported() {
    let mesh = Mesh::start_with_sync_admin().await;
    let token = admin_token(&mesh).await;
    let (status, body) = mesh.get("/v1/sync/overview", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let identity = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "services/identity")
        .unwrap_or_else(|| panic!("identity is not in the overview: {body}"));
    let instances = identity["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{identity}");
    // The instance answered, so the caller's token reached it and passed its own admin check.
    assert_eq!(instances[0]["error"], "", "{identity}");
    assert!(instances[0]["status"].is_object(), "{identity}");
    assert_eq!(
        instances[0]["address"],
        format!("127.0.0.1:{}", mesh.identity.addr.port())
    );
    assert!(body["counters"].is_object(), "{body}");

    let (status, one) = mesh.get("/v1/sync/services/identity", Some(&token)).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["service"]["name"], "services/identity");
    assert_eq!(one["service"]["instances"][0]["error"], "", "{one}");
}

#[tokio::test]
async fn non_admins_are_refused_with_403_and_anonymous_callers_with_401() {
    let mesh = Mesh::start_with_sync_admin().await;
    let token = candidate_token(&mesh).await;
    for path in [
        "/v1/sync/overview",
        "/v1/sync/services/identity",
        "/v1/sync/storeHealth",
    ] {
        let (status, body) = mesh.get(path, Some(&token)).await;
        assert_eq!(status, 403, "{path}: {body}");
        let (status, body) = mesh.get(path, None).await;
        assert_eq!(status, 401, "{path}: {body}");
    }
    let (status, body) = mesh
        .post_as(
            "/v1/sync/services/identity/operations",
            &token,
            json!({"kind": "OPERATION_KIND_CHECK"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn a_service_without_sync_admin_instances_is_404() {
    let mesh = Mesh::start_with_sync_admin().await;
    let token = admin_token(&mesh).await;
    let (status, body) = mesh.get("/v1/sync/services/nope", Some(&token)).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = mesh
        .post_as(
            "/v1/sync/services/nope/operations",
            &token,
            json!({"kind": "OPERATION_KIND_CHECK"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_check_started_through_the_control_plane_runs_to_success() {
    let mesh = Mesh::start_with_sync_admin().await;
    let token = admin_token(&mesh).await;
    let (status, body) = mesh
        .post_as(
            "/v1/sync/services/identity/operations",
            &token,
            json!({"kind": "OPERATION_KIND_CHECK"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let name = body["operation"]["name"].as_str().unwrap().to_string();
    assert!(
        name.starts_with("services/identity/operations/") && name.len() > 29,
        "{name}"
    );
    assert_eq!(body["operation"]["kind"], "OPERATION_KIND_CHECK");

    let path = format!("/v1/sync/{name}");
    // Polled by hand rather than with `eventually`, to keep the last answer for the message.
    let give_up = std::time::Instant::now() + Duration::from_secs(30);
    let last = loop {
        let (status, body) = mesh.get(&path, Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["operation"]["name"].as_str(), Some(name.as_str()));
        if body["operation"]["state"] == "OPERATION_STATE_SUCCEEDED"
            || std::time::Instant::now() > give_up
        {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        last["operation"]["state"], "OPERATION_STATE_SUCCEEDED",
        "the check never succeeded: {last}"
    );

    // An operation the service never started is the service's NOT_FOUND, relayed; a name that
    // cannot be an operation is the service's INVALID_ARGUMENT.
    let (status, body) = mesh
        .get(
            "/v1/sync/services/identity/operations/01900000-0000-7000-8000-000000000000",
            Some(&token),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = mesh
        .get(
            "/v1/sync/services/identity/operations/no-such-op",
            Some(&token),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn an_operation_without_a_valid_kind_is_400() {
    let mesh = Mesh::start_with_sync_admin().await;
    let token = admin_token(&mesh).await;
    let (status, body) = mesh
        .post_as(
            "/v1/sync/services/identity/operations",
            &token,
            json!({"kind": "OPERATION_KIND_UNSPECIFIED"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(bad_fields(&body), vec!["kind".to_string()], "{body}");

    let (status, body) = mesh
        .post_as(
            "/v1/sync/services/identity/operations",
            &token,
            json!({"kind": "OPERATION_KIND_TIDY_UP"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}
