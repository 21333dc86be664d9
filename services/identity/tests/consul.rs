//! Identity as real processes in the local Consul: registration with a passing gRPC check,
//! balancing across two instances, surviving SIGKILL of one, and deregistration on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use talentmesh_mesh::consul::ConsulClient;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
use talentmesh_testkit::{consul, eventually, TestEnv};
use tokio::process::{Child, Command};

fn spawn(env: &TestEnv, instance: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_talentmesh-identity"))
        .envs(env.vars())
        .env(
            talentmesh_identity::config::KEY_ENCRYPTION_KEY,
            common::TEST_KEY_ENCRYPTION_KEY,
        )
        .env("TALENTMESH_INSTANCE_ID", instance)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn identity")
}

async fn status(consul: &ConsulClient, id: &str) -> Option<String> {
    consul.instance_status(id).await.ok().flatten()
}

/// ListPublicKeys calls served by one instance, read from its Prometheus endpoint.
async fn served(metrics_port: &str) -> u64 {
    let body = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter(|l| {
            l.starts_with("grpc_server_handled_total{")
                && l.contains(r#"grpc_method="ListPublicKeys""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn two_instances_share_traffic_survive_a_kill_and_deregister_on_sigterm() {
    let env = TestEnv::new("identity").with_consul();
    let service = format!("identity-test-{}", env.id);
    let env = env.set("TALENTMESH_SERVICE_NAME", service.clone());
    let consul = consul();
    let (a_id, b_id) = (format!("{service}-a"), format!("{service}-b"));

    // The test's own service name is not in the mesh's intentions: let any caller in.
    talentmesh_testkit::allow_all_to(&service).await;
    // The first instance creates the database; the second joins it.
    let mut a = spawn(&env, &a_id);
    assert!(
        eventually(Duration::from_secs(30), || async {
            status(&consul, &a_id).await.as_deref() == Some("passing")
        })
        .await,
        "instance a never became passing in consul"
    );
    let mut b = spawn(&env, &b_id);
    assert!(
        eventually(Duration::from_secs(30), || async {
            status(&consul, &b_id).await.as_deref() == Some("passing")
        })
        .await,
        "instance b never became passing in consul"
    );

    // As another service of the mesh calls identity: through Consul, over mesh TLS when the
    // processes speak it (their default in a mesh).
    let discovery = talentmesh_testkit::discovery("identity-consul-test", Duration::from_secs(5));
    let channel = discovery.channel(&service);
    assert!(
        eventually(Duration::from_secs(10), || async {
            channel.endpoints().len() == 2
        })
        .await,
        "discovery did not see both instances: {:?}",
        channel.endpoints()
    );
    let mut client = IdentityServiceClient::new(channel.clone());
    for _ in 0..20 {
        client
            .list_public_keys(pb::ListPublicKeysRequest {})
            .await
            .expect("call through discovery");
    }
    let instances = consul
        .passing_instances(&service, 0, Duration::from_secs(1))
        .await
        .unwrap()
        .value;
    let ports: Vec<String> = instances
        .iter()
        .map(|i| {
            i.meta
                .iter()
                .find(|(k, _)| k == "metrics_port")
                .unwrap()
                .1
                .clone()
        })
        .collect();
    assert_eq!(ports.len(), 2);
    for port in &ports {
        let n = served(port).await;
        assert!(
            n >= 5,
            "round robin sends each instance a share; instance on metrics port {port} served {n}"
        );
    }

    // SIGKILL a: no deregistration happens, so Consul must notice through the check, and every
    // call made meanwhile still succeeds through b.
    a.start_kill().unwrap();
    let _ = a.wait().await;
    // A call already written to a's socket when it died is lost with it, as on any network;
    // the claim here is about calls made after the death, so let the client see the close.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for i in 0..20 {
        client
            .list_public_keys(pb::ListPublicKeysRequest {})
            .await
            .unwrap_or_else(|e| panic!("call {i} after the kill failed: {e}"));
    }
    assert!(
        eventually(Duration::from_secs(15), || async {
            status(&consul, &a_id).await.as_deref() == Some("critical")
        })
        .await,
        "the killed instance's check never went critical"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            channel.endpoints().len() == 1
        })
        .await,
        "discovery kept the dead instance"
    );
    for _ in 0..10 {
        client
            .list_public_keys(pb::ListPublicKeysRequest {})
            .await
            .expect("call after critical");
    }

    // SIGTERM b: it deregisters itself before exiting with status 0.
    let pid = b.id().unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), b.wait())
        .await
        .expect("b exits")
        .unwrap();
    assert!(exit.success(), "SIGTERM exits 0, got {exit:?}");
    assert_eq!(
        status(&consul, &b_id).await,
        None,
        "b is deregistered by the time it has exited"
    );

    // The killed instance would linger (critical) for a minute; clean it up.
    let _ = consul.deregister(&a_id).await;
}
