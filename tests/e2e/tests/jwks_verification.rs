//! How every service other than identity verifies tokens: keys fetched from identity through
//! Consul discovery and cached, an unknown key id answered by one refetch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;
use talentmesh_e2e::Mesh;
use talentmesh_mesh::auth::{JwksCache, Verifier};

#[tokio::test]
async fn tokens_verify_with_keys_fetched_from_identity() {
    let mesh = Mesh::start().await;
    let (status, _) = mesh
        .post("/v1/users:register", json!({"email": "kim@example.com", "password": "correct horse 42", "role": "ROLE_EMPLOYER"}))
        .await;
    assert_eq!(status, 200);
    let (_, login) = mesh
        .post(
            "/v1/sessions:login",
            json!({"email": "kim@example.com", "password": "correct horse 42"}),
        )
        .await;
    let token = login["tokens"]["accessToken"].as_str().unwrap().to_string();

    // As another service reaches identity: through Consul, with mesh TLS when the mesh has it.
    let discovery = talentmesh_testkit::discovery("jwks-e2e", std::time::Duration::from_secs(5));
    let channel = discovery.channel(&mesh.identity.service);
    let verifier = Verifier::new(
        Arc::new(JwksCache::from_identity(channel)),
        "talentmesh-identity",
        "talentmesh",
    );
    let caller = verifier
        .verify(&token)
        .await
        .expect("a token identity issued verifies elsewhere");
    assert_eq!(caller.email, "kim@example.com");
    assert_eq!(caller.roles, vec!["employer".to_string()]);
    assert_eq!(
        format!("users/{}", caller.user_id),
        login["user"]["name"].as_str().unwrap()
    );

    // Tamper with the payload: the signature no longer matches.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1].insert(3, 'A');
    assert!(verifier.verify(&parts.join(".")).await.is_err());
    // Another audience's verifier refuses the same token.
    let elsewhere = Verifier::new(
        Arc::new(JwksCache::from_identity(
            discovery.channel(&mesh.identity.service),
        )),
        "talentmesh-identity",
        "another-audience",
    );
    assert!(elsewhere.verify(&token).await.is_err());
}
