//! End-to-end tests of the gateway's HTTP-to-gRPC mapping: real HTTP in, real gRPC out to an
//! echo backend on loopback. Routing (literal and variable segments, custom verbs, every verb
//! and body rule, additional bindings, query parameters) and routes refreshed from reflection,
//! each asserted as a REST client would see it: status codes, headers and JSON bodies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{app, SERVICE};
use serde_json::json;

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
