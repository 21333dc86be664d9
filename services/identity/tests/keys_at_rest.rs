//! Signing keys are encrypted at rest (AES-256-GCM under `TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY`):
//! MySQL never holds a private key in the clear, a restart reads the sealed key back, rows
//! written in plain text before are re-sealed, and the service does not start without the key
//! (issue 15).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::{login, register, start, with_bearer, Running};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use talentmesh_identity::config::KEY_ENCRYPTION_KEY;
use talentmesh_identity::Config;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_testkit::{scalar_i64, TestEnv};

const PASSWORD: &str = "correct horse 42";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A `signing_keys` row: kid, plain-text private key, sealed private key, sealing key id,
/// public key.
type KeyRow = (
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Vec<u8>,
);

/// Every stored byte of `signing_keys` (all columns of all rows), as MySQL returns them.
async fn stored_bytes(app: &Running) -> Vec<u8> {
    let pool = app.env.mysql().await;
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT kid, private_pkcs8, private_sealed, sealed_with, public_key FROM signing_keys",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut all = Vec::new();
    for (kid, plain, sealed, with, public) in rows {
        all.extend(kid.into_bytes());
        all.extend(plain.unwrap_or_default());
        all.extend(sealed.unwrap_or_default());
        all.extend(with.unwrap_or_default().into_bytes());
        all.extend(public);
    }
    all
}

async fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn the_stored_row_holds_no_private_key_and_a_restart_reads_it_back() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;
    register(&mut client, "kay@example.com", PASSWORD).await;
    let before = login(&mut client, "kay@example.com", PASSWORD).await;

    let pool = app.env.mysql().await;
    assert_eq!(
        scalar_i64(
            &pool,
            "SELECT COUNT(*) FROM signing_keys WHERE private_pkcs8 IS NOT NULL"
        )
        .await,
        0,
        "no private key in the plain-text column"
    );
    // The key as the service uses it: opened with the key-encryption key.
    let (kid, der, public) = app.signing_key().await;
    let key = ed25519_dalek::SigningKey::from_pkcs8_der(&der).expect("the sealed key opens");
    assert_eq!(key.verifying_key().to_bytes().as_slice(), public.as_slice());
    assert_eq!(kid_of(&before.access_token).await, kid);
    let stored = stored_bytes(&app).await;
    for (what, secret) in [
        ("PKCS#8 DER", der.clone()),
        ("raw seed", key.to_bytes().to_vec()),
        (
            "PEM body (base64 of the DER)",
            base64::engine::general_purpose::STANDARD
                .encode(&der)
                .into_bytes(),
        ),
    ] {
        assert!(!contains(&stored, &secret), "the {what} is stored");
    }

    // Restart on the same database: the sealed key is read back and keeps signing and
    // verifying.
    let Running { service, env } = app;
    service.stop().await;
    let app = start(env).await;
    let mut client = app.client().await;
    client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &before.access_token,
        ))
        .await
        .expect("a token from before the restart verifies");
    let after = login(&mut client, "kay@example.com", PASSWORD).await;
    assert_eq!(kid_of(&after.access_token).await, kid, "the same key signs");
    app.stop().await;
}

#[tokio::test]
async fn a_key_stored_in_plain_text_is_read_and_re_sealed_at_start() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;
    register(&mut client, "lou@example.com", PASSWORD).await;
    let Running { service, env } = app;
    service.stop().await;

    // A row the way identity wrote it before sealing, newest so it signs.
    let legacy = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = legacy.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let pool = env.mysql().await;
    sqlx::query(
        "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, expires_at) \
         VALUES ('legacy-1', ?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 SECOND, UTC_TIMESTAMP(6) + INTERVAL 1 DAY)",
    )
    .bind(&der)
    .bind(legacy.verifying_key().to_bytes().as_slice())
    .execute(&pool)
    .await
    .unwrap();

    let app = start(env).await;
    let (with, plain): (Option<String>, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT sealed_with, private_pkcs8 FROM signing_keys WHERE kid = 'legacy-1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(plain.is_none(), "the plain-text copy is gone");
    assert!(
        with.is_some(),
        "sealed, with the id of the key that sealed it"
    );
    assert!(!contains(&stored_bytes(&app).await, &der));
    let mut client = app.client().await;
    let tokens = login(&mut client, "lou@example.com", PASSWORD).await;
    assert_eq!(kid_of(&tokens.access_token).await, "legacy-1");
    client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &tokens.access_token,
        ))
        .await
        .expect("the re-sealed key still signs tokens that verify");
    app.stop().await;
}

#[test]
fn identity_does_not_start_without_a_key_encryption_key() {
    let env = TestEnv::new("identity");
    let err = Config::load(env.env()).expect_err("no key-encryption key");
    assert!(
        err.problems
            .iter()
            .any(|p| p.starts_with(KEY_ENCRYPTION_KEY)),
        "{err}"
    );
    let err =
        Config::load(env.env().with(KEY_ENCRYPTION_KEY, "AAEC")).expect_err("a key of 3 bytes");
    assert!(
        err.problems
            .iter()
            .any(|p| p.starts_with(KEY_ENCRYPTION_KEY)),
        "{err}"
    );
}
