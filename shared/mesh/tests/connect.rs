//! Connect-native mutual TLS against the real local Consul agent (issue 15, service identity):
//! a service started with `TALENTMESH_MESH_TLS=connect` serves TLS with its Connect leaf, passes
//! its health check (which has no client certificate), answers callers that intentions allow,
//! refuses the others and plaintext, and a caller refuses a server that is not the service it
//! meant to reach.
//!
//! The agent and its management token come from `TALENTMESH_CONSUL_ADDR` and
//! `TALENTMESH_CONSUL_TOKEN` (default: the local agent of `dev/servers.sh` and the token file it
//! writes under `$TALENTMESH_DATA`). The tests make intentions for names of their own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::config::Env;
use talentmesh_mesh::connect::{tls_channel, ConnectIdentity};
use talentmesh_mesh::consul::ConsulClient;
use talentmesh_mesh::server::{Listeners, ServeOptions};
use talentmesh_mesh::{Discovery, MeshConfig, Secret};

fn consul_addr() -> String {
    std::env::var("TALENTMESH_CONSUL_ADDR")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:18500".to_string())
}

fn consul_token() -> Secret {
    if let Ok(token) = std::env::var("TALENTMESH_CONSUL_TOKEN") {
        return Secret::new(token);
    }
    let data = std::env::var("TALENTMESH_DATA").unwrap_or_else(|_| "/var/lib/talentmesh".into());
    Secret::new(
        std::fs::read_to_string(format!("{data}/consul/management.token"))
            .map(|t| t.trim().to_string())
            .unwrap_or_default(),
    )
}

fn consul() -> ConsulClient {
    ConsulClient::new(&consul_addr())
        .unwrap()
        .with_token(consul_token())
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Allows `source` to call `destination` (an intention, made with the management token).
async fn allow(source: &str, destination: &str) {
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/v1/connect/intentions/exact?source={source}&destination={destination}",
            consul_addr()
        ))
        .header("X-Consul-Token", consul_token().expose())
        .json(&serde_json::json!({"Action": "allow"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "intention: {}", resp.status());
}

/// A service named `name` with mesh TLS on, serving only health and reflection, registered in
/// Consul. Returns its address and the sender that stops it.
async fn start_server(name: &str) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut env = Env::from_map([
        ("TALENTMESH_GRPC_ADDR", "127.0.0.1:0".to_string()),
        ("TALENTMESH_METRICS_ADDR", "127.0.0.1:0".to_string()),
        ("TALENTMESH_CONSUL_ADDR", consul_addr()),
        (
            "TALENTMESH_CONSUL_TOKEN",
            consul_token().expose().to_string(),
        ),
        ("TALENTMESH_SERVICE_NAME", name.to_string()),
        ("TALENTMESH_MESH_TLS", "connect".to_string()),
        ("TALENTMESH_SHUTDOWN_GRACE", "1s".to_string()),
    ]);
    let config = MeshConfig::load(&mut env, name, 0);
    env.finish().unwrap();
    let listeners = Listeners::bind(&config).await.unwrap();
    let addr = listeners.grpc.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        services: Vec::new(),
        verifier: None,
        policy: Default::default(),
        readiness: None,
        metrics: talentmesh_mesh::metrics::Metrics::new(name),
        tags: Vec::new(),
    };
    tokio::spawn(talentmesh_mesh::server::serve(
        config,
        listeners,
        tonic::service::Routes::default(),
        options,
        async move {
            let _ = rx.await;
        },
    ));
    (addr, tx)
}

/// One unary call to a method the server does not have: UNIMPLEMENTED means the call passed
/// TLS and the intention check and reached the router.
async fn probe<C>(channel: C) -> tonic::Code
where
    C: tonic::client::GrpcService<tonic::body::Body> + Clone,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    C::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let mut client = tonic::client::Grpc::new(channel);
    if client.ready().await.is_err() {
        return tonic::Code::Unavailable;
    }
    match client
        .unary::<(), (), _>(
            tonic::Request::new(()),
            http::uri::PathAndQuery::from_static("/talentmesh.test.v1.Nothing/Call"),
            tonic_prost::ProstCodec::default(),
        )
        .await
    {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

/// A Connect identity of `name` and discovery channels that present it.
async fn caller(name: &str) -> (Arc<ConnectIdentity>, Discovery) {
    let identity = ConnectIdentity::start(consul(), name);
    assert!(
        identity.wait_ready(Duration::from_secs(10)).await,
        "no leaf or roots for {name}"
    );
    let discovery = Discovery::with_connect(
        consul(),
        Duration::from_secs(5),
        talentmesh_mesh::limits::DEFAULT_MAX_MESSAGE,
        Some(identity.clone()),
    );
    (identity, discovery)
}

/// Waits until Consul lists a passing instance of `service`: its TLS health check passed.
async fn passing(service: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let listed = consul()
            .passing_instances(service, 0, Duration::from_secs(1))
            .await
            .map(|r| !r.value.is_empty())
            .unwrap_or(false);
        if listed || tokio::time::Instant::now() >= deadline {
            return listed;
        }
        // The pause of a bounded poll (the deadline above ends it).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_allowed_caller_reaches_a_tls_service_and_others_do_not() {
    talentmesh_mesh::telemetry::init_for_tests();
    let id = unique();
    let server = format!("connect-srv-{id}");
    let (allowed, denied) = (format!("connect-cli-{id}"), format!("connect-bad-{id}"));
    allow(&allowed, &server).await;
    let (addr, stop) = start_server(&server).await;
    assert!(passing(&server).await, "the TLS health check never passed");

    let (_keep, discovery) = caller(&allowed).await;
    assert_eq!(
        probe(discovery.channel(&server)).await,
        tonic::Code::Unimplemented,
        "an allowed caller is let through"
    );

    let (_keep_denied, denied_discovery) = caller(&denied).await;
    assert_eq!(
        probe(denied_discovery.channel(&server)).await,
        tonic::Code::PermissionDenied,
        "intentions deny a caller they do not name"
    );

    // Plaintext gets no answer at all.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(1))
        .connect_lazy();
    assert_ne!(probe(plain).await, tonic::Code::Unimplemented);
    let _ = stop.send(());
}

#[tokio::test]
async fn a_caller_refuses_a_server_that_is_not_the_service_it_meant() {
    talentmesh_mesh::telemetry::init_for_tests();
    let id = unique();
    let (real, impostor, client) = (
        format!("connect-real-{id}"),
        format!("connect-impostor-{id}"),
        format!("connect-cli-{id}"),
    );
    allow(&client, &real).await;
    allow(&client, &impostor).await;
    // The impostor has a valid leaf of its own name, listens where the caller looks for `real`.
    let (impostor_addr, stop) = start_server(&impostor).await;
    assert!(passing(&impostor).await);
    let (identity, _) = caller(&client).await;
    let endpoint =
        tonic::transport::Endpoint::from_shared(format!("http://{impostor_addr}")).unwrap();
    let to_real = tls_channel(endpoint.clone(), identity.client_config(&real).unwrap());
    assert_eq!(
        probe(to_real).await,
        tonic::Code::Unavailable,
        "a server whose certificate names another service is refused"
    );
    // The same address, asked for as the service it is, answers.
    let to_impostor = tls_channel(endpoint, identity.client_config(&impostor).unwrap());
    assert_eq!(probe(to_impostor).await, tonic::Code::Unimplemented);
    let _ = stop.send(());
}

#[tokio::test]
async fn a_caller_without_its_leaf_yet_does_not_connect_without_a_certificate() {
    talentmesh_mesh::telemetry::init_for_tests();
    let id = unique();
    let (server, client) = (format!("connect-srv-{id}"), format!("connect-cli-{id}"));
    allow(&client, &server).await;
    let (addr, stop) = start_server(&server).await;
    assert!(passing(&server).await);
    // A caller whose agent will not issue its leaf (no token: the CA roots are public, a leaf
    // needs service:write), like a process whose leaf is still on the way. Connected without a
    // certificate, the server would answer every call on the connection UNAUTHENTICATED and the
    // channel would keep it; the caller must not connect at all until it has its leaf.
    let anonymous = ConsulClient::new(&consul_addr()).unwrap();
    let identity = ConnectIdentity::start(anonymous, &client);
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = tls_channel(endpoint, identity.client_config(&server).unwrap());
    // Each call waits for the leaf (LEAF_WAIT), then fails without reaching the server; the
    // roots have long arrived by then (milliseconds).
    let mut codes = Vec::new();
    for _ in 0..2 {
        let started = tokio::time::Instant::now();
        codes.push(probe(channel.clone()).await);
        assert!(
            started.elapsed() >= talentmesh_mesh::connect::LEAF_WAIT,
            "a call gives the leaf its time"
        );
    }
    assert!(
        codes.iter().all(|c| *c == tonic::Code::Unavailable),
        "every call before the leaf is UNAVAILABLE, none reaches the server: {codes:?}"
    );
    let _ = stop.send(());
}
