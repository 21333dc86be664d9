//! Checks, repairs and rebuilds as stored records. They live in Redis under the service's
//! prefix, so whichever instance the control plane asks can report, list or cancel an operation
//! another instance runs; the latest finished one per projection is remembered for status.
//!
//! Keys (under the service's Redis prefix):
//! - `sync:operation:{id}`: the encoded `Operation`, expiring a week after its last save.
//! - `sync:operations`: a sorted set of ids, all with score 0, so it is ordered by id; ids are
//!   UUIDv7 (time-ordered), so reading it backwards lists the newest first (AIP-151
//!   `ListOperations`). It keeps the newest [`MAX_LISTED`]; records pushed out are deleted.
//! - `sync:operation:{id}:cancel`: set by `CancelOperation`; the instance running the operation
//!   looks for it at each batch boundary (cooperative cancellation, whichever instance runs it).

use std::time::Duration;

use prost::Message;
use talentmesh_proto::sync::v1::{Operation, OperationState};

use crate::{Error, RedisPool, Result};

/// Operations are forgotten a week after their last save.
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// At most this many operations are listed and kept; older ones are deleted when a new one is
/// created, so a service that checks every minute still keeps a bounded set.
pub(crate) const MAX_LISTED: usize = 1000;
/// Ids read from the index per round trip while listing.
const LIST_BATCH: usize = 200;

#[derive(Clone)]
pub(crate) struct Operations {
    redis: RedisPool,
}

fn redis_err(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

fn decode(raw: &[u8]) -> Result<Operation> {
    Operation::decode(raw).map_err(|e| Error::Redis(format!("stored operation unreadable: {e}")))
}

/// The id of `operations/{id}`.
fn id_of(op: &Operation) -> &str {
    op.name.trim_start_matches("operations/")
}

/// Parses a `ListOperations` filter: empty, or `state = X` where X is an `OperationState` name
/// with or without its `OPERATION_STATE_` prefix (AIP-160 subset). `Err` says why it is refused.
pub(crate) fn parse_state_filter(filter: &str) -> std::result::Result<Option<i32>, String> {
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(None);
    }
    let refused = || "must be empty or `state = RUNNING|SUCCEEDED|FAILED|CANCELLED`".to_string();
    let (field, value) = filter.split_once('=').ok_or_else(refused)?;
    if field.trim() != "state" {
        return Err(refused());
    }
    let value = value.trim().trim_matches('"').to_ascii_uppercase();
    let full = if value.starts_with("OPERATION_STATE_") {
        value
    } else {
        format!("OPERATION_STATE_{value}")
    };
    match OperationState::from_str_name(&full) {
        Some(OperationState::Unspecified) | None => Err(refused()),
        Some(state) => Ok(Some(state as i32)),
    }
}

impl Operations {
    pub(crate) fn new(redis: RedisPool) -> Operations {
        Operations { redis }
    }

    fn key(&self, id: &str) -> String {
        self.redis.key(&format!("sync:operation:{id}"))
    }

    fn cancel_key(&self, id: &str) -> String {
        self.redis.key(&format!("sync:operation:{id}:cancel"))
    }

    fn index_key(&self) -> String {
        self.redis.key("sync:operations")
    }

    fn last_key(&self, projection: &str) -> String {
        self.redis.key(&format!("sync:last:{projection}"))
    }

    /// Saves a new operation and lists it; trims the list (and deletes the records pushed out)
    /// to the newest [`MAX_LISTED`].
    pub(crate) async fn create(&self, op: &Operation) -> Result<()> {
        let id = id_of(op);
        let mut conn = self.redis.get().await?;
        let (listed,): (usize,) = redis::pipe()
            .cmd("SET")
            .arg(self.key(id))
            .arg(op.encode_to_vec())
            .arg("EX")
            .arg(KEEP.as_secs())
            .ignore()
            .cmd("ZADD")
            .arg(self.index_key())
            .arg(0)
            .arg(id)
            .ignore()
            .cmd("ZCARD")
            .arg(self.index_key())
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        if listed > MAX_LISTED {
            let excess = listed - MAX_LISTED;
            let old: Vec<String> = redis::cmd("ZRANGE")
                .arg(self.index_key())
                .arg(0)
                .arg(excess - 1)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            if !old.is_empty() {
                let mut pipe = redis::pipe();
                pipe.cmd("ZREM").arg(self.index_key()).arg(&old).ignore();
                for id in &old {
                    pipe.cmd("DEL")
                        .arg(self.key(id))
                        .arg(self.cancel_key(id))
                        .ignore();
                }
                pipe.query_async::<()>(&mut conn).await.map_err(redis_err)?;
            }
        }
        Ok(())
    }

    pub(crate) async fn save(&self, op: &Operation) -> Result<()> {
        let mut conn = self.redis.get().await?;
        redis::cmd("SET")
            .arg(self.key(id_of(op)))
            .arg(op.encode_to_vec())
            .arg("EX")
            .arg(KEEP.as_secs())
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    /// Saves the progress of a running operation and answers whether it was asked to stop, in
    /// one round trip: what a batch boundary costs.
    pub(crate) async fn save_progress(&self, op: &Operation) -> Result<bool> {
        let id = id_of(op);
        let mut conn = self.redis.get().await?;
        let (cancel,): (bool,) = redis::pipe()
            .cmd("SET")
            .arg(self.key(id))
            .arg(op.encode_to_vec())
            .arg("EX")
            .arg(KEEP.as_secs())
            .ignore()
            .cmd("EXISTS")
            .arg(self.cancel_key(id))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(cancel)
    }

    /// Asks the instance running operation `id` to stop at its next batch boundary.
    pub(crate) async fn request_cancel(&self, id: &str) -> Result<()> {
        let mut conn = self.redis.get().await?;
        redis::cmd("SET")
            .arg(self.cancel_key(id))
            .arg(1)
            .arg("EX")
            .arg(KEEP.as_secs())
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)
    }

    /// Remembers `op` as the latest finished operation of each of its projections.
    pub(crate) async fn finish(&self, op: &Operation) -> Result<()> {
        self.save(op).await?;
        let mut pipe = redis::pipe();
        for p in &op.projections {
            pipe.cmd("SET")
                .arg(self.last_key(&p.projection))
                .arg(op.encode_to_vec())
                .ignore();
        }
        let mut conn = self.redis.get().await?;
        pipe.query_async::<()>(&mut conn).await.map_err(redis_err)
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Operation>> {
        let mut conn = self.redis.get().await?;
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.key(id))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        raw.map(|b| decode(&b)).transpose()
    }

    /// Up to `size` operations older than the one with id `before` (all when `None`), newest
    /// first, only those in `state` when given. The second value is true when more may follow.
    /// Ids whose record expired are dropped from the index on the way.
    pub(crate) async fn list(
        &self,
        before: Option<&str>,
        size: usize,
        state: Option<i32>,
    ) -> Result<(Vec<Operation>, bool)> {
        let mut conn = self.redis.get().await?;
        let mut found = Vec::with_capacity(size);
        let mut max = before.map_or_else(|| "+".to_string(), |id| format!("({id}"));
        loop {
            let ids: Vec<String> = redis::cmd("ZREVRANGEBYLEX")
                .arg(self.index_key())
                .arg(&max)
                .arg("-")
                .arg("LIMIT")
                .arg(0)
                .arg(LIST_BATCH)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            let Some(last) = ids.last() else {
                return Ok((found, false));
            };
            max = format!("({last}");
            let keys: Vec<String> = ids.iter().map(|id| self.key(id)).collect();
            let raws: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            let mut expired = Vec::new();
            for (id, raw) in ids.iter().zip(raws) {
                let Some(raw) = raw else {
                    expired.push(id.clone());
                    continue;
                };
                let op = decode(&raw)?;
                if state.is_some_and(|s| s != op.state) {
                    continue;
                }
                if found.len() == size {
                    return Ok((found, true));
                }
                found.push(op);
            }
            if !expired.is_empty() {
                redis::cmd("ZREM")
                    .arg(self.index_key())
                    .arg(&expired)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_err)?;
            }
            if ids.len() < LIST_BATCH {
                return Ok((found, false));
            }
        }
    }

    pub(crate) async fn last(&self, projection: &str) -> Result<Option<Operation>> {
        let mut conn = self.redis.get().await?;
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.last_key(projection))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(raw.and_then(|b| Operation::decode(b.as_slice()).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_state_filter;
    use talentmesh_proto::sync::v1::OperationState;

    #[test]
    fn state_filters_take_short_and_full_names() {
        assert_eq!(parse_state_filter(""), Ok(None));
        assert_eq!(
            parse_state_filter("state = running"),
            Ok(Some(OperationState::Running as i32))
        );
        assert_eq!(
            parse_state_filter("state=OPERATION_STATE_CANCELLED"),
            Ok(Some(OperationState::Cancelled as i32))
        );
        assert!(parse_state_filter("state = UNSPECIFIED").is_err());
        assert!(parse_state_filter("kind = CHECK").is_err());
        assert!(parse_state_filter("RUNNING").is_err());
    }
}
