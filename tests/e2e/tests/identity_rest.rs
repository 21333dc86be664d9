//! Identity through the gateway over HTTP, as a web client uses it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use serde_json::json;
use talentmesh_e2e::{bad_fields, reason, Mesh};
use talentmesh_mesh::auth::Claims;
use talentmesh_testkit::sign_ed;

const PASSWORD: &str = "correct horse 42";

async fn register_and_login(mesh: &Mesh, email: &str) -> serde_json::Value {
    let (status, body) = mesh
        .post(
            "/v1/users:register",
            json!({"email": email, "password": PASSWORD, "role": "ROLE_CANDIDATE"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = mesh
        .post(
            "/v1/sessions:login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn register_login_me_refresh_logout() {
    let mesh = Mesh::start().await;
    let (status, body) = mesh
        .post(
            "/v1/users:register",
            json!({"email": "Ann@Example.com", "password": PASSWORD, "role": "ROLE_CANDIDATE"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "ann@example.com");
    assert_eq!(body["user"]["roles"], json!(["ROLE_CANDIDATE"]));
    assert!(body["user"].get("password").is_none());

    let (status, login) = mesh
        .post(
            "/v1/sessions:login",
            json!({"email": "ann@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    let access = login["tokens"]["accessToken"].as_str().unwrap().to_string();
    let refresh = login["tokens"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(login["tokens"]["tokenType"], "Bearer");

    // response_body: "user" — the body is the user itself.
    let (status, me) = mesh.get("/v1/users/me", Some(&access)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "ann@example.com");
    let name = me["name"].as_str().unwrap().to_string();
    let (status, same) = mesh.get(&format!("/v1/{name}"), Some(&access)).await;
    assert_eq!((status, same["name"].as_str()), (200, Some(name.as_str())));

    let (status, renewed) = mesh
        .post("/v1/sessions:refresh", json!({"refreshToken": refresh}))
        .await;
    assert_eq!(status, 200, "{renewed}");
    let refresh2 = renewed["tokens"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(refresh2, refresh);

    let (status, _) = mesh
        .post("/v1/sessions:logout", json!({"refreshToken": refresh2}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = mesh
        .post("/v1/sessions:refresh", json!({"refreshToken": refresh2}))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(reason(&body).as_deref(), Some("REFRESH_TOKEN_INVALID"));

    let (status, jwks) = mesh.get("/.well-known/jwks.json", None).await;
    assert_eq!(status, 200);
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| k["kty"] == "OKP"
        && k["crv"] == "Ed25519"
        && k["alg"] == "EdDSA"
        && k["use"] == "sig"));
    let kid = keys[0]["kid"].as_str().unwrap();
    let (status, one) = mesh.get(&format!("/v1/publicKeys/{kid}"), None).await;
    assert_eq!((status, &one), (200, &keys[0]), "one key by name");
    let (status, body) = mesh.get("/v1/publicKeys/no-such-key", None).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_family() {
    // No retry window: the replay right after the spend is reuse, not a retry.
    let mesh =
        Mesh::start_with(|env| env.set("TALENTMESH_IDENTITY_REFRESH_RETRY_WINDOW", "0s")).await;
    let login = register_and_login(&mesh, "bob@example.com").await;
    let first = login["tokens"]["refreshToken"].as_str().unwrap();
    let (status, renewed) = mesh
        .post("/v1/sessions:refresh", json!({"refreshToken": first}))
        .await;
    assert_eq!(status, 200);
    let second = renewed["tokens"]["refreshToken"].as_str().unwrap();

    let (status, body) = mesh
        .post("/v1/sessions:refresh", json!({"refreshToken": first}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(reason(&body).as_deref(), Some("REFRESH_TOKEN_REUSED"));
    let (status, _) = mesh
        .post("/v1/sessions:refresh", json!({"refreshToken": second}))
        .await;
    assert_eq!(
        status, 401,
        "the newer token of the revoked family is dead too"
    );
}

#[tokio::test]
async fn bad_tokens_get_401() {
    let mesh = Mesh::start().await;
    let login = register_and_login(&mesh, "carol@example.com").await;
    let sub = login["user"]["name"]
        .as_str()
        .unwrap()
        .trim_start_matches("users/")
        .to_string();
    let pool = mesh.env.mysql().await;
    let (kid, sealed, sealed_with, public): (String, Vec<u8>, String, Vec<u8>) = sqlx::query_as(
        "SELECT kid, private_sealed, sealed_with, public_key FROM signing_keys \
         ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // The private key is sealed at rest; the test holds the key-encryption key.
    let pkcs8 = talentmesh_identity::store::KeyCipher::from_base64(
        talentmesh_e2e::IDENTITY_TEST_KEY_ENCRYPTION_KEY,
        &[],
    )
    .unwrap()
    .open(
        &kid,
        &talentmesh_identity::store::key_cipher::Sealed {
            key_id: sealed_with,
            bytes: sealed,
        },
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, exp: i64| Claims {
        sub: sub.clone(),
        iss: "talentmesh-identity".into(),
        aud: aud.into(),
        exp: now + exp,
        nbf: now - 1,
        iat: now - 1,
        jti: "forged".into(),
        email: "carol@example.com".into(),
        roles: vec!["candidate".into()],
    };
    let good = sign_ed(&kid, &pkcs8, &claims("talentmesh", 60));
    let (status, _) = mesh.get("/v1/users/me", Some(&good)).await;
    assert_eq!(status, 200, "control: a correctly signed token is accepted");

    let stranger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let stranger_der = stranger.to_pkcs8_der().unwrap();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{kid}"}}"#)),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("talentmesh", 60)).unwrap())
    );
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims("talentmesh", 60),
            &jsonwebtoken::EncodingKey::from_secret(&public),
        )
        .unwrap()
    };
    for (what, token) in [
        (
            "expired",
            Some(sign_ed(&kid, &pkcs8, &claims("talentmesh", -120))),
        ),
        ("alg none", Some(none)),
        ("HS256 keyed with the public key", Some(hs256)),
        (
            "wrong kid",
            Some(sign_ed(
                "nope",
                stranger_der.as_bytes(),
                &claims("talentmesh", 60),
            )),
        ),
        (
            "wrong aud",
            Some(sign_ed(&kid, &pkcs8, &claims("elsewhere", 60))),
        ),
        ("missing", None),
    ] {
        let (status, body) = mesh.get("/v1/users/me", token.as_deref()).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(
            body["code"], 16,
            "{what}: google.rpc.Status with UNAUTHENTICATED"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_the_right_status_and_writes_nothing() {
    let mesh =
        Mesh::start_with(|env| env.set("TALENTMESH_IDENTITY_THROTTLE_PER_ACCOUNT", "2")).await;
    let login = register_and_login(&mesh, "dave@example.com").await;
    let access = login["tokens"]["accessToken"].as_str().unwrap().to_string();
    let users_before = mesh.users_in_mysql().await;
    let sessions_before = mesh.env.redis_keys("rt:*").await.len();

    let raw = |method: reqwest::Method, path: &str, body: &str| {
        mesh.http
            .request(method, mesh.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let reg = |body: serde_json::Value| body.to_string();
    let huge = "x".repeat(70 * 1024);
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, Option<&str>)> = vec![
        (
            "malformed json",
            raw(reqwest::Method::POST, "/v1/users:register", "{\"email\":"),
            400,
            None,
        ),
        (
            "wrong type",
            raw(
                reqwest::Method::POST,
                "/v1/users:register",
                &reg(json!({"email": 42, "password": PASSWORD, "role": "ROLE_CANDIDATE"})),
            ),
            400,
            Some("email"),
        ),
        (
            "unknown field",
            raw(
                reqwest::Method::POST,
                "/v1/users:register",
                &reg(
                    json!({"email": "x@example.com", "password": PASSWORD, "role": "ROLE_CANDIDATE", "isAdmin": true}),
                ),
            ),
            400,
            Some("isAdmin"),
        ),
        (
            "unknown enum",
            raw(
                reqwest::Method::POST,
                "/v1/users:register",
                &reg(json!({"email": "x@example.com", "password": PASSWORD, "role": "ROLE_GOD"})),
            ),
            400,
            Some("role"),
        ),
        (
            "bad email",
            raw(
                reqwest::Method::POST,
                "/v1/users:register",
                &reg(json!({"email": "nope", "password": PASSWORD, "role": "ROLE_CANDIDATE"})),
            ),
            400,
            Some("email"),
        ),
        (
            "weak password",
            raw(
                reqwest::Method::POST,
                "/v1/users:register",
                &reg(
                    json!({"email": "x@example.com", "password": "short", "role": "ROLE_CANDIDATE"}),
                ),
            ),
            400,
            Some("password"),
        ),
        (
            "self-made admin",
            raw(
                reqwest::Method::POST,
                "/v1/users:register",
                &reg(json!({"email": "x@example.com", "password": PASSWORD, "role": "ROLE_ADMIN"})),
            ),
            400,
            Some("role"),
        ),
        (
            "duplicate email",
            raw(
                reqwest::Method::POST,
                "/v1/users:register",
                &reg(
                    json!({"email": "DAVE@example.com", "password": PASSWORD, "role": "ROLE_CANDIDATE"}),
                ),
            ),
            409,
            None,
        ),
        (
            "body over limit",
            raw(
                reqwest::Method::POST,
                "/v1/users:register",
                &reg(json!({"email": "x@example.com", "password": huge, "role": "ROLE_CANDIDATE"})),
            ),
            413,
            None,
        ),
        (
            "unknown route",
            raw(reqwest::Method::GET, "/v1/nothing/here", ""),
            404,
            None,
        ),
        (
            "wrong method",
            raw(reqwest::Method::GET, "/v1/users:register", ""),
            405,
            None,
        ),
        (
            "unknown query parameter",
            raw(reqwest::Method::GET, "/v1/users/me?debug=1", "").bearer_auth(&access),
            400,
            Some("debug"),
        ),
        (
            "wrong password",
            raw(
                reqwest::Method::POST,
                "/v1/sessions:login",
                &reg(json!({"email": "dave@example.com", "password": "wrong horse 42"})),
            ),
            401,
            None,
        ),
        (
            "second wrong password",
            raw(
                reqwest::Method::POST,
                "/v1/sessions:login",
                &reg(json!({"email": "dave@example.com", "password": "wrong horse 43"})),
            ),
            401,
            None,
        ),
        (
            "throttled, right password",
            raw(
                reqwest::Method::POST,
                "/v1/sessions:login",
                &reg(json!({"email": "dave@example.com", "password": PASSWORD})),
            ),
            429,
            None,
        ),
        (
            "unknown refresh token",
            raw(
                reqwest::Method::POST,
                "/v1/sessions:refresh",
                &reg(json!({"refreshToken": "made-up"})),
            ),
            401,
            None,
        ),
        (
            "empty refresh token",
            raw(
                reqwest::Method::POST,
                "/v1/sessions:refresh",
                &reg(json!({})),
            ),
            400,
            Some("refresh_token"),
        ),
    ];
    for (what, request, want, field) in cases {
        let response = request.send().await.unwrap();
        let retry_after = response.headers().get("retry-after").cloned();
        let (status, body) = talentmesh_e2e::read(response).await;
        assert_eq!(status, want, "{what}: {body}");
        assert!(
            body["code"].as_i64().is_some_and(|c| c > 0),
            "{what}: body is a google.rpc.Status: {body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
        if let Some(field) = field {
            let fields = bad_fields(&body);
            assert!(
                fields.iter().any(|f| f == field),
                "{what}: field violations {fields:?} in {body}"
            );
        }
        if want == 429 {
            let retry = body["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["@type"].as_str().unwrap_or("").ends_with("RetryInfo"));
            assert!(retry, "{what}: RetryInfo attached: {body}");
            // And the HTTP header says the same, in whole seconds (RFC 9110).
            let seconds = retry_after
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(0);
            assert!(seconds >= 1, "{what}: Retry-After header: {seconds}");
        }
    }
    assert_eq!(
        mesh.users_in_mysql().await,
        users_before,
        "no user written by bad input"
    );
    // The gateway timed them by method, route template (never by raw path) and status.
    let metrics = mesh.gateway_metrics.encode();
    for series in [
        r#"{http_request_method="POST",http_route="/v1/users:register",http_response_status_code="400"}"#,
        r#"{http_request_method="POST",http_route="/v1/users:register",http_response_status_code="409"}"#,
        r#"{http_request_method="POST",http_route="/v1/sessions:login",http_response_status_code="429"}"#,
        r#"{http_request_method="GET",http_route="",http_response_status_code="404"}"#,
    ] {
        let series = format!("http_server_request_duration_seconds_count{series}");
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    assert!(
        !metrics.contains("/v1/nothing/here"),
        "raw paths never become labels"
    );
    // And its calls to the services, from the client's side.
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("grpc_client_handled_total{")
                && l.contains(r#"grpc_service="talentmesh.identity.v1.IdentityService""#)
                && l.contains(r#"grpc_method="Register""#)),
        "the gateway's calls to identity in\n{metrics}"
    );
    assert_eq!(
        mesh.env.redis_keys("rt:*").await.len(),
        sessions_before,
        "no session written by bad input"
    );
}

/// Logging out ends the session's access tokens across the mesh, not only its refresh token:
/// the company service (which verifies tokens itself, with keys and revocations from identity)
/// refuses the logged-out token within a bounded time, while a token of another session of the
/// same user keeps working.
#[tokio::test]
async fn logout_revokes_the_sessions_access_tokens_in_other_services() {
    let mesh = Mesh::start_with_company(|env| env).await;
    let first = register_and_login(&mesh, "rita@example.com").await;
    let (status, second) = mesh
        .post(
            "/v1/sessions:login",
            json!({"email": "rita@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let ended = first["tokens"]["accessToken"].as_str().unwrap().to_string();
    let kept = second["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    // Needs a token: a caller the company service accepts gets 404 for this unknown company.
    let members = "/v1/companies/00000000-0000-7000-8000-000000000000/members";
    for token in [&ended, &kept] {
        let (status, body) = mesh.get(members, Some(token)).await;
        assert_eq!(status, 404, "accepted before the logout: {body}");
    }

    let (status, body) = mesh
        .post(
            "/v1/sessions:logout",
            json!({"refreshToken": first["tokens"]["refreshToken"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let refused =
        talentmesh_testkit::eventually_value(std::time::Duration::from_secs(10), || async {
            let (status, body) = mesh.get(members, Some(&ended)).await;
            (status == 401).then_some(body)
        })
        .await
        .expect("the company service still accepted the logged-out token after 10 s");
    assert_eq!(
        reason(&refused).as_deref(),
        Some("SESSION_REVOKED"),
        "{refused}"
    );
    let (status, body) = mesh.get(members, Some(&kept)).await;
    assert_eq!(
        status, 404,
        "another session of the same user still works: {body}"
    );
    // The company service counts the set it refuses (registered by the kit for every service).
    let addr = mesh.company.as_ref().expect("company").metrics;
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let size = text
        .lines()
        .find(|l| !l.starts_with('#') && l.contains("auth_revoked_sessions"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(
        size.is_some_and(|n| n >= 1.0),
        "no revoked-session gauge: {text}"
    );
}
