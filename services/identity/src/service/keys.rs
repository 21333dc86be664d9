//! The key ring that signs access tokens. Keys are Ed25519, kept in MySQL so every instance signs
//! and verifies with the same set. The newest key signs; when it is older than the rotation
//! period a new one is made (under a MySQL named lock, so two instances do not both rotate). An
//! old key keeps verifying, and stays in the JWKS, until every token it can have signed has
//! expired. Each instance holds a snapshot in memory and reloads it periodically and whenever a
//! token names a key it does not know. The SQL (and the named lock) is `store::keys`, which
//! also keeps the private keys sealed at rest: at open and on each maintenance round, rows still
//! in plain text or sealed under a previous key-encryption key are re-sealed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use talentmesh_mesh::auth::{KeyLookup, KeySource};
use talentmesh_mesh::error::ApiError;
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::store::keys::{KeyStore, NewKey, StoredKey};

/// A public key as it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    /// The key id tokens name in their `kid` header.
    pub kid: String,
    /// Base64url of the 32 public-key bytes.
    pub x: String,
}

struct Snapshot {
    signing_kid: String,
    signing: Arc<EncodingKey>,
    verifying: HashMap<String, Arc<DecodingKey>>,
    published: Vec<PublishedKey>,
}

/// The signing keys of every instance, with this instance's in-memory snapshot of them.
pub struct KeyRing {
    store: KeyStore,
    rotate_every: Duration,
    /// How long after its successor appears a key must still verify: the token lifetime.
    token_ttl: Duration,
    snapshot: ArcSwap<Option<Snapshot>>,
    reload_lock: Mutex<()>,
    last_miss_reload: std::sync::Mutex<Option<std::time::Instant>>,
}

impl KeyRing {
    /// Loads the ring, creating the first key if there is none, after re-sealing stored keys
    /// that are in plain text or under a previous key-encryption key.
    pub async fn open(
        store: KeyStore,
        rotate_every: Duration,
        token_ttl: Duration,
    ) -> Result<Arc<KeyRing>> {
        let ring = Arc::new(KeyRing {
            store,
            rotate_every,
            token_ttl,
            snapshot: ArcSwap::from_pointee(None),
            reload_lock: Mutex::new(()),
            last_miss_reload: std::sync::Mutex::new(None),
        });
        ring.reseal().await?;
        ring.rotate_if_due().await?;
        ring.reload().await?;
        Ok(ring)
    }

    /// Keeps the ring current: rotates when due and picks up keys other instances made.
    pub fn spawn_maintenance(self: &Arc<Self>) {
        let ring = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let Some(ring) = ring.upgrade() else { return };
                if let Err(e) = ring.reseal().await {
                    tracing::warn!(error = %e, "re-sealing signing keys failed");
                }
                if let Err(e) = ring.rotate_if_due().await {
                    tracing::warn!(error = %e, "key rotation check failed");
                }
                if let Err(e) = ring.reload().await {
                    tracing::warn!(error = %e, "key ring reload failed");
                }
            }
        });
    }

    /// The key that signs now, with its id.
    pub fn signing_key(&self) -> Result<(String, Arc<EncodingKey>)> {
        let snap = self.snapshot.load();
        let snap = snap.as_ref().as_ref().ok_or(Error::NoSigningKey)?;
        Ok((snap.signing_kid.clone(), snap.signing.clone()))
    }

    /// Every key that still verifies, newest first.
    pub fn published(&self) -> Vec<PublishedKey> {
        self.snapshot
            .load()
            .as_ref()
            .as_ref()
            .map(|s| s.published.clone())
            .unwrap_or_default()
    }

    /// Seals stored keys still in plain text, or under a previous key-encryption key, under the
    /// current one.
    async fn reseal(&self) -> Result<()> {
        let done = self.store.reseal().await?;
        if done > 0 {
            tracing::info!(
                keys = done,
                "signing keys re-sealed under the current key-encryption key"
            );
        }
        Ok(())
    }

    /// Makes a new signing key now, whatever the age of the current one (operators and tests).
    pub async fn rotate_now(&self) -> Result<String> {
        let kid = self.insert_key().await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Makes a new key when the newest is older than the rotation period (or there is none).
    /// Only the instance holding the rotation lock decides; the others skip this round.
    async fn rotate_if_due(&self) -> Result<()> {
        let Some(lock) = self.store.lock_rotation().await? else {
            return Ok(());
        };
        let due = lock.newest.is_none_or(|t| {
            Utc::now()
                .signed_duration_since(t)
                .to_std()
                .unwrap_or_default()
                >= self.rotate_every
        });
        let result = if due {
            self.insert_key().await.map(|_| ())
        } else {
            Ok(())
        };
        lock.release().await;
        result
    }

    /// Generates and stores a key that signs for `rotate_every` and verifies `token_ttl` (plus a
    /// minute of slack) longer; returns its id.
    async fn insert_key(&self) -> Result<String> {
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let pkcs8 = signing.to_pkcs8_der().map_err(|e| Error::BadKey {
            kid: "new".into(),
            why: e.to_string(),
        })?;
        let public = signing.verifying_key().to_bytes();
        let now = Utc::now();
        let kid = format!(
            "{}-{}",
            now.format("%Y%m%d%H%M%S"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        // Signs for up to rotate_every, then its last tokens live token_ttl more (plus slack).
        let lifetime = self.rotate_every + self.token_ttl + Duration::from_secs(60);
        let expires =
            now + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::days(365));
        self.store
            .insert(&NewKey {
                key: StoredKey {
                    kid: kid.clone(),
                    private_pkcs8: pkcs8.as_bytes().to_vec(),
                    public_key: public.to_vec(),
                },
                created_at: now,
                expires_at: expires,
            })
            .await?;
        tracing::info!(kid = %kid, "new signing key");
        Ok(kid)
    }

    /// Reads the ring from MySQL into a fresh snapshot.
    pub async fn reload(&self) -> Result<()> {
        let _guard = self.reload_lock.lock().await;
        let rows = self.store.live().await?;
        let Some(newest) = rows.first() else {
            return Err(Error::NoSigningKey);
        };
        let signing_kid = &newest.kid;
        let signing = Arc::new(EncodingKey::from_ed_der(&newest.private_pkcs8));
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        for StoredKey {
            kid,
            public_key: public,
            ..
        } in &rows
        {
            if public.len() != 32 {
                return Err(Error::BadKey {
                    kid: kid.clone(),
                    why: "public key is not 32 bytes".into(),
                });
            }
            verifying.insert(kid.clone(), Arc::new(DecodingKey::from_ed_der(public)));
            published.push(PublishedKey {
                kid: kid.clone(),
                x: URL_SAFE_NO_PAD.encode(public),
            });
        }
        self.snapshot.store(Arc::new(Some(Snapshot {
            signing_kid: signing_kid.clone(),
            signing,
            verifying,
            published,
        })));
        Ok(())
    }

    fn known(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.snapshot
            .load()
            .as_ref()
            .as_ref()
            .and_then(|s| s.verifying.get(kid).cloned())
    }
}

impl KeySource for KeyRing {
    fn key(&self, kid: &str) -> KeyLookup<'_> {
        let kid = kid.to_string();
        Box::pin(async move {
            if let Some(k) = self.known(&kid) {
                return Ok(Some(k));
            }
            // Another instance may have rotated; a reload answers for it. Forged key ids must not
            // turn into a query each, so reloads for unknown ids happen at most once a second.
            let due = {
                let mut last = self
                    .last_miss_reload
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                if due {
                    *last = Some(std::time::Instant::now());
                }
                due
            };
            if due {
                if let Err(e) = self.reload().await {
                    tracing::warn!(error = %e, "key ring reload failed");
                    // The key may exist in the store: the token is not known to be bad.
                    return self.known(&kid).map(Some).ok_or_else(|| {
                        ApiError::unavailable("the signing keys cannot be read now; retry")
                    });
                }
            }
            Ok(self.known(&kid))
        })
    }
}
