//! The key ring's MySQL queries: the `signing_keys` table and the named lock that makes one
//! instance at a time decide on rotation. The ring itself (snapshot, signing, JWKS) is
//! `service::keys`.
//!
//! Private keys are written sealed ([`KeyCipher`]) and opened as they are read, so nothing above
//! this module sees the sealed form. Rows in plain text (written before sealing existed, or by
//! hand) are still read, and [`KeyStore::reseal`] rewrites them, and rows sealed under a
//! previous key-encryption key, under the current one.

use chrono::{DateTime, Utc};
use sqlx::mysql::MySql;
use sqlx::pool::PoolConnection;
use sqlx::MySqlPool;
use talentmesh_storage::time::datetime;

use crate::error::Result;
use crate::store::key_cipher::{KeyCipher, Sealed};

/// The MySQL named lock held while deciding whether to rotate.
const ROTATION_LOCK: &str = "identity_key_ring";

/// A key as read or written: both halves as DER/raw bytes (the private half in the clear; it is
/// sealed only in MySQL).
pub struct StoredKey {
    /// The key id, `<created yyyymmddhhmmss>-<8 hex>`; sorts by age.
    pub kid: String,
    /// The private key as PKCS#8 DER.
    pub private_pkcs8: Vec<u8>,
    /// The 32 raw Ed25519 public-key bytes.
    pub public_key: Vec<u8>,
}

/// A key to insert: the stored halves and its lifetime.
pub struct NewKey {
    /// The key and its id.
    pub key: StoredKey,
    /// When it was made (UTC).
    pub created_at: DateTime<Utc>,
    /// When it stops verifying and leaves the JWKS (UTC).
    pub expires_at: DateTime<Utc>,
}

/// The `signing_keys` table.
#[derive(Clone)]
pub struct KeyStore {
    pool: MySqlPool,
    cipher: KeyCipher,
}

/// A row's private half as MySQL holds it: (kid, plaintext, sealed, sealed_with).
type PrivateRow = (String, Option<Vec<u8>>, Option<Vec<u8>>, Option<String>);

/// The rotation lock, held on its own connection until [`RotationLock::release`].
pub struct RotationLock {
    conn: PoolConnection<MySql>,
    /// When the newest key (expired or not) was made; `None` when there is no key at all.
    pub newest: Option<DateTime<Utc>>,
}

impl RotationLock {
    /// Releases the named lock (best effort: it also ends with the MySQL session).
    pub async fn release(mut self) {
        let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(ROTATION_LOCK)
            .execute(&mut *self.conn)
            .await;
    }
}

impl KeyStore {
    /// The key table on `pool` (the identity database, migrations applied), sealing private
    /// keys with `cipher`.
    pub fn new(pool: MySqlPool, cipher: KeyCipher) -> Self {
        KeyStore { pool, cipher }
    }

    /// The private key of a row, opened (or as it is, for a row still in plain text).
    fn private(&self, (kid, plain, sealed, sealed_with): &PrivateRow) -> Result<Vec<u8>> {
        match (sealed, sealed_with) {
            (Some(bytes), Some(key_id)) => self.cipher.open(
                kid,
                &Sealed {
                    key_id: key_id.clone(),
                    bytes: bytes.clone(),
                },
            ),
            _ => plain.clone().ok_or_else(|| crate::error::Error::BadKey {
                kid: kid.clone(),
                why: "the row has no private key".into(),
            }),
        }
    }

    /// Re-seals under the current key-encryption key every row still in plain text or sealed
    /// under another key, expired ones included; returns how many rows it rewrote. A row another
    /// instance rewrote meanwhile is left as that instance wrote it.
    pub async fn reseal(&self) -> Result<u64> {
        let current = self.cipher.current_id().to_string();
        let rows: Vec<PrivateRow> = sqlx::query_as(
            "SELECT kid, private_pkcs8, private_sealed, sealed_with FROM signing_keys \
             WHERE private_pkcs8 IS NOT NULL OR sealed_with IS NULL OR sealed_with <> ?",
        )
        .bind(&current)
        .fetch_all(&self.pool)
        .await?;
        let mut done = 0;
        for row in &rows {
            let kid = &row.0;
            // One unreadable row (sealed under a key no longer configured) must not stop the
            // others from being sealed, nor the service from starting: it cannot sign anyway.
            let private = match self.private(row) {
                Ok(private) => private,
                Err(e) => {
                    tracing::warn!(kid = %kid, error = %e, "signing key cannot be re-sealed");
                    continue;
                }
            };
            let sealed = self.cipher.seal(kid, &private)?;
            done += sqlx::query(
                "UPDATE signing_keys SET private_sealed = ?, sealed_with = ?, private_pkcs8 = NULL \
                 WHERE kid = ? AND private_sealed <=> ? AND sealed_with <=> ?",
            )
            .bind(&sealed.bytes)
            .bind(&sealed.key_id)
            .bind(kid)
            .bind(&row.2)
            .bind(&row.3)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(done)
    }

    /// Takes the rotation lock (waiting up to 10 s) and reads the age of the newest key;
    /// `None` when another instance holds the lock.
    pub async fn lock_rotation(&self) -> Result<Option<RotationLock>> {
        let mut conn = self.pool.acquire().await?;
        let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 10)")
            .bind(ROTATION_LOCK)
            .fetch_one(&mut *conn)
            .await?;
        if locked != Some(1) {
            return Ok(None);
        }
        let newest: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT MAX(created_at) FROM signing_keys")
                .fetch_one(&mut *conn)
                .await?;
        Ok(Some(RotationLock { conn, newest }))
    }

    /// Stores a new key, its private half sealed.
    pub async fn insert(&self, new: &NewKey) -> Result<()> {
        let sealed = self.cipher.seal(&new.key.kid, &new.key.private_pkcs8)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_sealed, sealed_with, public_key, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&new.key.kid)
        .bind(&sealed.bytes)
        .bind(&sealed.key_id)
        .bind(&new.key.public_key)
        .bind(datetime(new.created_at))
        .bind(datetime(new.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every key not yet expired, newest first (the first one signs), private halves opened.
    pub async fn live(&self) -> Result<Vec<StoredKey>> {
        type Row = (
            String,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<String>,
            Vec<u8>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT kid, private_pkcs8, private_sealed, sealed_with, public_key FROM signing_keys \
             WHERE expires_at > ? ORDER BY created_at DESC, kid DESC",
        )
        .bind(datetime(Utc::now()))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(kid, plain, sealed, sealed_with, public_key)| {
                let row = (kid, plain, sealed, sealed_with);
                let private_pkcs8 = self.private(&row)?;
                Ok(StoredKey {
                    kid: row.0,
                    private_pkcs8,
                    public_key,
                })
            })
            .collect()
    }
}
