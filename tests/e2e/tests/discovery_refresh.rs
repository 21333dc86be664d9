//! The gateway follows Consul: a service that appears after the gateway started, with RPCs the
//! gateway's compiled-in descriptors do not have, is routed as soon as its instance passes its
//! health check — no rebuild, no restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use prost::Message;
use talentmesh_gateway::consul::{spawn_refresh, DiscoveryUpstreams};
use talentmesh_gateway::{Gateway, GatewayConfig};
use talentmesh_testkit::{eventually, Spawned};

/// The compiled-in descriptors without identity's contract: a gateway built before identity had
/// these RPCs.
fn pool_without_identity() -> prost_reflect::DescriptorPool {
    let mut set =
        prost_types::FileDescriptorSet::decode(talentmesh_proto::FILE_DESCRIPTOR_SET).unwrap();
    set.file.retain(|f| f.package() != "talentmesh.identity.v1");
    prost_reflect::DescriptorPool::from_file_descriptor_set(set).unwrap()
}

#[tokio::test]
async fn routes_of_a_new_service_appear_when_it_registers() {
    let env = talentmesh_e2e::identity_env();
    let consul_name = format!("identity-refresh-{}", env.id);
    let env = env.set("TALENTMESH_SERVICE_NAME", consul_name.clone());

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
        gateway,
        std::future::pending::<()>(),
    ));

    let jwks = format!("{base}/.well-known/jwks.json");
    let status = reqwest::get(&jwks).await.unwrap().status().as_u16();
    assert_eq!(status, 404, "no identity routes before identity exists");

    let config = talentmesh_identity::Config::load(env.env()).unwrap();
    let mesh = config.mesh.clone();
    let identity = Spawned::service(&mesh, move |launch| {
        talentmesh_identity::run(config, launch)
    })
    .await;

    let routed = eventually(Duration::from_secs(30), || {
        let jwks = jwks.clone();
        async move {
            reqwest::get(&jwks)
                .await
                .is_ok_and(|r| r.status().as_u16() == 200)
        }
    })
    .await;
    assert!(
        routed,
        "identity's routes never appeared after it registered"
    );
    let body: serde_json::Value = reqwest::get(&jwks).await.unwrap().json().await.unwrap();
    assert!(!body["keys"].as_array().unwrap().is_empty());
    identity.stop().await;
}
