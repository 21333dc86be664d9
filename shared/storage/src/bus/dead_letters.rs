//! The dead-letter stream of a service: events a consumer group gave up on after its deliveries
//! ran out, with the last error. Entries keep the whole original entry, so a replay can run the
//! group's handler on it once the cause is fixed.

use std::collections::HashMap;

use redis::Value;

use super::entries::{parse_entry_list, RawEntry};
use crate::{Error, RedisPool, Result};

/// Key of the dead-letter stream under the service's prefix.
pub const DEAD_LETTER_SUFFIX: &str = "events:dead";

/// A dead letter as stored.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: String,
    pub group: String,
    pub stream: String,
    pub entry_id: String,
    pub error: String,
    pub deliveries: u64,
    /// The original entry's fields (id, type, subject, version, envelope).
    pub fields: HashMap<String, Vec<u8>>,
}

impl DeadLetter {
    pub fn field(&self, name: &str) -> String {
        self.fields
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    }

    /// When it was dead-lettered (milliseconds since the epoch, from its stream id).
    pub fn dead_millis(&self) -> i64 {
        super::entries::id_millis(&self.id).unwrap_or(0)
    }

    fn from_raw(raw: RawEntry) -> Option<DeadLetter> {
        let mut fields = raw.fields?;
        let mut take = |k: &str| {
            fields
                .remove(k)
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default()
        };
        let group = take("dl_group");
        let stream = take("dl_stream");
        let entry_id = take("dl_entry");
        let error = take("dl_error");
        let deliveries = take("dl_deliveries").parse().unwrap_or(0);
        Some(DeadLetter {
            id: raw.id,
            group,
            stream,
            entry_id,
            error,
            deliveries,
            fields,
        })
    }
}

#[derive(Clone)]
pub struct DeadLetters {
    redis: RedisPool,
    key: String,
}

impl DeadLetters {
    pub fn new(redis: RedisPool) -> DeadLetters {
        let key = redis.key(DEAD_LETTER_SUFFIX);
        DeadLetters { redis, key }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Adds a dead letter and acknowledges the original entry in one MULTI, so the entry is
    /// never both gone from the group and missing from the dead letters.
    pub(crate) async fn bury(
        &self,
        stream: &str,
        group: &str,
        entry: &RawEntry,
        error: &str,
        deliveries: u64,
        errors_key: &str,
    ) -> Result<()> {
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&self.key)
            .arg("*")
            .arg("dl_group")
            .arg(group)
            .arg("dl_stream")
            .arg(stream)
            .arg("dl_entry")
            .arg(&entry.id)
            .arg("dl_error")
            .arg(error)
            .arg("dl_deliveries")
            .arg(deliveries);
        if let Some(fields) = &entry.fields {
            for (k, v) in fields {
                xadd.arg(k).arg(v.as_slice());
            }
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .add_command(xadd)
            .ignore()
            .cmd("XACK")
            .arg(stream)
            .arg(group)
            .arg(&entry.id)
            .ignore()
            .cmd("HDEL")
            .arg(errors_key)
            .arg(&entry.id)
            .ignore();
        let mut conn = self.redis.get().await?;
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| Error::Redis(e.to_string()))
    }

    pub async fn count(&self) -> Result<i64> {
        let mut conn = self.redis.get().await?;
        redis::cmd("XLEN")
            .arg(&self.key)
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::Redis(e.to_string()))
    }

    /// Up to `limit` dead letters after `after` (exclusive; None from the start), oldest first.
    pub async fn list(&self, after: Option<&str>, limit: usize) -> Result<Vec<DeadLetter>> {
        let start = after.map_or_else(|| "-".to_string(), |a| format!("({a}"));
        let mut conn = self.redis.get().await?;
        let reply: Value = redis::cmd("XRANGE")
            .arg(&self.key)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::Redis(e.to_string()))?;
        Ok(parse_entry_list(&reply)
            .into_iter()
            .filter_map(DeadLetter::from_raw)
            .collect())
    }

    /// The named dead letters that exist.
    pub async fn get(&self, ids: &[String]) -> Result<Vec<DeadLetter>> {
        let mut out = Vec::new();
        let mut conn = self.redis.get().await?;
        for id in ids {
            let reply: Value = redis::cmd("XRANGE")
                .arg(&self.key)
                .arg(id)
                .arg(id)
                .query_async(&mut conn)
                .await
                .map_err(|e| Error::Redis(e.to_string()))?;
            out.extend(
                parse_entry_list(&reply)
                    .into_iter()
                    .filter_map(DeadLetter::from_raw),
            );
        }
        Ok(out)
    }

    /// Every dead letter (for "replay all" / "discard all").
    pub async fn all(&self) -> Result<Vec<DeadLetter>> {
        let mut out: Vec<DeadLetter> = Vec::new();
        loop {
            let page = self.list(out.last().map(|d| d.id.as_str()), 1000).await?;
            if page.is_empty() {
                return Ok(out);
            }
            out.extend(page);
        }
    }

    pub async fn remove(&self, ids: &[String]) -> Result<i64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut conn = self.redis.get().await?;
        redis::cmd("XDEL")
            .arg(&self.key)
            .arg(ids)
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::Redis(e.to_string()))
    }

    /// Records a replay that failed again: the entry is kept with the new error and one more
    /// delivery. Stream entries cannot be edited, so the letter is stored anew: the answer is
    /// the letter as now stored, under its new id (the one to replay or discard it by).
    pub async fn update_error(&self, letter: &DeadLetter, error: &str) -> Result<DeadLetter> {
        // Stream entries cannot be edited: add the updated letter, then delete the old one.
        let raw = RawEntry {
            id: letter.entry_id.clone(),
            fields: Some(letter.fields.clone()),
        };
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&self.key)
            .arg("*")
            .arg("dl_group")
            .arg(&letter.group)
            .arg("dl_stream")
            .arg(&letter.stream)
            .arg("dl_entry")
            .arg(&raw.id)
            .arg("dl_error")
            .arg(error)
            .arg("dl_deliveries")
            .arg(letter.deliveries + 1);
        for (k, v) in &letter.fields {
            xadd.arg(k).arg(v.as_slice());
        }
        let mut pipe = redis::pipe();
        // The XADD's reply (the new id) is the one value the transaction returns.
        pipe.atomic()
            .add_command(xadd)
            .cmd("XDEL")
            .arg(&self.key)
            .arg(&letter.id)
            .ignore();
        let mut conn = self.redis.get().await?;
        let (id,): (String,) = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::Redis(e.to_string()))?;
        Ok(DeadLetter {
            id,
            error: error.to_string(),
            deliveries: letter.deliveries + 1,
            ..letter.clone()
        })
    }
}
