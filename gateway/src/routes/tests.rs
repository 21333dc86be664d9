//! The route table against the compiled-in contracts: every annotation compiles, lookups
//! follow precedence, verbs and methods, and writes know their reader and precondition.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn table() -> RouteTable {
    RouteTable::compile(
        crate::descriptors::compiled_in().unwrap(),
        &crate::config::mesh_services(),
    )
}

fn found(table: &RouteTable, method: Method, path: &str) -> String {
    match table.find(&method, path) {
        RouteMatch::Found { route, .. } => route.rpc.method.name().to_string(),
        other => panic!("{method} {path}: {other:?}"),
    }
}

#[test]
fn every_compiled_in_annotation_compiles() {
    let table = table();
    assert!(table.problems().is_empty(), "{:?}", table.problems());
    assert!(table.routes().len() >= 8);
    assert_eq!(
        table.upstream_names(),
        [
            Arc::<str>::from("company"),
            Arc::<str>::from("identity"),
            Arc::<str>::from("job"),
            Arc::<str>::from("resume"),
            Arc::<str>::from("matching"),
            Arc::<str>::from("sync")
        ]
    );
}

#[test]
fn finds_identity_routes_by_precedence_verb_and_binding() {
    let table = table();
    assert_eq!(found(&table, Method::GET, "/v1/users/me"), "GetCurrentUser");
    assert_eq!(found(&table, Method::GET, "/v1/users/42"), "GetUser");
    assert_eq!(
        found(&table, Method::POST, "/v1/users:register"),
        "Register"
    );
    assert_eq!(
        found(&table, Method::GET, "/.well-known/jwks.json"),
        "ListPublicKeys"
    );
    assert_eq!(
        found(&table, Method::GET, "/v1/publicKeys"),
        "ListPublicKeys"
    );
    assert!(matches!(
        table.find(&Method::DELETE, "/v1/users/42"),
        RouteMatch::MethodNotAllowed(m) if m == [Method::GET, Method::HEAD]
    ));
    // HEAD is the GET route without its body.
    assert_eq!(found(&table, Method::HEAD, "/v1/users/42"), "GetUser");
    assert!(matches!(
        table.find(&Method::GET, "/v1/users"),
        RouteMatch::NotFound
    ));
    assert!(matches!(
        table.find(&Method::GET, "/v1/users/"),
        RouteMatch::NotFound
    ));
    assert!(matches!(
        table.find(&Method::GET, "v1/users/me"),
        RouteMatch::NotFound
    ));
}

#[test]
fn an_unknown_custom_verb_is_not_read_as_a_resource_id() {
    let table = table();
    assert!(matches!(
        table.find(&Method::GET, "/v1/resumes/abc:noSuchVerb"),
        RouteMatch::NotFound
    ));
    assert!(matches!(
        table.find(&Method::GET, "/v1/users/42:x1"),
        RouteMatch::NotFound
    ));
    // A known verb with the wrong method is still a 405, not a lookup of `users:register`.
    assert!(matches!(
        table.find(&Method::GET, "/v1/users:register"),
        RouteMatch::MethodNotAllowed(m) if m == [Method::POST]
    ));
    // A colon that is part of an id is sent escaped.
    assert_eq!(found(&table, Method::GET, "/v1/users/a%3Ab"), "GetUser");
}

#[test]
fn allow_lists_only_the_methods_of_a_custom_method_path() {
    let table = table();
    // A custom method answers with the one method it has; the resource path's GET, PATCH
    // and DELETE are not offered on `:network`.
    assert!(matches!(
        table.find(&Method::PATCH, "/v1/companies/c1:network"),
        RouteMatch::MethodNotAllowed(m) if m == [Method::GET, Method::HEAD]
    ));
    assert!(matches!(
        table.find(&Method::GET, "/v1/companies/c1:submitVerification"),
        RouteMatch::MethodNotAllowed(m) if m == [Method::POST]
    ));
    assert!(matches!(
        table.find(&Method::POST, "/v1/companies/c1"),
        RouteMatch::MethodNotAllowed(m)
            if m == [Method::DELETE, Method::GET, Method::HEAD, Method::PATCH]
    ));
}

#[test]
fn writes_know_their_reader_version_and_precondition() {
    let table = table();
    let route = |method: Method, path| match table.find(&method, path) {
        RouteMatch::Found { route, .. } => route,
        other => panic!("{path}: {other:?}"),
    };
    let update = route(Method::PATCH, "/v1/companies/c1");
    assert_eq!(
        update.precondition.as_ref().map(|f| f.name()),
        Some("expected_version")
    );
    let reader = &table.routes()[update.reader.expect("a reader")];
    assert_eq!(reader.rpc.method.name(), "GetCompany");
    let version = update.entity.as_ref().expect("a versioned company");
    assert_eq!(version.field.name(), "version");
    assert_eq!(
        version.container.as_ref().map(|f| f.name()),
        Some("company")
    );
    // Delete has no version field: If-Match is checked against the GET.
    let delete = route(Method::DELETE, "/v1/companies/c1");
    assert!(delete.precondition.is_none());
    assert_eq!(delete.reader, update.reader);
    // A user has no version: its tag is a digest.
    assert!(route(Method::GET, "/v1/users/42").entity.is_none());
}

#[test]
fn only_exposed_services_get_routes() {
    let pool = crate::descriptors::compiled_in().unwrap();
    let table = RouteTable::compile(pool, &["identity".to_string()]);
    assert_eq!(table.upstream_names(), [Arc::<str>::from("identity")]);
    assert!(matches!(
        table.find(&Method::GET, "/v1/jobs:search"),
        RouteMatch::NotFound
    ));
}

#[test]
fn replies_carrying_tokens_are_marked_no_store() {
    let table = table();
    let route = |method, path| match table.find(&method, path) {
        RouteMatch::Found { route, .. } => route.rpc.no_store,
        other => panic!("{path}: {other:?}"),
    };
    assert!(route(Method::POST, "/v1/sessions:login"));
    assert!(route(Method::POST, "/v1/sessions:refresh"));
    assert!(!route(Method::GET, "/v1/users/me"));
    // A page token is not a credential.
    assert!(!route(Method::GET, "/v1/companies"));
}
