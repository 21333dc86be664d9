//! Health follows the stores: identity says NOT_SERVING while its Redis is down and SERVING again
//! once it is back. Uses a Redis server of the test's own (a real one, on a free port), so
//! stopping it disturbs no other test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use talentmesh_identity::{run, Config};
use talentmesh_testkit::{eventually, health_status, TestEnv, NOT_SERVING, SERVING};
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_redis(port: u16, dir: &std::path::Path) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server is installed by dev/servers.sh");
    let up = eventually(Duration::from_secs(10), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(up, "private redis did not start");
    child
}

async fn health(addr: std::net::SocketAddr) -> Option<i32> {
    health_status(addr, "talentmesh.identity.v1.IdentityService").await
}

#[tokio::test]
async fn not_serving_while_redis_is_down() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("tm-redis-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut redis = start_redis(port, &dir).await;

    let env = TestEnv::new("identity")
        .set("TALENTMESH_REDIS_URL", format!("redis://127.0.0.1:{port}"))
        .set(
            talentmesh_identity::config::KEY_ENCRYPTION_KEY,
            common::TEST_KEY_ENCRYPTION_KEY,
        );
    let config = Config::load(env.env()).unwrap();
    let mesh = config.mesh.clone();
    let service =
        talentmesh_testkit::Spawned::service(&mesh, move |launch| run(config, launch)).await;
    assert_eq!(health(service.addr).await, Some(SERVING));

    redis.start_kill().unwrap();
    let _ = redis.wait().await;
    let down = eventually(Duration::from_secs(10), || async {
        health(service.addr).await == Some(NOT_SERVING)
    })
    .await;
    assert!(down, "health stayed SERVING with redis down");

    let _redis = start_redis(port, &dir).await;
    let back = eventually(Duration::from_secs(15), || async {
        health(service.addr).await == Some(SERVING)
    })
    .await;
    assert!(back, "health did not return to SERVING with redis back");
    service.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
