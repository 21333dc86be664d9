//! End-to-end tests of what the gateway does around the mapping: the metadata it forwards
//! upstream (auth, request id, trace context, client address), its own endpoints (health,
//! readiness, the OpenAPI document), and its worker threads (connections shared round-robin,
//! shutdown letting requests in flight finish).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{app, app_with, Options};
use serde_json::json;

// --- metadata -----------------------------------------------------------------------------------

#[tokio::test]
async fn forwards_auth_request_id_trace_context_and_client_address() {
    let app = app().await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/shelves/s1"))
                .header("authorization", "Bearer token-1")
                .header("x-request-id", "req-123")
                .header("traceparent", traceparent)
                .header("tracestate", "vendor=1")
                .header("x-forwarded-for", "203.0.113.7"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-request-id"), Some("req-123"));
    assert_eq!(
        reply.header("grpc-metadata-x-seen-request-id"),
        Some("req-123")
    );
    assert_eq!(
        reply.header("grpc-metadata-x-seen-authorization"),
        Some("Bearer token-1")
    );
    assert_eq!(
        reply.header("grpc-metadata-x-seen-traceparent"),
        Some(traceparent)
    );
    assert_eq!(
        reply.header("grpc-metadata-x-seen-tracestate"),
        Some("vendor=1")
    );
    // The peer (127.0.0.1) is no trusted proxy: its x-forwarded-for is replaced, not extended.
    assert_eq!(
        reply.header("grpc-metadata-x-seen-forwarded-for"),
        Some("127.0.0.1")
    );
    assert_eq!(
        reply.header("grpc-metadata-x-seen-client-ip"),
        Some("127.0.0.1")
    );

    // Without one, the gateway makes a request id, sends it upstream and echoes it.
    let fresh = app.get("/v1/shelves/s1").await;
    let id = fresh.header("x-request-id").unwrap();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(fresh.header("grpc-metadata-x-seen-request-id"), Some(id));
    assert_eq!(
        fresh.header("grpc-metadata-x-seen-forwarded-for"),
        Some("127.0.0.1")
    );
    assert!(fresh.header("grpc-metadata-x-seen-authorization").is_none());

    // Errors carry the request id too.
    let missing = app.get("/v1/nope").await;
    assert!(missing.header("x-request-id").is_some());
}

// --- gateway endpoints --------------------------------------------------------------------------

#[tokio::test]
async fn health_and_readiness() {
    let app = app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json, json!({"status": "ok"}));

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json["status"], "ready");
    assert_eq!(ready.json["upstreams"], json!(["testing"]));
    assert!(ready.json["routes"].as_u64().unwrap() >= 16);
}

#[tokio::test]
async fn openapi_documents_the_test_routes() {
    let app = app().await;
    let doc = app.get("/openapi.json").await.json;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = &doc["paths"];
    for (path, method) in [
        ("/v1/shelves/current", "get"),
        ("/v1/shelves/{shelf}", "get"),
        ("/v1/shelves/{shelf}/books", "get"),
        ("/v1/shelves/{shelf}/books", "post"),
        ("/v1/shelves/{shelf}/books/{book}", "get"),
        ("/v1/shelves/{shelf}/books/{book}", "patch"),
        ("/v1/shelves/{shelf}/books/{book}", "put"),
        ("/v1/shelves/{shelf}/books/{book}", "delete"),
        ("/v1/shelves/{shelf}/books/{book}:archive", "post"),
        ("/v1/users:register", "post"),
        ("/v1/files/{path}", "get"),
        ("/v1/nested/{nested.inner.id}/labels/{nested.label}", "get"),
        ("/v1/search", "get"),
        ("/v1/search", "post"),
        ("/v1/shelves/{shelf}/search", "get"),
        ("/v1/reports/{report}", "report"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    assert!(paths.get("/v1/refreshed/{name}").is_none());

    let list = &paths["/v1/shelves/{shelf}/books"]["get"];
    assert_eq!(list["operationId"], "RoutingService_ListBooks");
    assert_eq!(
        list["description"],
        "Books of a shelf; every other field comes from the query string."
    );
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"shelf"));
    assert!(params.contains(&"pageSize"));
    assert!(params.contains(&"book.author.address.city"));
    assert!(!params.contains(&"parent"));
    assert!(!params.contains(&"labels"));

    let get_book = &paths["/v1/shelves/{shelf}/books/{book}"]["get"];
    assert_eq!(
        get_book["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/talentmesh.testing.v1.Book"
    );
    assert_eq!(
        get_book["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/google.rpc.Status"
    );
    let create = &paths["/v1/shelves/{shelf}/books"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/talentmesh.testing.v1.Book"
    );
    let schemas = &doc["components"]["schemas"];
    let message = &schemas["talentmesh.testing.v1.RoutingMessage"];
    assert_eq!(
        message["properties"]["pageSize"],
        json!({"type": "integer", "format": "int32", "minimum": 0,
               "description": "Maximum number of results."})
    );
    assert_eq!(message["properties"]["startTime"]["format"], "date-time");
    assert_eq!(
        message["properties"]["colors"]["items"]["enum"],
        json!(["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN"])
    );
    assert!(schemas["google.rpc.Status"]["properties"]["details"].is_object());
}

// --- worker threads -----------------------------------------------------------------------------

/// The value of the per-worker connection counter in the gateway's metrics.
fn handed_to(app: &common::App, worker: usize) -> u64 {
    let text = app.gateway.metrics().encode();
    text.lines()
        .filter(|l| l.contains("gateway_worker_connections_total"))
        .find(|l| l.contains(&format!("worker=\"{worker}\"")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no counter for worker {worker} in\n{text}"))
}

#[tokio::test]
async fn connections_are_shared_round_robin_by_the_workers() {
    let app = app_with(Options {
        workers: 3,
        ..Options::default()
    })
    .await;
    // A client of its own per connection: six connections, each used twice (keep-alive).
    for _ in 0..6 {
        let client = reqwest::Client::new();
        for _ in 0..2 {
            let reply = app.send(client.get(app.url("/v1/shelves/s1"))).await;
            assert_eq!(reply.status, 200, "{}", reply.json);
            assert_eq!(reply.json["name"], "shelves/s1");
        }
    }
    for worker in 1..=3 {
        assert_eq!(handed_to(&app, worker), 2, "worker {worker}");
    }
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_on_every_worker() {
    let mut app = app().await;
    // Two connections, one per worker, each with a request the backend answers after 3 s.
    let slow = |client: reqwest::Client| {
        let request = client.get(app.url("/v1/shelves/s1?trigger=fail:slow"));
        tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
    };
    let first = slow(reqwest::Client::new());
    let second = slow(reqwest::Client::new());
    // Both requests must have reached the backend before shutdown starts.
    let started = common::eventually(Duration::from_secs(5), || {
        common::SLOW_CALLS_STARTED.load(std::sync::atomic::Ordering::SeqCst) >= 2
    })
    .await;
    assert!(started, "both slow requests reach the backend");
    assert_eq!((handed_to(&app, 1), handed_to(&app, 2)), (1, 1));

    app.shut_down().await.expect("workers stop cleanly");
    assert_eq!(first.await.unwrap().unwrap(), 200);
    assert_eq!(second.await.unwrap().unwrap(), 200);
    // Stopped means no longer accepting.
    let refused = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(refused.is_err(), "{refused:?}");
}
