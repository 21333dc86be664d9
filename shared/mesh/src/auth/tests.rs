//! Unit tests of the verifier, the revoked-session set and the key cache.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

use super::jwks::FETCH_TRIES;
use super::*;
use crate::error::{ApiError, ErrorCode};

const KID: &str = "revocation-test";
const ISSUER: &str = "talentmesh-identity";
const AUDIENCE: &str = "talentmesh";

/// One Ed25519 key: signs the test tokens and is the verifier's only key.
struct OneKey {
    der: Vec<u8>,
    decoding: Arc<DecodingKey>,
}

impl OneKey {
    fn new() -> Arc<OneKey> {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let x =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        Arc::new(OneKey {
            der: key.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            decoding: Arc::new(DecodingKey::from_ed_components(&x).unwrap()),
        })
    }

    /// A valid token of session `sid` (none: a token issued before sessions were named).
    fn token(&self, sid: Option<&str>) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = SessionClaims {
            claims: Claims {
                sub: "user-1".into(),
                iss: ISSUER.into(),
                aud: AUDIENCE.into(),
                exp: now + 900,
                nbf: now,
                iat: now,
                jti: uuid::Uuid::new_v4().to_string(),
                email: "a@example.com".into(),
                roles: vec!["candidate".into()],
            },
            sid: sid.map(str::to_string),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&self.der)).unwrap()
    }
}

impl KeySource for OneKey {
    fn key(&self, kid: &str) -> KeyLookup<'_> {
        let key = (kid == KID).then(|| self.decoding.clone());
        Box::pin(async move { Ok(key) })
    }
}

/// A key source that also reports a revocation set, as `JwksCache::from_identity` does.
struct KeyWithRevocations(Arc<OneKey>, Arc<RevokedSessions>);

impl KeySource for KeyWithRevocations {
    fn key(&self, kid: &str) -> KeyLookup<'_> {
        self.0.key(kid)
    }
    fn revocations(&self) -> Option<Arc<RevokedSessions>> {
        Some(self.1.clone())
    }
}

fn revoked(id: &str, expires_at: i64) -> RevokedSession {
    RevokedSession {
        session_id: id.into(),
        expires_at,
    }
}

fn assert_revoked(result: Result<Caller, ApiError>) {
    let err = result.expect_err("a revoked session's token must be refused");
    assert_eq!(err.code, ErrorCode::Unauthenticated, "{}", err.message);
    assert_eq!(err.reason, Some("SESSION_REVOKED"), "{}", err.message);
}

#[test]
fn a_revoked_session_counts_until_its_expiry_then_is_dropped() {
    let set = RevokedSessions::new();
    set.apply([revoked("s1", 1_000), revoked("s2", 2_000)], 500);
    assert!(set.is_revoked("s1", 500));
    assert!(set.is_revoked("s1", 1_000), "still revoked at its expiry");
    assert!(!set.is_revoked("s1", 1_001), "not past its expiry");
    assert!(!set.is_revoked("s3", 500), "never revoked");
    assert_eq!(set.len(), 2);
    set.apply([], 1_500);
    assert_eq!(set.len(), 1, "the expired entry is pruned");
    assert!(set.is_revoked("s2", 1_500));
}

#[test]
fn a_repeated_revocation_keeps_the_later_expiry_and_expired_ones_are_not_added() {
    let set = RevokedSessions::new();
    set.apply([revoked("s1", 2_000), revoked("s1", 1_000)], 500);
    assert!(set.is_revoked("s1", 1_500));
    set.apply([revoked("old", 400)], 500);
    assert!(!set.is_revoked("old", 400));
    assert_eq!(set.len(), 1);
}

#[tokio::test]
async fn the_verifier_refuses_a_revoked_session_even_for_a_token_it_verified_before() {
    let key = OneKey::new();
    let set = RevokedSessions::new();
    let verifier = Verifier::new(
        Arc::new(KeyWithRevocations(key.clone(), set.clone())),
        ISSUER,
        AUDIENCE,
    );
    let ended = key.token(Some("ended"));
    let other = key.token(Some("other"));
    let legacy = key.token(None);
    // Verified (and remembered) before the logout.
    assert_eq!(verifier.verify(&ended).await.unwrap().user_id, "user-1");

    let now = chrono::Utc::now().timestamp();
    set.apply([revoked("ended", now + 900)], now);
    assert_revoked(verifier.verify(&ended).await);
    assert!(verifier.verify(&other).await.is_ok(), "another session");
    assert!(
        verifier.verify(&legacy).await.is_ok(),
        "a token without sid is accepted until it expires"
    );
    // A verifier without a revocation set checks nothing (e.g. a plain key source).
    let plain = Verifier::new(key.clone(), ISSUER, AUDIENCE);
    assert!(plain.verify(&ended).await.is_ok());
    assert_revoked(plain.with_revocations(set.clone()).verify(&ended).await);
}

/// A feed of three entries over pages of one, failing while `down` is set.
fn feed(down: Arc<AtomicBool>) -> FetchRevocations {
    let far = chrono::Utc::now().timestamp() + 900;
    Arc::new(move |cursor: String| {
        let down = down.load(Ordering::SeqCst);
        Box::pin(async move {
            if down {
                return Err(ApiError::unavailable("identity is down"));
            }
            let at = cursor.parse::<usize>().unwrap_or(0);
            let ids = ["a", "b", "c"];
            Ok(match ids.get(at) {
                Some(id) => RevocationPage {
                    sessions: vec![revoked(id, far)],
                    next_cursor: (at + 1).to_string(),
                },
                None => RevocationPage {
                    sessions: vec![],
                    next_cursor: cursor,
                },
            })
        })
    })
}

#[tokio::test]
async fn one_poll_follows_the_cursor_over_every_page() {
    let set = RevokedSessions::new();
    let mut cursor = String::new();
    set.poll(&feed(Arc::default()), &mut cursor).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    for id in ["a", "b", "c"] {
        assert!(set.is_revoked(id, now), "{id}");
    }
    assert_eq!(cursor, "3");
}

#[tokio::test]
async fn an_unreachable_identity_keeps_the_last_known_set_and_counts_the_failure() {
    let down = Arc::new(AtomicBool::new(false));
    let fetch = feed(down.clone());
    let set = RevokedSessions::new();
    let mut cursor = String::new();
    set.poll(&fetch, &mut cursor).await.unwrap();
    down.store(true, Ordering::SeqCst);
    assert!(set.poll(&fetch, &mut cursor).await.is_err());
    assert!(set.is_revoked("a", chrono::Utc::now().timestamp()));
    assert_eq!(cursor, "3", "the cursor stays where it was");
}

#[tokio::test]
async fn the_background_poll_fills_the_set_and_counts_failures() {
    let down = Arc::new(AtomicBool::new(true));
    let set = RevokedSessions::new();
    let task = set
        .spawn_polling(feed(down.clone()), Duration::from_millis(20))
        .expect("inside a runtime");
    let deadline = Instant::now() + Duration::from_secs(5);
    while set.poll_failures() == 0 && Instant::now() < deadline {
        // The pause of a bounded poll (the deadline above ends it).
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(set.poll_failures() > 0, "failures are counted");
    assert!(set.is_empty());
    down.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while set.len() < 3 && Instant::now() < deadline {
        // The pause of a bounded poll (the deadline above ends it).
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(set.len(), 3, "caught up once identity answers");
    // The task ends once the set is dropped.
    drop(set);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the poll task ends with its set")
        .unwrap();
}

#[tokio::test]
async fn a_refresh_that_fails_on_one_instance_asks_the_next() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    // The first instance asked cannot be reached; the next one answers.
    let cache = JwksCache::new(Arc::new(move || {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n == 0 {
                Err(ApiError::unavailable("not identity"))
            } else {
                Ok(vec![PublicJwk {
                    kid: "k1".to_string(),
                    x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".to_string(),
                }])
            }
        })
    }));
    assert!(
        cache.key("k1").await.unwrap().is_some(),
        "the key of the second try"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A key cache over a fake identity that fails while `down` is set and otherwise answers with
/// the one key `k1`; `calls` counts the fetches.
fn flaky_identity(down: Arc<AtomicBool>, calls: Arc<std::sync::atomic::AtomicUsize>) -> JwksCache {
    JwksCache::new(Arc::new(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        let down = down.load(Ordering::SeqCst);
        Box::pin(async move {
            if down {
                Err(ApiError::unavailable("connection refused"))
            } else {
                Ok(vec![PublicJwk {
                    kid: "k1".to_string(),
                    x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".to_string(),
                }])
            }
        })
    }))
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_are_unavailable_not_unknown_and_callers_share_the_refresh() {
    let down = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cache = Arc::new(flaky_identity(down.clone(), calls.clone()));
    // Three requests with the same unknown key id at once, while identity is unreachable.
    let lookups = (0..3).map(|_| {
        let cache = cache.clone();
        tokio::spawn(async move { cache.key("k1").await.map(|k| k.is_some()) })
    });
    for lookup in futures::future::join_all(lookups).await {
        let err = lookup.unwrap().expect_err("no key can be had");
        assert_eq!(err.code, ErrorCode::Unavailable, "{}", err.message);
    }
    // One refresh's tries served all three (the ones that waited took its outcome).
    let tries = calls.load(Ordering::SeqCst);
    assert!(
        tries <= 2 * FETCH_TRIES,
        "{tries} fetches for 3 concurrent lookups"
    );
    // A failed refresh does not hold the next one back: identity is back, the key is found.
    down.store(false, Ordering::SeqCst);
    assert!(cache.key("k1").await.unwrap().is_some());
    // An id identity does not list is unknown (not unavailable), and asking again at once
    // does not fetch again.
    let before = calls.load(Ordering::SeqCst);
    assert!(cache.key("forged").await.unwrap().is_none());
    assert!(cache.key("forged-2").await.unwrap().is_none());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "refreshes are rate-limited"
    );
}

#[tokio::test]
async fn a_verifier_whose_keys_cannot_be_fetched_answers_unavailable() {
    let down = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let verifier = Verifier::new(Arc::new(flaky_identity(down, calls)), ISSUER, AUDIENCE);
    let key = OneKey::new();
    // Signed under another kid than the cache could know; what matters is that it is asked.
    let err = verifier
        .verify(&key.token(None))
        .await
        .expect_err("no keys");
    assert_eq!(err.code, ErrorCode::Unavailable, "{}", err.message);
}
