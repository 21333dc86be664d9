//! A projection into Redis: one hash per entity at `<prefix><keyspace>:<id>`, holding the
//! service's fields plus `_v` (version), `_h` (content hash) and `_d` (1 for a tombstone). A
//! Lua script compares versions and replaces the hash atomically, so concurrent consumers and
//! late deliveries cannot leave an older state behind.

use std::sync::Arc;

use redis::Value;

use super::{Change, Projection, Stamp, StoreKind};
use crate::{Error, RedisPool, Result};

/// Builds the hash fields (a flat JSON object; non-string values are stored as JSON text).
pub type FieldsOf =
    Arc<dyn Fn(&Change) -> std::result::Result<serde_json::Value, String> + Send + Sync>;

const UPSERT: &str = r"
local cur = redis.call('HGET', KEYS[1], '_v')
if cur then
  local stored = tonumber(cur)
  local incoming = tonumber(ARGV[1])
  if stored > incoming then return 0 end
  if stored == incoming and redis.call('HGET', KEYS[1], '_h') == ARGV[2] then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '_v', ARGV[1], '_h', ARGV[2], '_d', ARGV[3], unpack(ARGV, 4))
return 1
";

pub struct RedisHashes {
    name: String,
    entity_type: String,
    redis: RedisPool,
    /// Full key prefix of the hashes, e.g. `notes:note:`.
    prefix: String,
    fields_of: FieldsOf,
    /// SHA1 of `UPSERT`: batches send EVALSHA rather than the script text every time.
    upsert_sha: String,
}

fn redis_err(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

/// Escapes SCAN's glob characters in a literal prefix.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

impl RedisHashes {
    /// `keyspace` names the hashes under the service prefix, e.g. "note" → `<prefix>note:<id>`.
    pub fn new(
        name: &str,
        entity_type: &str,
        keyspace: &str,
        redis: RedisPool,
        fields_of: FieldsOf,
    ) -> RedisHashes {
        let prefix = redis.key(&format!("{keyspace}:"));
        RedisHashes {
            name: name.to_string(),
            entity_type: entity_type.to_string(),
            redis,
            prefix,
            fields_of,
            upsert_sha: redis::Script::new(UPSERT).get_hash().to_string(),
        }
    }

    /// One EVALSHA of the upsert script per change, in a pipeline.
    fn upserts(&self, changes: &[Change]) -> Result<redis::Pipeline> {
        let mut pipe = redis::pipe();
        for c in changes {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&self.upsert_sha)
                .arg(1)
                .arg(self.key(&c.id))
                .arg(c.version)
                .arg(c.content_hash())
                .arg(if c.deleted { "1" } else { "0" });
            if !c.deleted {
                let fields = (self.fields_of)(c).map_err(Error::InvalidEvent)?;
                let serde_json::Value::Object(map) = fields else {
                    return Err(Error::InvalidEvent("hash fields must be an object".into()));
                };
                for (k, v) in map {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    cmd.arg(k).arg(text);
                }
            }
            pipe.add_command(cmd).ignore();
        }
        Ok(pipe)
    }

    /// Full key of one entity's hash.
    pub fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The stored version of `id` and the values of `fields`, in one HMGET; None when there
    /// is no record, it is a tombstone, or Redis cannot answer (a cache read falls back then).
    pub async fn live(&self, id: &str, fields: &[&str]) -> Option<(i64, Vec<Option<String>>)> {
        let mut conn = self.redis.get().await.ok()?;
        let mut values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key(id))
            .arg("_v")
            .arg("_d")
            .arg(fields)
            .query_async(&mut conn)
            .await
            .ok()?;
        let rest = values.split_off(2);
        let version = values[0].as_deref()?.parse().ok()?;
        (values[1].as_deref() == Some("0")).then_some((version, rest))
    }
}

#[tonic::async_trait]
impl Projection for RedisHashes {
    fn name(&self) -> &str {
        &self.name
    }

    fn store(&self) -> StoreKind {
        StoreKind::Redis
    }

    fn entity_type(&self) -> &str {
        &self.entity_type
    }

    async fn apply(&self, changes: &[Change]) -> Result<()> {
        let pipe = self.upserts(changes)?;
        run_scripted(&self.redis, &pipe, UPSERT).await
    }

    async fn stamps(&self, ids: &[String]) -> Result<Vec<Stamp>> {
        hash_stamps(&self.redis, &self.prefix, ids).await
    }

    async fn live_ids(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>)> {
        hash_live_ids(&self.redis, &self.prefix, after, limit).await
    }

    async fn remove(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(id)).collect();
        let mut conn = self.redis.get().await?;
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<Value>(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }
}

/// Runs a pipeline of EVALSHA calls of `script`; when the server does not know the script
/// (restarted or flushed), loads it and runs the pipeline again. Projections that keep their
/// compare-and-set in Lua share this.
pub async fn run_scripted(redis: &RedisPool, pipe: &redis::Pipeline, script: &str) -> Result<()> {
    let mut conn = redis.get().await?;
    match pipe.query_async::<()>(&mut conn).await {
        Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
            redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(script)
                .query_async::<String>(&mut conn)
                .await
                .map_err(redis_err)?;
            pipe.query_async::<()>(&mut conn).await.map_err(redis_err)
        }
        other => other.map_err(redis_err),
    }
}

/// The stamps (`_v`, `_h`, `_d` fields) of the hashes `<prefix><id>`; absent ids left out.
pub async fn hash_stamps(redis: &RedisPool, prefix: &str, ids: &[String]) -> Result<Vec<Stamp>> {
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.cmd("HMGET")
            .arg(format!("{prefix}{id}"))
            .arg("_v")
            .arg("_h")
            .arg("_d");
    }
    let mut conn = redis.get().await?;
    let found: Vec<(Option<i64>, Option<String>, Option<String>)> =
        pipe.query_async(&mut conn).await.map_err(redis_err)?;
    Ok(ids
        .iter()
        .zip(found)
        .filter_map(|(id, (version, hash, deleted))| {
            Some(Stamp {
                id: id.clone(),
                version: version?,
                deleted: deleted.as_deref() == Some("1"),
                hash: hash.unwrap_or_default(),
            })
        })
        .collect())
}

/// Ids of live hashes under `prefix`, a SCAN page at a time (the cursor is SCAN's own; SCAN may
/// return a key twice, which the checker tolerates).
pub async fn hash_live_ids(
    redis: &RedisPool,
    prefix: &str,
    after: Option<String>,
    limit: usize,
) -> Result<(Vec<String>, Option<String>)> {
    let cursor = after.unwrap_or_else(|| "0".to_string());
    let mut conn = redis.get().await?;
    let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(&cursor)
        .arg("MATCH")
        .arg(format!("{}*", glob_escape(prefix)))
        .arg("COUNT")
        .arg(limit.max(10))
        .query_async(&mut conn)
        .await
        .map_err(redis_err)?;
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("HGET").arg(k).arg("_d");
    }
    let flags: Vec<Option<String>> = if keys.is_empty() {
        Vec::new()
    } else {
        pipe.query_async(&mut conn).await.map_err(redis_err)?
    };
    let live = keys
        .iter()
        .zip(flags)
        .filter(|(_, d)| d.as_deref() != Some("1"))
        .filter_map(|(k, _)| k.strip_prefix(prefix).map(str::to_string))
        .collect();
    Ok((live, (next != "0").then_some(next)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(super::glob_escape("t:a*b?[c]\\:"), "t:a\\*b\\?\\[c\\]\\\\:");
    }
}
