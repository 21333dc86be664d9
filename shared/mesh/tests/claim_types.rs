//! Claims of the wrong JSON type (CVE-2026-25537): a correctly signed token whose `exp`, `nbf`,
//! `aud`, `iss` or `sub` is not the JSON type the JWT spec gives it must be refused, not read as
//! if the claim were absent. The shared [`Verifier`] is checked end to end, and the jsonwebtoken
//! release the workspace locks is checked on its own, so a downgrade to an affected release
//! (9.x, 10.0 to 10.2) fails here even though the verifier's required claims would still hide it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use talentmesh_mesh::auth::{KeyLookup, KeySource, Verifier};
use talentmesh_mesh::error::ErrorCode;

const KID: &str = "claim-types";
const ISSUER: &str = "talentmesh-identity";
const AUDIENCE: &str = "talentmesh";

/// One Ed25519 key pair: signs test tokens and is the verifier's only key.
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

    /// `claims` signed as an EdDSA token under [`KID`], whatever the JSON types inside.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.der)).unwrap()
    }
}

impl KeySource for OneKey {
    fn key(&self, kid: &str) -> KeyLookup<'_> {
        let key = (kid == KID).then(|| self.decoding.clone());
        Box::pin(async move { Ok(key) })
    }
}

/// Claims the verifier accepts; each case below changes one of them.
fn good_claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": "user-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now + 300,
        "nbf": now - 5,
        "iat": now,
        "jti": "token-1",
        "email": "user-1@example.com",
        "roles": ["admin"],
    })
}

#[tokio::test]
async fn the_verifier_refuses_claims_of_the_wrong_json_type() {
    let keys = OneKey::new();
    let verifier = Verifier::new(keys.clone(), ISSUER, AUDIENCE);

    // The unchanged claims verify, so a refusal below is the changed claim's doing.
    let caller = verifier.verify(&keys.sign(&good_claims())).await.unwrap();
    assert_eq!(caller.user_id, "user-1");

    let far_future = (chrono::Utc::now().timestamp() + 86_400 * 365).to_string();
    let cases: [(&str, Value); 7] = [
        ("exp as a string", json!("9999999999")),
        ("exp as a float string", json!("1e12")),
        ("nbf as a string in the future", json!(far_future)),
        ("aud as a number", json!(12345)),
        ("aud as an object", json!({ "aud": AUDIENCE })),
        ("iss as a number", json!(7)),
        ("sub as a number", json!(42)),
    ];
    for (case, value) in cases {
        let claim = case.split(' ').next().unwrap();
        let mut claims = good_claims();
        claims[claim] = value;
        let err = verifier.verify(&keys.sign(&claims)).await.expect_err(case);
        assert_eq!(err.code, ErrorCode::Unauthenticated, "{case}: {err:?}");
        assert_eq!(
            tonic::Status::from(err).code(),
            tonic::Code::Unauthenticated,
            "{case}"
        );
    }
}

/// The library alone, with `exp` and `nbf` checked but not listed as required: an affected
/// release treats a claim it cannot parse as absent and skips its check.
#[test]
fn the_locked_jsonwebtoken_refuses_a_mistyped_exp_or_nbf_that_is_not_required() {
    let keys = OneKey::new();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    validation.validate_exp = true;
    validation.validate_nbf = true;

    let now = chrono::Utc::now().timestamp();
    // Well typed: a past `exp` is refused and a good one accepted, so the checks are on.
    let expired = keys.sign(&json!({ "exp": now - 3600 }));
    assert!(jsonwebtoken::decode::<Value>(&expired, &keys.decoding, &validation).is_err());
    let fresh = keys.sign(&json!({ "exp": now + 3600 }));
    assert!(jsonwebtoken::decode::<Value>(&fresh, &keys.decoding, &validation).is_ok());

    let past = (now - 3600).to_string();
    let future = (now + 3600).to_string();
    for (case, claims) in [
        ("exp as a string", json!({ "exp": past })),
        (
            "nbf as a string",
            json!({ "exp": now + 3600, "nbf": future }),
        ),
    ] {
        let token = keys.sign(&claims);
        let decoded = jsonwebtoken::decode::<Value>(&token, &keys.decoding, &validation);
        assert!(decoded.is_err(), "{case} was accepted: {decoded:?}");
    }
}
