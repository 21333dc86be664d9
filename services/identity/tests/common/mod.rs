//! Starts identity in-process on OS-chosen ports against the real local servers, in a
//! [`TestEnv`] of its own, and gives tests clients and the key material to forge tokens with.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use talentmesh_identity::{run, Config};
use talentmesh_mesh::server::Listeners;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
use talentmesh_testkit::TestEnv;
use tonic::transport::Channel;

pub struct Running {
    pub addr: SocketAddr,
    pub metrics: SocketAddr,
    pub env: TestEnv,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn start(env: TestEnv) -> Running {
    let config = Config::load(env.env()).expect("config");
    let listeners = Listeners::bind(&config.mesh).await.expect("bind");
    let addr = listeners.grpc.local_addr().unwrap();
    let metrics = listeners.metrics.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(config, listeners, async move {
        let _ = rx.await;
    }));
    let running = Running {
        addr,
        metrics,
        env,
        shutdown: Some(tx),
        task: Some(task),
    };
    // Serving once the health service answers SERVING.
    let url = format!("http://{addr}");
    let ok = talentmesh_testkit::eventually(Duration::from_secs(30), || {
        let url = url.clone();
        async move {
            let Ok(ch) = Channel::from_shared(url).unwrap().connect().await else {
                return false;
            };
            let mut health = tonic_health::pb::health_client::HealthClient::new(ch);
            matches!(
                health
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new()
                    })
                    .await
                    .map(|r| r.into_inner().status),
                Ok(1)
            )
        }
    })
    .await;
    assert!(ok, "identity did not become SERVING");
    running
}

impl Running {
    pub async fn client(&self) -> IdentityServiceClient<Channel> {
        IdentityServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connect")
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task).await;
            assert!(
                matches!(result, Ok(Ok(Ok(())))),
                "identity did not stop cleanly: {result:?}"
            );
        }
    }

    /// The current signing key straight from MySQL, to forge tokens the way an insider could.
    pub async fn signing_key(&self) -> (String, Vec<u8>, Vec<u8>) {
        let pool = self.env.mysql().await;
        sqlx::query_as("SELECT kid, private_pkcs8, public_key FROM signing_keys ORDER BY created_at DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap()
    }

    pub async fn user_count(&self) -> i64 {
        let pool = self.env.mysql().await;
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&pool)
            .await
            .unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn with_bearer<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

pub async fn register(
    client: &mut IdentityServiceClient<Channel>,
    email: &str,
    password: &str,
) -> pb::User {
    client
        .register(pb::RegisterRequest {
            email: email.into(),
            password: password.into(),
            role: pb::Role::Candidate as i32,
        })
        .await
        .expect("register")
        .into_inner()
        .user
        .unwrap()
}

pub async fn login(
    client: &mut IdentityServiceClient<Channel>,
    email: &str,
    password: &str,
) -> pb::TokenPair {
    client
        .login(pb::LoginRequest {
            email: email.into(),
            password: password.into(),
        })
        .await
        .expect("login")
        .into_inner()
        .tokens
        .unwrap()
}
