//! Encryption at rest of the signing keys' private halves. Each private key is sealed with
//! AES-256-GCM (`ring`, already identity's AEAD library for refresh answers) under a 32-byte
//! key-encryption key from the environment (`TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY`), so a copy
//! of the MySQL table, a backup or a replica does not hand out the power to mint tokens.
//!
//! Sealed form: `nonce (12 random bytes) || ciphertext || tag (16)`, with the key's `kid` as
//! associated data (a sealed key moved to another row does not open). Beside it the row stores
//! the id of the key-encryption key that sealed it ([`KeyCipher::current_id`], the first 8 bytes
//! of its SHA-256 in hex), so the key-encryption key can rotate: the new key becomes current, the
//! old one stays listed as previous until every row is re-sealed (`store::keys` does that at
//! start and on each maintenance round).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Length of a key-encryption key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

#[derive(Clone)]
struct Wrapping {
    /// Hex of the first 8 bytes of SHA-256 of the key; names the key without revealing it.
    id: String,
    key: [u8; KEY_LEN],
}

impl Wrapping {
    fn from_base64(raw: &str) -> std::result::Result<Wrapping, String> {
        let bytes = STANDARD
            .decode(raw.trim())
            .map_err(|_| "must be standard base64 (of 32 random bytes)".to_string())?;
        let key: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("must decode to {KEY_LEN} bytes, not {}", bytes.len()))?;
        let digest = Sha256::digest(key);
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Wrapping { id, key })
    }

    fn aead(&self) -> Result<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.key)
            .map(LessSafeKey::new)
            .map_err(|_| Error::Internal("key-encryption key rejected by AES-256-GCM".into()))
    }
}

/// A private key as stored: the sealed bytes and the id of the key that sealed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// [`KeyCipher::current_id`] at sealing time.
    pub key_id: String,
    /// `nonce || ciphertext || tag`.
    pub bytes: Vec<u8>,
}

/// The key-encryption keys: the current one seals, it and the previous ones open.
#[derive(Clone)]
pub struct KeyCipher {
    /// `None` only in the placeholder of a configuration that failed to load.
    current: Option<Wrapping>,
    previous: Vec<Wrapping>,
}

impl std::fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCipher")
            .field("current", &self.current.as_ref().map(|w| &w.id))
            .field(
                "previous",
                &self.previous.iter().map(|w| &w.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyCipher {
    /// The current key and any previous ones, each standard base64 of 32 bytes; the error says
    /// what is wrong with which.
    pub fn from_base64(current: &str, previous: &[&str]) -> std::result::Result<KeyCipher, String> {
        let current = Wrapping::from_base64(current)?;
        let previous = previous
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                Wrapping::from_base64(raw).map_err(|e| format!("previous key {i}: {e}"))
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok(KeyCipher {
            current: Some(current),
            previous,
        })
    }

    /// A cipher with no key: stands in for a missing key in a configuration that fails to load;
    /// every seal and open fails.
    pub fn unusable() -> KeyCipher {
        KeyCipher {
            current: None,
            previous: Vec::new(),
        }
    }

    /// The id of the key that seals now (`""` for [`KeyCipher::unusable`]).
    pub fn current_id(&self) -> &str {
        self.current.as_ref().map_or("", |w| w.id.as_str())
    }

    /// Seals the private key of `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Sealed> {
        let wrapping = self
            .current
            .as_ref()
            .ok_or_else(|| Error::Internal("no key-encryption key configured".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut bytes = plaintext.to_vec();
        wrapping
            .aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut bytes,
            )
            .map_err(|_| Error::Internal("sealing a signing key failed".into()))?;
        let mut out = nonce.to_vec();
        out.append(&mut bytes);
        Ok(Sealed {
            key_id: wrapping.id.clone(),
            bytes: out,
        })
    }

    /// Opens the sealed private key of `kid`; [`Error::BadKey`] when its key-encryption key is
    /// not configured or the bytes do not authenticate.
    pub fn open(&self, kid: &str, sealed: &Sealed) -> Result<Vec<u8>> {
        let bad = |why: String| Error::BadKey {
            kid: kid.to_string(),
            why,
        };
        let wrapping = self
            .current
            .iter()
            .chain(&self.previous)
            .find(|w| w.id == sealed.key_id)
            .ok_or_else(|| {
                bad(format!(
                    "sealed under key-encryption key {}, which is not configured",
                    sealed.key_id
                ))
            })?;
        if sealed.bytes.len() < NONCE_LEN {
            return Err(bad("sealed private key is too short".into()));
        }
        let (nonce, body) = sealed.bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| bad("sealed private key has a bad nonce".into()))?;
        let mut body = body.to_vec();
        let plain = wrapping
            .aead()?
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut body)
            .map_err(|_| bad("sealed private key does not authenticate".into()))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI=";

    #[test]
    fn seals_open_under_the_same_kid_only() {
        let cipher = KeyCipher::from_base64(KEY_A, &[]).unwrap_or_else(|_| KeyCipher::unusable());
        let sealed = cipher.seal("kid-1", b"private bytes").ok();
        let sealed = sealed.unwrap_or(Sealed {
            key_id: String::new(),
            bytes: Vec::new(),
        });
        assert_eq!(sealed.key_id, cipher.current_id());
        assert!(!sealed
            .bytes
            .windows(b"private bytes".len())
            .any(|w| w == b"private bytes"));
        assert_eq!(
            cipher.open("kid-1", &sealed).ok(),
            Some(b"private bytes".to_vec())
        );
        assert!(cipher.open("kid-2", &sealed).is_err(), "bound to its kid");
    }

    #[test]
    fn a_rotated_cipher_opens_what_the_previous_key_sealed() {
        let old = KeyCipher::from_base64(KEY_A, &[]).unwrap_or_else(|_| KeyCipher::unusable());
        let sealed = old.seal("kid", b"x").unwrap_or(Sealed {
            key_id: String::new(),
            bytes: Vec::new(),
        });
        let new = KeyCipher::from_base64(KEY_B, &[KEY_A]).unwrap_or_else(|_| KeyCipher::unusable());
        assert_ne!(new.current_id(), old.current_id());
        assert_eq!(new.open("kid", &sealed).ok(), Some(b"x".to_vec()));
        let forgot = KeyCipher::from_base64(KEY_B, &[]).unwrap_or_else(|_| KeyCipher::unusable());
        assert!(forgot.open("kid", &sealed).is_err());
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(KeyCipher::from_base64("not base64!", &[]).is_err());
        assert!(KeyCipher::from_base64("AAEC", &[]).is_err(), "too short");
        assert!(KeyCipher::from_base64(KEY_A, &["AAEC"]).is_err());
    }
}
