//! Starts identity in-process on OS-chosen ports against the real local servers, in a
//! [`TestEnv`] of its own, and gives tests clients and the key material to forge tokens with.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use talentmesh_identity::{run, Config};
use talentmesh_proto::identity::v1 as pb;
use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
use talentmesh_testkit::{Spawned, TestEnv};
use tonic::transport::Channel;

pub struct Running {
    pub service: Spawned,
    pub env: TestEnv,
}

pub async fn start(env: TestEnv) -> Running {
    let config = Config::load(env.env()).expect("config");
    let mesh = config.mesh.clone();
    let service = Spawned::service(&mesh, move |launch| run(config, launch)).await;
    Running { service, env }
}

impl Running {
    pub async fn client(&self) -> IdentityServiceClient<Channel> {
        IdentityServiceClient::connect(self.service.url())
            .await
            .expect("connect")
    }

    pub async fn stop(self) {
        self.service.stop().await;
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
