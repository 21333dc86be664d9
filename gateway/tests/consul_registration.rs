//! The gateway binary in the local Consul, as every service is: registered with its REST port,
//! the mesh tag and the meta Prometheus and operators read, checked passing through grpc.health
//! on its metrics port, and deregistered by SIGTERM before it exits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use talentmesh_mesh::consul::Instance;
use talentmesh_testkit::{consul, consul_vars, eventually_value};
use tokio::process::{Child, Command};

fn spawn(name: &str, id: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_talentmesh-gateway"))
        .env_clear()
        .envs(consul_vars())
        .env("TALENTMESH_SERVICE_NAME", name)
        .env("TALENTMESH_INSTANCE_ID", id)
        .env("TALENTMESH_GATEWAY_HTTP_ADDR", "127.0.0.1:0")
        .env("TALENTMESH_METRICS_ADDR", "127.0.0.1:0")
        .env("TALENTMESH_GATEWAY_WORKERS", "1")
        .env("TALENTMESH_SHUTDOWN_GRACE", "2s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the gateway")
}

fn meta<'a>(instance: &'a Instance, key: &str) -> Option<&'a str> {
    instance
        .meta
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn registers_passing_with_its_meta_and_deregisters_on_sigterm() {
    let name = format!("gateway-test-{:08x}", rand::random::<u32>());
    let id = format!("{name}-1");
    let consul = consul();
    let mut gateway = spawn(&name, &id);

    let instance = eventually_value(Duration::from_secs(30), || async {
        let passing = consul
            .passing_instances(&name, 0, Duration::from_secs(1))
            .await
            .ok()?
            .value;
        passing.into_iter().find(|i| i.id == id)
    })
    .await
    .expect("the gateway never became passing in consul");

    assert_eq!(instance.service, name);
    assert_eq!(instance.address, "127.0.0.1");
    assert!(
        instance.tags.iter().any(|t| t == "talentmesh"),
        "{instance:?}"
    );
    assert_eq!(meta(&instance, "version"), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        meta(&instance, "revision"),
        Some(talentmesh_mesh::build_info::REVISION)
    );
    let metrics_port: u16 = meta(&instance, "metrics_port")
        .expect("metrics_port meta")
        .parse()
        .unwrap();
    assert_ne!(metrics_port, instance.port);

    // The registered port is the REST port; metrics_port is where Prometheus scrapes.
    let health = reqwest::get(format!("http://127.0.0.1:{}/healthz", instance.port))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("talentmesh_build_info"));

    let pid = gateway.id().unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), gateway.wait())
        .await
        .expect("the gateway exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "SIGTERM exits 0, got {exit:?}");
    assert_eq!(
        consul.instance_status(&id).await.unwrap(),
        None,
        "deregistered by the time it has exited"
    );
}
