//! A gateway that starts before a service answers the service's paths 503 with `Retry-After`
//! while the service is in Consul but its routes are not loaded, never 404: a client that
//! retries on 503 gets through once the service passes its check and the gateway has fetched
//! its descriptors. Once loaded, a path no service has is 404 again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talentmesh_gateway::consul::{spawn_refresh, DiscoveryUpstreams};
use talentmesh_gateway::descriptors::{merge, split_set, RawFile};
use talentmesh_gateway::{Gateway, GatewayConfig};
use talentmesh_mesh::consul::Registration;
use talentmesh_testkit::{consul, eventually, eventually_value, Spawned};

/// The compiled-in descriptors without identity's contract: the gateway knows none of
/// identity's routes until it reads them from the running service. The files are kept as
/// encoded (a decoded `FileDescriptorProto` would drop the `google.api.http` options, and with
/// them every other service's routes).
fn pool_without_identity() -> prost_reflect::DescriptorPool {
    let files: Vec<RawFile> = split_set(talentmesh_proto::FILE_DESCRIPTOR_SET)
        .unwrap()
        .into_iter()
        .filter(|f| !f.name.starts_with("talentmesh/identity/"))
        .collect();
    let pool = merge(&prost_reflect::DescriptorPool::new(), &files).unwrap();
    assert!(pool
        .get_service_by_name("talentmesh.company.v1.CompanyService")
        .is_some());
    assert!(pool
        .services()
        .all(|s| s.package_name() != "talentmesh.identity.v1"));
    pool
}

/// Status, `Retry-After` and reason of a GET.
async fn probe(url: &str) -> (u16, Option<String>, Option<String>) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let reason = body["details"]
        .as_array()
        .and_then(|d| d.iter().find_map(|d| d["reason"].as_str()))
        .map(str::to_string);
    (status, retry, reason)
}

#[tokio::test]
async fn a_service_in_consul_whose_routes_are_not_loaded_is_503_then_served() {
    let env = talentmesh_e2e::identity_env();
    let consul_name = format!("identity-startup-{}", env.id);
    let env = env.set("TALENTMESH_SERVICE_NAME", consul_name.clone());
    let consul = consul();

    // identity is in Consul before the gateway starts, but not passing yet: an instance
    // registered where nothing listens (a service whose first check has not passed).
    let waiting = Registration {
        name: consul_name.clone(),
        id: format!("{consul_name}-not-yet"),
        address: "127.0.0.1".to_string(),
        port: 1,
        tags: Vec::new(),
        meta: Default::default(),
        check_interval: Duration::from_secs(10),
        deregister_critical_after: Duration::from_secs(60),
        connect_native: false,
    };
    consul.register(&waiting).await.unwrap();

    let discovery =
        talentmesh_testkit::discovery(&format!("e2e-{}", env.id), Duration::from_secs(5));
    let upstreams = DiscoveryUpstreams::new(discovery).rename("identity", &consul_name);
    let gateway =
        Gateway::with_pool(GatewayConfig::default(), upstreams, pool_without_identity()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    spawn_refresh(gateway.clone());
    tokio::spawn(talentmesh_gateway::serve(
        listener,
        gateway.clone(),
        std::future::pending::<()>(),
    ));

    // The first load ends (Consul read, every listed service answered for); identity stays
    // pending: listed, nothing passing to load its routes from.
    let readyz = format!("{base}/readyz");
    let loading = eventually_value(Duration::from_secs(20), || async {
        let resp = reqwest::get(&readyz).await.ok()?;
        (resp.status() == 200).then_some(())?;
        let body: serde_json::Value = resp.json().await.ok()?;
        Some(body["loading"].clone())
    })
    .await;
    let loading = match loading {
        Some(loading) => loading,
        None => panic!(
            "the gateway's first load never ended: {}",
            reqwest::get(&readyz).await.unwrap().text().await.unwrap()
        ),
    };
    assert!(
        loading.as_array().unwrap().iter().any(|s| s == "identity"),
        "identity is loading: {loading}"
    );

    let jwks = format!("{base}/.well-known/jwks.json");
    assert_eq!(
        probe(&jwks).await,
        (
            503,
            Some("1".to_string()),
            Some("ROUTES_LOADING".to_string())
        ),
        "a path of a service whose routes are not loaded"
    );

    // identity starts; a client retrying on 503 is never told 404 on its way to a 200.
    let config = talentmesh_identity::Config::load(env.env()).unwrap();
    let mesh = config.mesh.clone();
    let identity = Spawned::service(&mesh, move |launch| {
        talentmesh_identity::run(config, launch)
    })
    .await;
    let seen = std::sync::Mutex::new(Vec::new());
    let served = eventually(Duration::from_secs(30), || async {
        let (status, _, _) = probe(&jwks).await;
        seen.lock().unwrap().push(status);
        status == 200
    })
    .await;
    let seen = seen.into_inner().unwrap();
    assert!(served, "identity's routes never appeared: {seen:?}");
    assert!(
        seen.iter().all(|s| *s == 503 || *s == 200),
        "only 503 until served: {seen:?}"
    );

    // Loaded: a path no service has is a real 404.
    let (status, retry, reason) = probe(&format!("{base}/v9/nothing")).await;
    assert_eq!(
        (status, retry, reason.as_deref()),
        (404, None, Some("NOT_FOUND"))
    );

    let _ = consul.deregister(&waiting.id).await;
    identity.stop().await;
}
