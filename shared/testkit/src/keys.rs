//! [`TestKeys`]: a signing key the test owns and a verifier that trusts only it, so services
//! under test check real EdDSA tokens without an identity service; [`sign_ed`] to forge tokens.

/// Signs `claims` as an EdDSA access token with key id `kid` and a PKCS#8 Ed25519 key — how
/// tests forge tokens (expired, wrong audience, unknown key) to check that they are refused.
pub fn sign_ed(kid: &str, pkcs8: &[u8], claims: &talentmesh_mesh::auth::Claims) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ed_der(pkcs8),
    )
    .expect("sign test token")
}

/// A signing key the test owns and a verifier that trusts only it: services under test check
/// real EdDSA tokens without an identity service.
pub struct TestKeys {
    der: Vec<u8>,
    decoding: std::sync::Arc<jsonwebtoken::DecodingKey>,
}

/// Issuer and audience the mesh expects by default.
pub const TEST_ISSUER: &str = "talentmesh-identity";
pub const TEST_AUDIENCE: &str = "talentmesh";
const TEST_KID: &str = "test-key";

impl TestKeys {
    pub fn new() -> std::sync::Arc<TestKeys> {
        use base64::Engine;
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let x =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        std::sync::Arc::new(TestKeys {
            der: key
                .to_pkcs8_der()
                .expect("encode test key")
                .as_bytes()
                .to_vec(),
            decoding: std::sync::Arc::new(
                jsonwebtoken::DecodingKey::from_ed_components(&x).expect("test public key"),
            ),
        })
    }

    pub fn verifier(
        self: &std::sync::Arc<Self>,
    ) -> std::sync::Arc<talentmesh_mesh::auth::Verifier> {
        std::sync::Arc::new(talentmesh_mesh::auth::Verifier::new(
            self.clone(),
            TEST_ISSUER,
            TEST_AUDIENCE,
        ))
    }

    /// A bearer token for user `sub` with `roles` (e.g. "admin"), valid for five minutes.
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = talentmesh_mesh::auth::Claims {
            sub: sub.into(),
            iss: TEST_ISSUER.into(),
            aud: TEST_AUDIENCE.into(),
            exp: now + 300,
            nbf: now - 5,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            email: format!("{sub}@example.com"),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        };
        sign_ed(TEST_KID, &self.der, &claims)
    }
}

impl talentmesh_mesh::auth::KeySource for TestKeys {
    fn key(&self, kid: &str) -> talentmesh_mesh::auth::KeyLookup<'_> {
        let key = (kid == TEST_KID).then(|| self.decoding.clone());
        Box::pin(async move { Ok(key) })
    }
}
