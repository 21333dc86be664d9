//! Refresh tokens in Redis. A token is 32 random bytes, given to the client once and stored only
//! as its SHA-256. Tokens belong to a family (one login); spending a token atomically deletes it,
//! marks it spent and issues the next one in the same family. Presenting a spent token again means
//! it was stolen or replayed: the whole family is revoked, so neither the thief's nor the owner's
//! newer token works any more.
//!
//! A client that lost the answer to a refresh sends the same token again: within the retry
//! window (seconds after the first spend) it gets the very answer it lost, the same new token
//! pair, and the session goes on. The answer is kept sealed (ChaCha20-Poly1305) under a key
//! derived from the spent token, which is stored nowhere, so Redis holds no usable token. A
//! retry after the window, or once the new refresh token has itself been spent (the client
//! did get the answer), is reuse and revokes the family.
//!
//! Keys (under the service prefix): `rt:<hash>` → `<user>|<family>`, `rtspent:<hash>` →
//! `<family>`, `rtfam:<family>` → `<user>`; all expire with the refresh lifetime.
//! `rtretry:<hash>` → `pending` while the first answer is made, then
//! `<next token's hash>|<sealed answer>`; it expires with the retry window.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use sha2::{Digest, Sha256};
use talentmesh_storage::RedisPool;

use crate::error::{Error, Result};

/// A Redis failure of the session store: the client is told to retry (UNAVAILABLE).
fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Session(e.to_string())
}

/// What spending a refresh token came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Spend {
    /// Valid: the user and family to issue the next token in.
    Rotated {
        /// The token's owner.
        user_id: String,
        /// The session family (one login) the next token belongs to.
        family: String,
    },
    /// The token was spent moments ago (within the retry window) and the new pair is still
    /// unused: the answer that spend gave, again.
    Retried(Answer),
    /// The token was spent moments ago and that answer is still being made: retry shortly.
    InFlight,
    /// The token was already spent: its family is now revoked.
    Reused {
        /// The revoked family (its access tokens must be refused too).
        family: String,
    },
    /// Unknown, expired, or its family was revoked (logout, reuse).
    Invalid,
}

/// The answer a refresh gave, kept sealed for an idempotent retry.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// The refresh token the spend issued.
    pub refresh_token: String,
    /// The access token issued with it.
    pub access_token: String,
}

/// Atomically: take the token, remember it as spent (and, with a retry window, that its answer
/// is pending), and say whether its family still lives. A token already spent is a retry while
/// its answer is kept and the next token is unspent; otherwise it revokes its family.
/// KEYS: rt:<h>, rtspent:<h>, rtretry:<h>. ARGV: ttl (s), rtfam: prefix, retry window (ms), rt:
/// prefix.
const SPEND: &str = r#"
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  local family = string.match(v, '|(.+)$')
  redis.call('SET', KEYS[2], family, 'EX', ARGV[1])
  if redis.call('EXISTS', ARGV[2] .. family) == 1 then
    if tonumber(ARGV[3]) > 0 then
      redis.call('SET', KEYS[3], 'pending', 'PX', ARGV[3])
    end
    return {'ok', v}
  end
  return {'revoked', v}
end
local spent = redis.call('GET', KEYS[2])
if spent then
  local retry = redis.call('GET', KEYS[3])
  if retry and redis.call('EXISTS', ARGV[2] .. spent) == 1 then
    if retry == 'pending' then
      return {'pending', ''}
    end
    local next_hash, sealed = string.match(retry, '^([^|]+)|(.+)$')
    if next_hash and redis.call('EXISTS', ARGV[4] .. next_hash) == 1 then
      return {'retry', sealed}
    end
  end
  redis.call('DEL', ARGV[2] .. spent)
  redis.call('DEL', KEYS[3])
  return {'reused', spent}
end
return {'unknown', ''}
"#;

/// Logout: end the token's family, whether the token is live or already spent.
const END_FAMILY: &str = r#"
local v = redis.call('GET', KEYS[1])
local family = nil
if v then
  family = string.match(v, '|(.+)$')
  redis.call('DEL', KEYS[1])
else
  family = redis.call('GET', KEYS[2])
end
if family then
  redis.call('DEL', ARGV[1] .. family)
  return 1
end
return 0
"#;

/// Refresh-token families in Redis (keys under the service prefix, see the module docs).
pub struct Sessions {
    redis: RedisPool,
    ttl: Duration,
    /// How long after a spend the same token gets the same answer (zero: never).
    retry_window: Duration,
}

fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Domain separation for the sealing key: it must differ from the stored `hash(token)`.
const RETRY_KEY_CONTEXT: &[u8] = b"talentmesh identity refresh retry v1\0";

/// The key that seals the answer to spending `token`: only the token's holder can derive it.
fn retry_key(token: &str) -> Result<LessSafeKey> {
    let digest = Sha256::new()
        .chain_update(RETRY_KEY_CONTEXT)
        .chain_update(token.as_bytes())
        .finalize();
    UnboundKey::new(&CHACHA20_POLY1305, &digest)
        .map(LessSafeKey::new)
        .map_err(|_| Error::Internal("retry key of the wrong length".into()))
}

/// `answer` sealed under the key of `token`, bound to the token's hash: base64url of the
/// random nonce followed by the ciphertext and tag.
fn seal(token: &str, answer: &Answer) -> Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut data = format!("{}\n{}", answer.refresh_token, answer.access_token).into_bytes();
    retry_key(token)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(hash(token).as_bytes()),
            &mut data,
        )
        .map_err(|_| Error::Internal("sealing a refresh answer failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// The answer [`seal`] kept for `token`, or `None` when `sealed` was not sealed under it.
fn open(token: &str, sealed: &str) -> Option<Answer> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let (nonce, data) = bytes.split_at_checked(NONCE_LEN)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut data = data.to_vec();
    let plain = retry_key(token)
        .ok()?
        .open_in_place(nonce, Aad::from(hash(token).as_bytes()), &mut data)
        .ok()?;
    let (refresh, access) = std::str::from_utf8(plain).ok()?.split_once('\n')?;
    Some(Answer {
        refresh_token: refresh.to_string(),
        access_token: access.to_string(),
    })
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    /// Sessions on `redis` whose tokens and families live `ttl` after their last use; a token
    /// spent again within `retry_window` of its spend gets the same answer ([`Spend::Retried`]).
    pub fn new(redis: RedisPool, ttl: Duration, retry_window: Duration) -> Self {
        Sessions {
            redis,
            ttl,
            retry_window,
        }
    }

    /// The lifetime of a refresh token.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a family (a login) and returns its id (the access tokens' `sid`) and first token.
    pub async fn start(&self, user_id: &str) -> Result<(String, String)> {
        let family = uuid::Uuid::new_v4().simple().to_string();
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        redis::cmd("SET")
            .arg(self.redis.key(&format!("rtfam:{family}")))
            .arg(user_id)
            .arg("EX")
            .arg(self.ttl.as_secs())
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        drop(conn);
        let token = self.issue(user_id, &family).await?;
        Ok((family, token))
    }

    /// Issues the next token of `family`, extending the family's life.
    pub async fn issue(&self, user_id: &str, family: &str) -> Result<String> {
        let token = new_token();
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.redis.key(&format!("rt:{}", hash(&token))))
            .arg(format!("{user_id}|{family}"))
            .arg("EX")
            .arg(self.ttl.as_secs())
            .ignore()
            .cmd("EXPIRE")
            .arg(self.redis.key(&format!("rtfam:{family}")))
            .arg(self.ttl.as_secs())
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(token)
    }

    /// Spends `token`: on success it is gone and the caller issues the next one of its family,
    /// then [`Sessions::remember`]s the answer.
    pub async fn spend(&self, token: &str) -> Result<Spend> {
        let h = hash(token);
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        let (outcome, value): (String, String) = redis::Script::new(SPEND)
            .key(self.redis.key(&format!("rt:{h}")))
            .key(self.redis.key(&format!("rtspent:{h}")))
            .key(self.redis.key(&format!("rtretry:{h}")))
            .arg(self.ttl.as_secs())
            .arg(self.redis.key("rtfam:"))
            .arg(u64::try_from(self.retry_window.as_millis()).unwrap_or(u64::MAX))
            .arg(self.redis.key("rt:"))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match outcome.as_str() {
            "ok" => match value.split_once('|') {
                Some((user, family)) => Spend::Rotated {
                    user_id: user.to_string(),
                    family: family.to_string(),
                },
                None => Spend::Invalid,
            },
            "retry" => match open(token, &value) {
                Some(answer) => Spend::Retried(answer),
                None => Spend::Invalid,
            },
            "pending" => Spend::InFlight,
            "reused" => {
                tracing::warn!(family = %value, "refresh token reused; family revoked");
                Spend::Reused { family: value }
            }
            _ => Spend::Invalid,
        })
    }

    /// Keeps the answer to spending `token` (sealed) for a retry, for what is left of the retry
    /// window; nothing when the window is zero or already over.
    pub async fn remember(&self, token: &str, answer: &Answer) -> Result<()> {
        if self.retry_window.is_zero() {
            return Ok(());
        }
        let value = format!("{}|{}", hash(&answer.refresh_token), seal(token, answer)?);
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        redis::cmd("SET")
            .arg(self.redis.key(&format!("rtretry:{}", hash(token))))
            .arg(value)
            .arg("XX")
            .arg("KEEPTTL")
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The family `token` belongs to, live or spent; `None` for an unknown or expired token.
    pub async fn family_of(&self, token: &str) -> Result<Option<String>> {
        let h = hash(token);
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        let (live, spent): (Option<String>, Option<String>) = redis::pipe()
            .cmd("GET")
            .arg(self.redis.key(&format!("rt:{h}")))
            .cmd("GET")
            .arg(self.redis.key(&format!("rtspent:{h}")))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(live
            .and_then(|v| v.split_once('|').map(|(_, family)| family.to_string()))
            .or(spent))
    }

    /// Ends the family of `token`. Unknown tokens are ignored (logout is idempotent).
    pub async fn end(&self, token: &str) -> Result<()> {
        let h = hash(token);
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        redis::Script::new(END_FAMILY)
            .key(self.redis.key(&format!("rt:{h}")))
            .key(self.redis.key(&format!("rtspent:{h}")))
            .arg(self.redis.key("rtfam:"))
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
