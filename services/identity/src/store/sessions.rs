//! Refresh tokens in Redis. A token is 32 random bytes, given to the client once and stored only
//! as its SHA-256. Tokens belong to a family (one login); spending a token atomically deletes it,
//! marks it spent and issues the next one in the same family. Presenting a spent token again means
//! it was stolen or replayed: the whole family is revoked, so neither the thief's nor the owner's
//! newer token works any more.
//!
//! Keys (under the service prefix): `rt:<hash>` → `<user>|<family>`, `rtspent:<hash>` →
//! `<family>`, `rtfam:<family>` → `<user>`; all expire with the refresh lifetime.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
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
    /// The token was already spent: its family is now revoked.
    Reused,
    /// Unknown, expired, or its family was revoked (logout, reuse).
    Invalid,
}

/// Atomically: take the token, remember it as spent, and say whether its family still lives.
/// A token already spent revokes its family.
const SPEND: &str = r#"
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  local family = string.match(v, '|(.+)$')
  redis.call('SET', KEYS[2], family, 'EX', ARGV[1])
  if redis.call('EXISTS', ARGV[2] .. family) == 1 then
    return {'ok', v}
  end
  return {'revoked', v}
end
local spent = redis.call('GET', KEYS[2])
if spent then
  redis.call('DEL', ARGV[2] .. spent)
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
}

fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    /// Sessions on `redis` whose tokens and families live `ttl` after their last use.
    pub fn new(redis: RedisPool, ttl: Duration) -> Self {
        Sessions { redis, ttl }
    }

    /// The lifetime of a refresh token.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a family (a login) and returns its first token.
    pub async fn start(&self, user_id: &str) -> Result<String> {
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
        self.issue(user_id, &family).await
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

    /// Spends `token`: on success it is gone and the caller issues the next one of its family.
    pub async fn spend(&self, token: &str) -> Result<Spend> {
        let h = hash(token);
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        let (outcome, value): (String, String) = redis::Script::new(SPEND)
            .key(self.redis.key(&format!("rt:{h}")))
            .key(self.redis.key(&format!("rtspent:{h}")))
            .arg(self.ttl.as_secs())
            .arg(self.redis.key("rtfam:"))
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
            "reused" => {
                tracing::warn!(family = %value, "refresh token reused; family revoked");
                Spend::Reused
            }
            _ => Spend::Invalid,
        })
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
