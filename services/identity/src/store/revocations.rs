//! Revoked sessions in Redis: the feed the mesh's token verifiers poll (`ListRevokedSessions`).
//! A session ended before its access tokens expired (logout, refresh-token reuse) is recorded
//! with the Unix second its last access token expires; verifiers refuse tokens carrying its id
//! (`sid`) until then.
//!
//! Keys (under the service prefix): `revseq` counts revocations; `revlog` is a sorted set of
//! `<session>|<expires>` scored by that count (the feed's order and its cursor), `revexp` the
//! same members scored by expiry (for pruning). Both change in one Lua script, so the count and
//! the feed never disagree and a cursor never skips an entry. Entries past their expiry are
//! pruned on every write, a bounded number at a time.

use talentmesh_storage::RedisPool;

use crate::error::{Error, Result};

/// Records one revocation and prunes expired ones. KEYS: revseq, revlog, revexp. ARGV: member
/// (`<session>|<expires>`), expires (Unix s), now (Unix s), prune limit.
const RECORD: &str = r#"
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3], 'LIMIT', 0, ARGV[4])
for _, m in ipairs(old) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZREM', KEYS[3], m)
end
return seq
"#;

/// Lists entries recorded after a cursor. A cursor beyond the count (the store was emptied and
/// counts again from zero) restarts from the beginning. KEYS: revseq, revlog. ARGV: cursor,
/// limit. Returns the cursor used and the flat `member, score` list.
const LIST: &str = r#"
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local cursor = tonumber(ARGV[1])
if cursor > seq then
  cursor = 0
end
local rows = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, ARGV[2])
return {tostring(cursor), rows}
"#;

/// Expired entries removed per write at most, so one write never does unbounded work.
const PRUNE_PER_WRITE: u32 = 1000;

/// One revoked session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The session id (the refresh-token family, the tokens' `sid`).
    pub session_id: String,
    /// Unix seconds when its last access token expires.
    pub expires_at: i64,
}

/// A page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedPage {
    /// Unexpired revocations after the cursor, in the order recorded.
    pub sessions: Vec<Revoked>,
    /// Where the next page starts: the position of the last entry read (expired ones included),
    /// or the cursor asked with when nothing was new.
    pub next_cursor: u64,
}

/// The revoked-session feed in Redis (see the module docs).
#[derive(Clone)]
pub struct Revocations {
    redis: RedisPool,
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Session(e.to_string())
}

impl Revocations {
    /// The feed under `redis`' key prefix.
    pub fn new(redis: RedisPool) -> Self {
        Revocations { redis }
    }

    /// Records `session_id` as revoked until `expires_at` (Unix s); returns its position.
    pub async fn record(&self, session_id: &str, expires_at: i64) -> Result<u64> {
        let now = chrono::Utc::now().timestamp();
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        redis::Script::new(RECORD)
            .key(self.redis.key("revseq"))
            .key(self.redis.key("revlog"))
            .key(self.redis.key("revexp"))
            .arg(format!("{session_id}|{expires_at}"))
            .arg(expires_at)
            .arg(now)
            .arg(PRUNE_PER_WRITE)
            .invoke_async::<u64>(&mut conn)
            .await
            .map_err(unavailable)
    }

    /// Up to `limit` unexpired revocations recorded after `cursor`.
    pub async fn list(&self, cursor: u64, limit: u32) -> Result<RevokedPage> {
        let now = chrono::Utc::now().timestamp();
        let mut conn = self.redis.get().await.map_err(unavailable)?;
        let (used, rows): (String, Vec<String>) = redis::Script::new(LIST)
            .key(self.redis.key("revseq"))
            .key(self.redis.key("revlog"))
            .arg(cursor)
            .arg(limit.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut next_cursor = used.parse::<u64>().unwrap_or(0);
        let mut sessions = Vec::with_capacity(rows.len() / 2);
        for pair in rows.chunks_exact(2) {
            let [member, score] = pair else { continue };
            if let Ok(position) = score.parse::<u64>() {
                next_cursor = next_cursor.max(position);
            }
            let Some((session_id, expires)) = member.rsplit_once('|') else {
                continue;
            };
            let Ok(expires_at) = expires.parse::<i64>() else {
                continue;
            };
            if expires_at >= now {
                sessions.push(Revoked {
                    session_id: session_id.to_string(),
                    expires_at,
                });
            }
        }
        Ok(RevokedPage {
            sessions,
            next_cursor,
        })
    }
}
