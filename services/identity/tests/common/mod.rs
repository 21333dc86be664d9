//! Starts identity in-process on OS-chosen ports against the real local servers, in a
//! [`TestEnv`] of its own, and gives tests clients and the key material to forge tokens with.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use talentmesh_identity::config::KEY_ENCRYPTION_KEY;
use talentmesh_identity::store::key_cipher::Sealed;
use talentmesh_identity::store::KeyCipher;
use talentmesh_identity::{run, Config};
use talentmesh_proto::identity::v1 as pb;
use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
use talentmesh_testkit::{Spawned, TestEnv};
use tonic::transport::Channel;

pub struct Running {
    pub service: Spawned,
    pub env: TestEnv,
}

/// The key-encryption key of tests that do not set their own (base64 of 32 bytes); the
/// service refuses to start without one.
pub const TEST_KEY_ENCRYPTION_KEY: &str = "dGFsZW50bWVzaCBpZGVudGl0eSB0ZXN0IGtleSAzMmI=";

/// The rate-limit variables; tests that do not test rate limits get budgets no test spends
/// (they all call from loopback).
pub const RATE_VARS: [&str; 4] = [
    "TALENTMESH_IDENTITY_RATE_REGISTER_PER_ADDRESS",
    "TALENTMESH_IDENTITY_RATE_REGISTER_PER_ACCOUNT",
    "TALENTMESH_IDENTITY_RATE_LOGIN_PER_ADDRESS",
    "TALENTMESH_IDENTITY_RATE_LOGIN_PER_ACCOUNT",
];

/// Starts identity on `env`, with [`TEST_KEY_ENCRYPTION_KEY`] unless `env` names a key, and
/// with generous rate limits unless `env` names one.
pub async fn start(env: TestEnv) -> Running {
    let mut env = if env.vars().contains_key(KEY_ENCRYPTION_KEY) {
        env
    } else {
        env.set(KEY_ENCRYPTION_KEY, TEST_KEY_ENCRYPTION_KEY)
    };
    if !RATE_VARS.iter().any(|v| env.vars().contains_key(*v)) {
        for var in RATE_VARS {
            env = env.set(var, "100000/s");
        }
    }
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

    /// The current signing key straight from MySQL, opened with the key-encryption key, to
    /// forge tokens the way an insider holding both could: (kid, PKCS#8 DER, public key).
    pub async fn signing_key(&self) -> (String, Vec<u8>, Vec<u8>) {
        let pool = self.env.mysql().await;
        let (kid, sealed, sealed_with, public): (String, Vec<u8>, String, Vec<u8>) =
            sqlx::query_as(
                "SELECT kid, private_sealed, sealed_with, public_key FROM signing_keys \
                 ORDER BY created_at DESC LIMIT 1",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
        let key = self
            .env
            .vars()
            .get(KEY_ENCRYPTION_KEY)
            .cloned()
            .unwrap_or_else(|| TEST_KEY_ENCRYPTION_KEY.to_string());
        let pkcs8 = KeyCipher::from_base64(&key, &[])
            .unwrap()
            .open(
                &kid,
                &Sealed {
                    key_id: sealed_with,
                    bytes: sealed,
                },
            )
            .unwrap();
        (kid, pkcs8, public)
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
