//! End-to-end tests of the gateway: real HTTP in, real gRPC out to an echo backend on loopback.
//! Each test asserts what a REST client would see: status codes, headers and JSON bodies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{app, app_with, Options, SERVICE};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn rpc(method: &str) -> String {
    format!("/{SERVICE}/{method}")
}

// --- routing ----------------------------------------------------------------------------------

#[tokio::test]
async fn literal_segments_beat_variables() {
    let app = app().await;
    let current = app.get("/v1/shelves/current").await;
    assert_eq!(current.status, 200, "{}", current.json);
    assert_eq!(current.called(), rpc("GetCurrentShelf"));
    assert_eq!(current.json["name"], "");

    let shelf = app.get("/v1/shelves/s1").await;
    assert_eq!(shelf.called(), rpc("GetShelf"));
    assert_eq!(shelf.json["name"], "shelves/s1");

    // "current" is a literal only at the end; deeper paths backtrack to the variable route.
    let books = app.get("/v1/shelves/current/books").await;
    assert_eq!(books.called(), rpc("ListBooks"));
    assert_eq!(books.json["parent"], "shelves/current");
}

#[tokio::test]
async fn unpopulated_fields_are_emitted_with_defaults() {
    let app = app().await;
    let reply = app.get("/v1/shelves/s1").await;
    assert_eq!(reply.json["pageSize"], 0);
    assert_eq!(reply.json["tags"], json!([]));
    assert_eq!(reply.json["color"], "COLOR_UNSPECIFIED");
    assert_eq!(reply.json["labels"], json!({}));
    // lowerCamelCase names only.
    assert!(reply.json.get("page_size").is_none());
}

#[tokio::test]
async fn multi_segment_variable_and_response_body() {
    let app = app().await;
    let reply = app.get("/v1/shelves/s1/books/b%201?book.title=Dune").await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.called(), rpc("GetBook"));
    // Only the `book` field of the response is the body.
    assert_eq!(reply.json, json!({"name": "", "title": "Dune", "tags": []}));
}

#[tokio::test]
async fn nested_path_fields_and_rest_variables() {
    let app = app().await;
    let nested = app.get("/v1/nested/42/labels/hello%20world").await;
    assert_eq!(nested.called(), rpc("GetNested"));
    assert_eq!(
        nested.json["nested"],
        json!({"inner": {"id": "42"}, "label": "hello world"})
    );

    let file = app.get("/v1/files/docs/a%2Fb/readme.md").await;
    assert_eq!(file.called(), rpc("GetFile"));
    assert_eq!(file.json["path"], "docs/a%2Fb/readme.md");

    let bad = app.get("/v1/nested/forty-two/labels/x").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.violation().0, "nested.inner.id");
}

#[tokio::test]
async fn custom_verbs() {
    let app = app().await;
    let register = app
        .json(
            "POST",
            "/v1/users:register",
            r#"{"email":"ada@example.com"}"#,
        )
        .await;
    assert_eq!(register.status, 200, "{}", register.json);
    assert_eq!(register.called(), rpc("RegisterUser"));
    assert_eq!(register.json["email"], "ada@example.com");

    let archive = app
        .json("POST", "/v1/shelves/s1/books/b1:archive", "{}")
        .await;
    assert_eq!(archive.called(), rpc("ArchiveBook"));
    assert_eq!(archive.json["name"], "shelves/s1/books/b1");
}

#[tokio::test]
async fn every_verb_and_body_rule() {
    let app = app().await;

    let create = app
        .json(
            "POST",
            "/v1/shelves/s1/books",
            r#"{"title":"Dune","author":{"displayName":"Frank","address":{"city":"Tacoma"}}}"#,
        )
        .await;
    assert_eq!(create.called(), rpc("CreateBook"));
    assert_eq!(create.json["parent"], "shelves/s1");
    assert_eq!(
        create.json["book"],
        json!({
            "name": "", "title": "Dune", "tags": [],
            "author": {"displayName": "Frank", "address": {"city": "Tacoma", "zip": 0}}
        })
    );

    let update = app
        .json(
            "PATCH",
            "/v1/shelves/s1/books/b1?update_mask=title,author.display_name",
            r#"{"title":"Dune Messiah"}"#,
        )
        .await;
    assert_eq!(update.called(), rpc("UpdateBook"));
    assert_eq!(update.json["book"]["name"], "shelves/s1/books/b1");
    assert_eq!(update.json["book"]["title"], "Dune Messiah");
    assert_eq!(update.json["updateMask"], "title,author.displayName");

    // body "*": the path wins over the same field in the body; other body fields are kept.
    let replace = app
        .json(
            "PUT",
            "/v1/shelves/s1/books/b1",
            r#"{"book":{"name":"shelves/x/books/y","title":"T"},"page_size":3}"#,
        )
        .await;
    assert_eq!(replace.called(), rpc("ReplaceBook"));
    assert_eq!(replace.json["book"]["name"], "shelves/s1/books/b1");
    assert_eq!(replace.json["book"]["title"], "T");
    assert_eq!(replace.json["pageSize"], 3);

    let delete = app
        .send(app.client.delete(app.url("/v1/shelves/s1/books/b1")))
        .await;
    assert_eq!(delete.called(), rpc("DeleteBook"));
    assert_eq!(delete.json["name"], "shelves/s1/books/b1");

    let report = app
        .send(app.client.request(
            reqwest::Method::from_bytes(b"REPORT").unwrap(),
            app.url("/v1/reports/r1"),
        ))
        .await;
    assert_eq!(report.status, 200, "{}", report.json);
    assert_eq!(report.called(), rpc("Report"));
    assert_eq!(report.json["name"], "reports/r1");
}

#[tokio::test]
async fn additional_bindings() {
    let app = app().await;
    let get = app.get("/v1/search?name=q").await;
    assert_eq!(get.called(), rpc("Search"));
    assert_eq!(get.json["name"], "q");

    let post = app.json("POST", "/v1/search", r#"{"name":"r"}"#).await;
    assert_eq!(post.called(), rpc("Search"));
    assert_eq!(post.json["name"], "r");

    let scoped = app.get("/v1/shelves/s9/search").await;
    assert_eq!(scoped.called(), rpc("Search"));
    assert_eq!(scoped.json["parent"], "shelves/s9");
}

#[tokio::test]
async fn query_parameters_of_every_kind() {
    let app = app().await;
    let query = [
        "pageSize=10",
        "tags=a",
        "tags=b%20c",
        "color=COLOR_RED",
        "colors=1",
        "colors=COLOR_GREEN",
        "start_time=2024-01-02T03:04:05Z",
        "timeout=1.5s",
        "updateMask=title,author.display_name",
        "limit=5",
        "note=hi",
        "flag=false",
        "nested.inner.id=7",
        "book.author.address.city=Paris",
        "verbose=true",
        "ratio=0.5",
        "blob=aGk",
        "ids=1",
        "ids=-2",
    ]
    .join("&");
    let reply = app.get(&format!("/v1/shelves/s1/books?{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let j = &reply.json;
    assert_eq!(j["parent"], "shelves/s1");
    assert_eq!(j["pageSize"], 10);
    assert_eq!(j["tags"], json!(["a", "b c"]));
    assert_eq!(j["color"], "COLOR_RED");
    assert_eq!(j["colors"], json!(["COLOR_RED", "COLOR_GREEN"]));
    assert_eq!(j["startTime"], "2024-01-02T03:04:05Z");
    assert_eq!(j["timeout"], "1.500s");
    assert_eq!(j["updateMask"], "title,author.displayName");
    assert_eq!(j["limit"], 5);
    assert_eq!(j["note"], "hi");
    assert_eq!(j["flag"], false);
    assert_eq!(j["nested"]["inner"]["id"], "7");
    assert_eq!(j["book"]["author"]["address"]["city"], "Paris");
    assert_eq!(j["verbose"], true);
    assert_eq!(j["ratio"], 0.5);
    assert_eq!(j["blob"], "aGk=");
    assert_eq!(j["ids"], json!(["1", "-2"]));
}

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
    assert_eq!(reply.header("allow"), Some("DELETE, GET, PATCH, PUT"));
    assert_eq!(reply.json["code"], 3, "INVALID_ARGUMENT");
    assert_eq!(
        reply.json["message"],
        "method POST is not allowed on /v1/shelves/s1/books/b1; allowed: DELETE, GET, PATCH, PUT"
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
    assert_eq!(
        reply.header("grpc-metadata-x-seen-forwarded-for"),
        Some("203.0.113.7, 127.0.0.1")
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
        json!({"type": "integer", "format": "int32", "description": "Maximum number of results."})
    );
    assert_eq!(message["properties"]["startTime"]["format"], "date-time");
    assert_eq!(
        message["properties"]["colors"]["items"]["enum"],
        json!(["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN"])
    );
    assert!(schemas["google.rpc.Status"]["properties"]["details"].is_object());
}

// --- refresh --------------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_from_reflection_adds_new_routes() {
    let app = app().await;
    let before = app.get("/v1/refreshed/r1").await;
    assert_eq!(before.status, 404);

    let report = app
        .gateway
        .refresh_from_reflection("testing")
        .await
        .unwrap();
    assert!(
        report.files.iter().any(|f| f == common::ROUTING_PROTO),
        "{:?}",
        report.files
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let after = app.get("/v1/refreshed/r1").await;
    assert_eq!(after.status, 200, "{}", after.json);
    assert_eq!(after.called(), rpc("Refreshed"));
    assert_eq!(after.json["name"], "r1");
    // Old routes still work, and the OpenAPI document follows.
    assert_eq!(app.get("/v1/shelves/s1").await.called(), rpc("GetShelf"));
    let doc = app.get("/openapi.json").await.json;
    assert!(doc["paths"]["/v1/refreshed/{name}"]["get"].is_object());

    let unknown = app.gateway.refresh_from_reflection("nobody").await;
    assert!(unknown.is_err());

    // Replacing the pool swaps the whole table back.
    let initial =
        prost_reflect::DescriptorPool::decode(common::protos().initial.as_slice()).unwrap();
    let table = app.gateway.replace_pool(initial);
    assert!(table.problems().is_empty());
    assert_eq!(app.get("/v1/refreshed/r1").await.status, 404);
    assert_eq!(app.get("/v1/shelves/s1").await.status, 200);
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((handed_to(&app, 1), handed_to(&app, 2)), (1, 1));

    app.shut_down().await.expect("workers stop cleanly");
    assert_eq!(first.await.unwrap().unwrap(), 200);
    assert_eq!(second.await.unwrap().unwrap(), 200);
    // Stopped means no longer accepting.
    let refused = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(refused.is_err(), "{refused:?}");
}
