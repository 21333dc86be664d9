//! The HTTP conventions of the gateway, as a client sees them: entity tags and conditional
//! requests (`ETag`, `If-None-Match` → 304, `If-Match` → 412), `HEAD`, `Allow` on 405,
//! `Retry-After` on 503, gzip, and CORS (off unless configured).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use talentmesh_e2e::{reason, Mesh};
use talentmesh_gateway::{Gateway, GatewayConfig, StaticUpstreams};

const PASSWORD: &str = "correct horse 42";

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A request with a bearer token and extra headers.
async fn send(
    mesh: &Mesh,
    method: Method,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> Response {
    let mut request = mesh.http.request(method, mesh.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// A mesh with the company service, an employer and the company they created:
/// (mesh, token, company name, the create answer's ETag).
async fn company_mesh() -> (Mesh, String, String, String) {
    let mesh = Mesh::start_with_company(|env| env).await;
    let session = mesh
        .login("etag-owner@example.com", PASSWORD, Some("ROLE_EMPLOYER"))
        .await;
    let created = send(
        &mesh,
        Method::POST,
        "/v1/companies",
        &session.token,
        &[],
        Some(json!({"displayName": "条件请求科技", "cityCode": "440300"})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::OK);
    let tag = header(&created, "etag").expect("a created company has an ETag");
    let body: serde_json::Value = created.json().await.unwrap();
    let name = body["name"].as_str().unwrap().to_string();
    (mesh, session.token, name, tag)
}

#[tokio::test]
async fn resources_carry_an_etag_and_a_current_copy_is_not_sent_again() {
    let (mesh, token, name, created_tag) = company_mesh().await;
    // A versioned resource: the tag starts with its version, and is strong (no W/).
    assert!(created_tag.starts_with("\"1-"), "{created_tag}");
    let path = format!("/v1/{name}");
    let got = send(&mesh, Method::GET, &path, &token, &[], None).await;
    assert_eq!(got.status(), StatusCode::OK);
    let tag = header(&got, "etag").expect("GET has an ETag");
    assert_eq!(
        tag, created_tag,
        "the same caller sees the same representation"
    );

    let again = send(
        &mesh,
        Method::GET,
        &path,
        &token,
        &[("if-none-match", &tag)],
        None,
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&again, "etag").as_deref(), Some(tag.as_str()));
    assert!(again.bytes().await.unwrap().is_empty());

    // Another tag, or the resource changed: the whole answer.
    let other = send(
        &mesh,
        Method::GET,
        &path,
        &token,
        &[("if-none-match", "\"1-0000000000000000\", W/\"x\"")],
        None,
    )
    .await;
    assert_eq!(other.status(), StatusCode::OK);
    let changed = send(
        &mesh,
        Method::PATCH,
        &format!("{path}?updateMask=description"),
        &token,
        &[],
        Some(json!({"description": "新的介绍"})),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let new_tag = header(&changed, "etag").expect("an update answers with the new ETag");
    assert!(new_tag.starts_with("\"2-"), "{new_tag}");
    let stale = send(
        &mesh,
        Method::GET,
        &path,
        &token,
        &[("if-none-match", &tag)],
        None,
    )
    .await;
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(header(&stale, "etag"), Some(new_tag));

    // A resource without a version still has a (digest) tag, and it answers 304 too.
    let me = send(&mesh, Method::GET, "/v1/users/me", &token, &[], None).await;
    let me_tag = header(&me, "etag").expect("a user has an ETag");
    assert!(!me_tag.starts_with("W/"), "{me_tag}");
    let me_again = send(
        &mesh,
        Method::GET,
        "/v1/users/me",
        &token,
        &[("if-none-match", &me_tag)],
        None,
    )
    .await;
    assert_eq!(me_again.status(), StatusCode::NOT_MODIFIED);
    mesh.stop().await;
}

#[tokio::test]
async fn an_update_with_a_stale_if_match_is_refused_with_412_and_changes_nothing() {
    let (mesh, token, name, tag) = company_mesh().await;
    let path = format!("/v1/{name}?updateMask=description");
    let first = send(
        &mesh,
        Method::PATCH,
        &path,
        &token,
        &[("if-match", &tag)],
        Some(json!({"description": "第一次"})),
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    let current = header(&first, "etag").unwrap();

    // The same (now stale) tag again: someone else's change would be overwritten.
    let second = send(
        &mesh,
        Method::PATCH,
        &path,
        &token,
        &[("if-match", &tag)],
        Some(json!({"description": "第二次"})),
    )
    .await;
    assert_eq!(second.status(), StatusCode::PRECONDITION_FAILED);
    let body: serde_json::Value = second.json().await.unwrap();
    assert_eq!(body["code"], 10, "ABORTED: {body}");
    assert_eq!(
        reason(&body).as_deref(),
        Some("PRECONDITION_FAILED"),
        "{body}"
    );
    let (_, now) = mesh
        .call(Method::GET, &format!("/v1/{name}"), Some(&token), None)
        .await;
    assert_eq!(now["description"], "第一次");
    assert_eq!(now["version"], "2");

    // Several tags, one current: checked against a read, then written at that version.
    let listed = format!("\"1-0000000000000000\", {current}");
    let third = send(
        &mesh,
        Method::PATCH,
        &path,
        &token,
        &[("if-match", &listed)],
        Some(json!({"description": "第三次"})),
    )
    .await;
    assert_eq!(third.status(), StatusCode::OK);
    let (_, now) = mesh
        .call(Method::GET, &format!("/v1/{name}"), Some(&token), None)
        .await;
    assert_eq!(now["description"], "第三次");

    // A malformed If-Match is a 400 naming the header.
    let bad = send(
        &mesh,
        Method::PATCH,
        &path,
        &token,
        &[("if-match", "no-quotes")],
        Some(json!({"description": "x"})),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    mesh.stop().await;
}

#[tokio::test]
async fn a_delete_with_a_stale_if_match_is_refused_and_with_the_current_one_goes_through() {
    let (mesh, token, name, tag) = company_mesh().await;
    let path = format!("/v1/{name}");
    let changed = send(
        &mesh,
        Method::PATCH,
        &format!("{path}?updateMask=description"),
        &token,
        &[],
        Some(json!({"description": "改过"})),
    )
    .await;
    let current = header(&changed, "etag").unwrap();
    // DeleteCompany has no version field: the gateway compares with a read of the company.
    let stale = send(
        &mesh,
        Method::DELETE,
        &path,
        &token,
        &[("if-match", &tag)],
        None,
    )
    .await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let (status, _) = mesh.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(status, 200, "the company is still there");
    let fresh = send(
        &mesh,
        Method::DELETE,
        &path,
        &token,
        &[("if-match", &current)],
        None,
    )
    .await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let (status, _) = mesh.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(status, 404);
    mesh.stop().await;
}

#[tokio::test]
async fn head_answers_like_get_without_a_body_and_allow_lists_what_exists() {
    let mesh = Mesh::start().await;
    let session = mesh
        .login("head@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await;
    let get = send(
        &mesh,
        Method::GET,
        "/v1/users/me",
        &session.token,
        &[],
        None,
    )
    .await;
    assert_eq!(get.status(), StatusCode::OK);
    let get_tag = header(&get, "etag");
    let get_len = get.bytes().await.unwrap().len();
    let head = send(
        &mesh,
        Method::HEAD,
        "/v1/users/me",
        &session.token,
        &[],
        None,
    )
    .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "etag"), get_tag);
    assert_eq!(
        header(&head, "content-length"),
        Some(get_len.to_string()),
        "HEAD announces the length GET sends"
    );
    assert!(head.bytes().await.unwrap().is_empty());

    // 405 lists exactly the methods of the path, HEAD with GET.
    let wrong = send(
        &mesh,
        Method::DELETE,
        "/v1/users/me",
        &session.token,
        &[],
        None,
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&wrong, "allow").as_deref(), Some("GET, HEAD"));
    // A custom method: only its own method, not those of the resource path before the colon.
    let custom = send(
        &mesh,
        Method::GET,
        "/v1/users:register",
        &session.token,
        &[],
        None,
    )
    .await;
    assert_eq!(custom.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&custom, "allow").as_deref(), Some("POST"));
    mesh.stop().await;
}

#[tokio::test]
async fn answers_are_gzipped_for_clients_that_accept_it() {
    let mesh = Mesh::start().await;
    let plain = mesh
        .http
        .get(mesh.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&plain, "content-encoding"), None);
    let plain_len = plain.bytes().await.unwrap().len();
    let zipped = mesh
        .http
        .get(mesh.url("/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.status(), StatusCode::OK);
    assert_eq!(header(&zipped, "content-encoding").as_deref(), Some("gzip"));
    assert!(header(&zipped, "vary")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .contains("accept-encoding"));
    let bytes = zipped.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip member");
    assert!(
        bytes.len() * 3 < plain_len,
        "{} of {plain_len} bytes",
        bytes.len()
    );
    // Proxied answers too.
    let session = mesh
        .login("gzip@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await;
    let me = send(
        &mesh,
        Method::GET,
        "/v1/users/me",
        &session.token,
        &[("accept-encoding", "gzip")],
        None,
    )
    .await;
    assert_eq!(header(&me, "content-encoding").as_deref(), Some("gzip"));
    mesh.stop().await;
}

#[tokio::test]
async fn cors_is_off_by_default_so_a_preflight_is_405() {
    let mesh = Mesh::start().await;
    let preflight = mesh
        .http
        .request(Method::OPTIONS, mesh.url("/v1/users/me"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&preflight, "access-control-allow-origin"), None);
    mesh.stop().await;
}

/// A gateway with no upstream at all on a port of its own, with `vars` as its environment.
async fn bare_gateway(vars: &[(&str, &str)]) -> (String, tokio::sync::oneshot::Sender<()>) {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = GatewayConfig::from_map(&vars).unwrap();
    let gateway = Gateway::new(config, StaticUpstreams::new()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(talentmesh_gateway::serve(listener, gateway, async move {
        let _ = stopped.await;
    }));
    (base, stop)
}

#[tokio::test]
async fn configured_origins_get_cors_answers_and_others_do_not() {
    let (base, _stop) =
        bare_gateway(&[("TALENTMESH_GATEWAY_CORS_ORIGINS", "https://app.example.com")]).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(Method::OPTIONS, format!("{base}/v1/companies/c1"))
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header("access-control-request-headers", "authorization, if-match")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap();
    assert!(methods.contains("PATCH"), "{methods}");
    let headers = header(&allowed, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("if-match"),
        "{headers}"
    );
    assert_eq!(
        header(&allowed, "access-control-max-age").as_deref(),
        Some("600")
    );
    let other = preflight("https://evil.example.net").await.unwrap();
    assert_eq!(header(&other, "access-control-allow-origin"), None);

    // An actual request: the page may read the answer (an error here) and its ETag header.
    let answer = http
        .get(format!("{base}/healthz"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&answer, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(header(&answer, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase()
        .contains("etag"));
}

#[tokio::test]
async fn unavailable_answers_say_when_to_retry() {
    // No instance of any service: every route is 503, with Retry-After like a 429.
    let (base, _stop) = bare_gateway(&[]).await;
    let answer = reqwest::Client::new()
        .get(format!("{base}/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    let after: u64 = header(&answer, "retry-after")
        .expect("Retry-After on 503")
        .parse()
        .unwrap();
    assert!(after >= 1);
}
