//! End-to-end tests of the gateway's errors as a REST client sees them: its own (unknown
//! route, wrong method, malformed or mistyped JSON, bad query parameters, oversized bodies,
//! unsupported content types, connections kept or closed) and the upstream's (gRPC statuses
//! mapped to HTTP with their details, deadlines, no upstream at all).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{app, app_with, Options};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

// --- the gateway's own errors -------------------------------------------------------------------

#[tokio::test]
async fn unknown_route_is_404() {
    let app = app().await;
    let reply = app.get("/v1/nope").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json,
        json!({
            "code": 5,
            "message": "no route for GET /v1/nope",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "NOT_FOUND",
                "domain": "talentmesh.dev",
                "metadata": {}
            }]
        })
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = app().await;
    let reply = app.json("POST", "/v1/shelves/s1/books/b1", "{}").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("DELETE, GET, HEAD, PATCH, PUT"));
    assert_eq!(reply.json["code"], 3, "INVALID_ARGUMENT");
    assert_eq!(
        reply.json["message"],
        "method POST is not allowed on /v1/shelves/s1/books/b1; allowed: DELETE, GET, HEAD, PATCH, PUT"
    );
    assert_eq!(reply.json["details"][0]["reason"], "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = app().await;
    let reply = app.json("POST", "/v1/users:register", r#"{"email":"#).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["code"], 3);
    let (field, description) = reply.violation();
    assert_eq!(field, "body");
    assert!(description.starts_with("malformed JSON: "), "{description}");
}

#[tokio::test]
async fn wrong_types_name_the_field() {
    let app = app().await;
    let top = app
        .json(
            "POST",
            "/v1/users:register",
            r#"{"email":"a@b.c","pageSize":"many"}"#,
        )
        .await;
    assert_eq!(top.status, 400);
    assert_eq!(top.violation().0, "page_size");
    assert_eq!(
        top.json["message"],
        format!("invalid page_size: {}", top.violation().1)
    );

    let nested = app
        .json(
            "POST",
            "/v1/shelves/s1/books",
            r#"{"title":"x","author":{"address":{"zip":"ten"}}}"#,
        )
        .await;
    assert_eq!(nested.status, 400);
    assert_eq!(nested.violation().0, "book.author.address.zip");

    let element = app
        .json(
            "POST",
            "/v1/users:register",
            r#"{"colors":["COLOR_RED","COLOR_PINK"]}"#,
        )
        .await;
    assert_eq!(element.status, 400);
    assert_eq!(element.violation().0, "colors");
}

#[tokio::test]
async fn unknown_fields_name_the_field() {
    let app = app().await;
    let top = app
        .json("POST", "/v1/users:register", r#"{"emial":"a@b.c"}"#)
        .await;
    assert_eq!(top.status, 400);
    assert_eq!(
        top.violation(),
        ("emial".to_string(), "unknown field".to_string())
    );

    let nested = app
        .json(
            "PUT",
            "/v1/shelves/s1/books/b1",
            r#"{"book":{"author":{"address":{"town":"x"}}}}"#,
        )
        .await;
    assert_eq!(nested.status, 400);
    assert_eq!(nested.violation().0, "book.author.address.town");
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let app = app().await;
    let unknown = app.get("/v1/shelves/s1/books?pageSze=1").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.violation(),
        ("pageSze".to_string(), "unknown query parameter".to_string())
    );

    let wrong = app.get("/v1/shelves/s1/books?pageSize=abc").await;
    assert_eq!(wrong.violation().0, "pageSize");

    let enum_name = app.get("/v1/shelves/s1/books?color=COLOR_PURPLE").await;
    assert_eq!(enum_name.violation().0, "color");

    let bound = app.get("/v1/shelves/s1/books?parent=shelves/x").await;
    assert_eq!(bound.violation().0, "parent");

    let twice = app.get("/v1/shelves/s1/books?pageSize=1&pageSize=2").await;
    assert_eq!(
        twice.violation(),
        ("pageSize".to_string(), "given more than once".to_string())
    );

    let message = app.get("/v1/shelves/s1/books?book=x").await;
    assert_eq!(message.violation().0, "book");

    let in_body = app
        .json(
            "POST",
            "/v1/shelves/s1/books?book.title=x",
            r#"{"title":"y"}"#,
        )
        .await;
    assert_eq!(
        in_body.violation(),
        (
            "book.title".to_string(),
            "this field is set by the request body".to_string()
        )
    );

    let whole_body = app
        .send(
            app.client
                .post(app.url("/v1/users:register?email=x"))
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
    assert_eq!(whole_body.status, 400);
    assert_eq!(whole_body.violation().0, "email");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let app = app().await;
    let big = format!(r#"{{"email":"{}"}}"#, "x".repeat(2000));
    let reply = app.json("POST", "/v1/users:register", &big).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json["code"], 8);
    assert_eq!(
        reply.json["message"],
        "request body is larger than 1024 bytes"
    );
    assert_eq!(reply.json["details"][0]["reason"], "PAYLOAD_TOO_LARGE");
    // The body was left unread, so the connection closes, and says so: the client's next
    // request goes out on a new connection instead of failing on this one.
    assert_eq!(reply.header("connection"), Some("close"));
    for _ in 0..5 {
        assert_eq!(
            app.json("POST", "/v1/users:register", &big).await.status,
            413
        );
        assert_eq!(app.get("/v1/shelves/s1").await.status, 200);
    }

    // Without a content length the limit is enforced while reading.
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let chunk = "y".repeat(1500);
    let request = format!(
        "POST /v1/users:register HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// Sends `requests` on one connection and returns everything the gateway wrote back.
async fn on_one_connection(app: &common::App, requests: &str) -> String {
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(requests.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn a_body_the_route_ignores_keeps_the_connection_usable() {
    let app = app().await;
    // GetShelf maps no body; the stray one is read and ignored, and the next request on the
    // same connection is served.
    let answer = on_one_connection(
        &app,
        "GET /v1/shelves/s1 HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello\
         GET /v1/shelves/s2 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    assert!(answer.contains("shelves/s2"), "{answer}");

    // An unknown route does not read the body: the 404 closes the connection and says so.
    let answer = on_one_connection(
        &app,
        "POST /v1/nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test]
async fn unsupported_content_type_is_415() {
    let app = app().await;
    let reply = app
        .send(
            app.client
                .post(app.url("/v1/users:register"))
                .header("content-type", "text/plain")
                .body("email=x"),
        )
        .await;
    assert_eq!(reply.status, 415);
    assert_eq!(reply.json["code"], 3);
    assert_eq!(reply.json["details"][0]["reason"], "UNSUPPORTED_MEDIA_TYPE");

    // JSON with parameters and +json types are accepted.
    let ok = app
        .send(
            app.client
                .post(app.url("/v1/users:register"))
                .header("content-type", "application/json; charset=utf-8")
                .body(r#"{"email":"a"}"#),
        )
        .await;
    assert_eq!(ok.status, 200);
}

// --- upstream errors ----------------------------------------------------------------------------

#[tokio::test]
async fn upstream_status_maps_to_http_with_details() {
    let app = app().await;
    let invalid = app
        .json(
            "POST",
            "/v1/users:register",
            r#"{"trigger":"fail:invalid"}"#,
        )
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.json,
        json!({
            "code": 3,
            "message": "invalid email: must be an email address",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "INVALID_ARGUMENT",
                    "domain": "talentmesh.dev",
                    "metadata": {}
                },
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        {"field": "email", "description": "must be an email address", "reason": ""}
                    ]
                }
            ]
        })
    );

    let not_found = app.get("/v1/shelves/s1?trigger=fail:not_found").await;
    assert_eq!(not_found.status, 404);
    assert_eq!(
        not_found.json["message"],
        "book shelves/1/books/2 does not exist"
    );

    let unauthenticated = app.get("/v1/shelves/s1?trigger=fail:unauthenticated").await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(unauthenticated.json["code"], 16);

    // A status without details still has the same JSON shape.
    let plain = app.get("/v1/shelves/s1?trigger=fail:plain").await;
    assert_eq!(plain.status, 409);
    assert_eq!(
        plain.json,
        json!({"code": 6, "message": "taken", "details": []})
    );

    // A detail of a type the gateway does not know is passed on as base64, not dropped.
    let unknown = app.get("/v1/shelves/s1?trigger=fail:unknown_detail").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.json["details"],
        json!([{"@type": "type.googleapis.com/example.Unknown", "value": "AQID"}])
    );
}

#[tokio::test]
async fn deadline_is_sent_and_enforced() {
    let app = app_with(Options {
        deadline: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let ok = app.get("/v1/shelves/s1").await;
    let timeout = ok.header("grpc-metadata-x-seen-grpc-timeout").unwrap();
    assert!(
        timeout.ends_with('m') || timeout.ends_with('u'),
        "{timeout}"
    );

    let slow = app.get("/v1/shelves/s1?trigger=fail:slow").await;
    assert_eq!(slow.status, 504);
    assert_eq!(slow.json["code"], 4);
}

#[tokio::test]
async fn no_upstream_is_503_and_not_ready() {
    let app = app_with(Options {
        with_upstream: false,
        ..Options::default()
    })
    .await;
    let reply = app.get("/v1/shelves/s1").await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json["code"], 14);
    assert_eq!(
        reply.json["message"],
        "no instance of service testing is available"
    );

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json["status"], "not_ready");
}
