//! Sync operations as long-running operations (AIP-151) through the gateway: a platform admin
//! lists a service's operations newest first in pages and cancels one; a done one answers 400
//! FAILED_PRECONDITION with its PreconditionFailure, an unknown one 404, a non-admin 403.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use talentmesh_e2e::{Mesh, ADMIN_EMAIL, ADMIN_PASSWORD};

/// Starts a check of identity and waits until it is done; returns its name.
async fn check_to_the_end(mesh: &Mesh, token: &str) -> String {
    let (status, body) = mesh
        .post_as(
            "/v1/sync/services/identity/operations",
            token,
            json!({"kind": "OPERATION_KIND_CHECK"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let name = body["operation"]["name"].as_str().unwrap().to_string();
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = mesh.get(&format!("/v1/sync/{name}"), Some(token)).await;
        assert_eq!(status, 200, "{body}");
        if body["operation"]["done"] == true {
            assert_eq!(
                body["operation"]["state"], "OPERATION_STATE_SUCCEEDED",
                "{body}"
            );
            return name;
        }
        assert!(Instant::now() < give_up, "the check never finished: {body}");
        // The pause of a bounded poll (the deadline asserted above ends it).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn names(body: &Value) -> Vec<String> {
    body["operations"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .map(|o| o["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_admin_lists_operations_in_pages_and_cancelling_a_done_one_is_a_failed_precondition() {
    let mesh = Mesh::start_with_sync_admin().await;
    let token = mesh.login(ADMIN_EMAIL, ADMIN_PASSWORD, None).await.token;
    let older = check_to_the_end(&mesh, &token).await;
    let newer = check_to_the_end(&mesh, &token).await;

    let (status, first) = mesh
        .get(
            "/v1/sync/services/identity/operations?pageSize=1",
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(names(&first), vec![newer.clone()], "{first}");
    let next = first["nextPageToken"].as_str().unwrap_or_default();
    assert!(!next.is_empty(), "{first}");
    let (status, second) = mesh
        .get(
            &format!("/v1/sync/services/identity/operations?pageSize=1&pageToken={next}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(names(&second), vec![older.clone()], "{second}");
    let (status, succeeded) = mesh
        .get(
            "/v1/sync/services/identity/operations?filter=state%3DSUCCEEDED",
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{succeeded}");
    assert_eq!(names(&succeeded), vec![newer.clone(), older], "{succeeded}");

    // Done: refused with the precondition that failed.
    let (status, body) = mesh
        .post_as(&format!("/v1/sync/{newer}:cancel"), &token, json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("FAILED_PRECONDITION"), "{body}");
    let details = body["details"].as_array().cloned().unwrap_or_default();
    let failure = details
        .iter()
        .find(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.rpc.PreconditionFailure"))
        })
        .unwrap_or_else(|| panic!("no PreconditionFailure in {body}"));
    assert_eq!(failure["violations"][0]["type"], "STATE", "{body}");

    let (status, body) = mesh
        .post_as(
            "/v1/sync/services/identity/operations/01900000-0000-7000-8000-000000000000:cancel",
            &token,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn a_running_operation_cancelled_through_the_gateway_ends_done() {
    let mesh = Mesh::start_with_sync_admin().await;
    let token = mesh.login(ADMIN_EMAIL, ADMIN_PASSWORD, None).await.token;
    let (status, body) = mesh
        .post_as(
            "/v1/sync/services/identity/operations",
            &token,
            json!({"kind": "OPERATION_KIND_REBUILD"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let name = body["operation"]["name"].as_str().unwrap().to_string();
    // The rebuild may finish before the cancel lands (identity holds few rows): cancellation is
    // best effort, so either the cancel was accepted and it ends CANCELLED (or SUCCEEDED when
    // it finished before its next batch boundary), or it was done already and the cancel is 400.
    let (cancel_status, cancel) = mesh
        .post_as(&format!("/v1/sync/{name}:cancel"), &token, json!({}))
        .await;
    assert!(
        cancel_status == 200 || cancel_status == 400,
        "{cancel_status}: {cancel}"
    );
    let give_up = Instant::now() + Duration::from_secs(30);
    let last = loop {
        let (status, body) = mesh.get(&format!("/v1/sync/{name}"), Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        if body["operation"]["done"] == true {
            break body;
        }
        assert!(Instant::now() < give_up, "the rebuild never ended: {body}");
        // The pause of a bounded poll (the deadline asserted above ends it).
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let state = last["operation"]["state"].as_str().unwrap_or_default();
    if cancel_status == 200 {
        assert_eq!(cancel["operation"]["name"], name.as_str(), "{cancel}");
        // The request shows at once, and stays on the operation however it ended.
        assert_eq!(cancel["operation"]["cancelRequested"], true, "{cancel}");
        assert_eq!(last["operation"]["cancelRequested"], true, "{last}");
        assert!(
            state == "OPERATION_STATE_CANCELLED" || state == "OPERATION_STATE_SUCCEEDED",
            "{last}"
        );
    } else {
        assert_eq!(state, "OPERATION_STATE_SUCCEEDED", "{last}");
    }
    assert!(last["operation"]["endTime"].is_string(), "{last}");

    // Listed with its final state, newest first.
    let (status, listed) = mesh
        .get("/v1/sync/services/identity/operations", Some(&token))
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["operations"][0]["name"], name.as_str(), "{listed}");
    assert_eq!(listed["operations"][0]["state"], state, "{listed}");

    // Only platform admins.
    let (status, body) = mesh
        .get("/v1/sync/services/identity/operations", None)
        .await;
    assert_eq!(status, 401, "{body}");
}
