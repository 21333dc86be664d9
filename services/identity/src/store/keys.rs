//! The key ring's MySQL queries: the `signing_keys` table and the named lock that makes one
//! instance at a time decide on rotation. The ring itself (snapshot, signing, JWKS) is
//! `service::keys`.

use chrono::{DateTime, Utc};
use sqlx::mysql::MySql;
use sqlx::pool::PoolConnection;
use sqlx::MySqlPool;
use talentmesh_storage::time::datetime;

use crate::error::Result;

/// The MySQL named lock held while deciding whether to rotate.
const ROTATION_LOCK: &str = "identity_key_ring";

/// A key as stored: both halves as DER/raw bytes.
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
}

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
    /// The key table on `pool` (the identity database, migrations applied).
    pub fn new(pool: MySqlPool) -> Self {
        KeyStore { pool }
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

    /// Stores a new key.
    pub async fn insert(&self, new: &NewKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&new.key.kid)
        .bind(&new.key.private_pkcs8)
        .bind(&new.key.public_key)
        .bind(datetime(new.created_at))
        .bind(datetime(new.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every key not yet expired, newest first (the first one signs).
    pub async fn live(&self) -> Result<Vec<StoredKey>> {
        let rows: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT kid, private_pkcs8, public_key FROM signing_keys \
             WHERE expires_at > ? ORDER BY created_at DESC, kid DESC",
        )
        .bind(datetime(Utc::now()))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kid, private_pkcs8, public_key)| StoredKey {
                kid,
                private_pkcs8,
                public_key,
            })
            .collect())
    }
}
