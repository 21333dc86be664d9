//! While routes are loading, a path no route matches is 503 with `Retry-After`, not 404: a
//! retrying client comes back and finds the route. The Consul events that drive the loading
//! state (`spawn_refresh` reports them against a real Consul; `tests/e2e` covers that) are
//! played here by hand on a real gateway and a real reflection backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{app, App};
use serde_json::json;

fn testing() -> BTreeSet<String> {
    ["testing".to_string()].into()
}

/// Asserts a 503 `ROUTES_LOADING` answer in the google.rpc shape, with `Retry-After`.
async fn assert_loading(app: &App, path: &str) {
    let reply = app.get(path).await;
    assert_eq!(reply.status, 503, "{path}: {:?}", reply.json);
    assert_eq!(reply.header("retry-after"), Some("1"), "{path}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json["code"], 14, "UNAVAILABLE");
    assert_eq!(
        reply.json["message"],
        format!("the routes for GET {path} are still loading; retry shortly")
    );
    let details = reply.json["details"].as_array().unwrap();
    assert!(
        details.iter().any(|d| d["reason"] == "ROUTES_LOADING"
            && d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d["retryDelay"] == "1s"
                && d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"),
        "{details:?}"
    );
}

#[tokio::test]
async fn every_unmatched_path_is_503_until_the_first_load_ends_then_404() {
    let app = app().await;
    app.gateway.loading().begin();

    // Before Consul has been read: every path no route matches, and every wrong method.
    assert_loading(&app, "/v1/refreshed/r1").await;
    assert_loading(&app, "/v2/nope").await;
    let wrong_method = app.json("PUT", "/v1/shelves/s1", "{}").await;
    assert_eq!(wrong_method.status, 503, "{:?}", wrong_method.json);
    // Routes the gateway has are served meanwhile.
    assert_eq!(app.get("/v1/shelves/s1").await.status, 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json["status"], "not_ready");

    // Consul lists the service, its instance is up, its refresh has not ended.
    app.gateway.loading().listed(testing());
    app.gateway.loading().instances_changed("testing", false);
    assert_loading(&app, "/v1/refreshed/r1").await;
    assert_eq!(app.get("/readyz").await.json["loading"], json!(["testing"]));

    let report = app
        .gateway
        .refresh_from_reflection("testing")
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    app.gateway.loading().refreshed("testing");

    // Loaded: the new route answers, and a path no service has is a real 404.
    let routed = app.get("/v1/refreshed/r1").await;
    assert_eq!(routed.status, 200, "{:?}", routed.json);
    let missing = app.get("/v2/nope").await;
    assert_eq!(missing.status, 404);
    assert!(missing.header("retry-after").is_none());
    assert_eq!(app.json("PUT", "/v1/shelves/s1", "{}").await.status, 405);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json["loading"], json!([]));
}

#[tokio::test]
async fn after_the_first_load_only_a_pending_service_s_prefixes_are_503() {
    let app = app().await;
    app.gateway.loading().begin();
    app.gateway.loading().listed(testing());
    app.gateway.loading().instances_changed("testing", false);
    app.gateway.loading().refreshed("testing");
    assert_eq!(app.get("/v1/refreshed/r1").await.status, 404);

    // A redeploy: new instances whose routes are not fetched yet. A path under a literal
    // prefix of `testing`'s routes (/v1/shelves, /v1/files, ...) may be a new route of it;
    // a path under none of them is nobody's, whatever is loading.
    app.gateway.loading().instances_changed("testing", false);
    assert_loading(&app, "/v1/shelves/s1/authors").await;
    assert_loading(&app, "/v1/shelves/s1:lend").await;
    assert_eq!(app.get("/v2/nope").await.status, 404);
    assert_eq!(app.get("/v1/nope").await.status, 404);
    assert_eq!(
        app.get("/readyz").await.status,
        200,
        "the first load is over"
    );

    app.gateway.loading().refreshed("testing");
    assert_eq!(app.get("/v1/shelves/s1/authors").await.status, 404);
}
