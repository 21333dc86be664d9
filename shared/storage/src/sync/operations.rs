//! Checks, repairs and rebuilds as stored records. They live in Redis under the service's
//! prefix, so whichever instance the control plane asks can report, list or cancel an operation
//! another instance runs; the latest finished one per projection is remembered for status.
//!
//! Keys (under the service's Redis prefix):
//! - `sync:operation:{id}`: the encoded `Operation`, expiring a week after its last save.
//! - `sync:operations`: a sorted set of ids, all with score 0, so it is ordered by id; ids are
//!   UUIDv7 (time-ordered), so reading it backwards lists the newest first (AIP-151
//!   `ListOperations`). It keeps the newest [`MAX_LISTED`]; records pushed out are deleted.
//!   Records written before the index existed (and before `done`) are added to it when they are
//!   read by id or as a projection's latest operation ([`Operations::get`], [`Operations::last`]):
//!   the next listing then shows them. They carry no `done`; every read derives it from the state.
//! - `sync:operation:{id}:cancel`: set by `CancelOperation`; the instance running the operation
//!   looks for it at each batch boundary (cooperative cancellation, whichever instance runs it).
//!   Reads show it at once as `cancel_requested`, and [`Operations::finish`] stores it with the
//!   final record, so the request is visible before the next batch boundary and after the end.

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

/// Whether `state` (an `OperationState`) is final: SUCCEEDED, FAILED or CANCELLED.
fn terminal(state: i32) -> bool {
    matches!(
        OperationState::try_from(state),
        Ok(OperationState::Succeeded | OperationState::Failed | OperationState::Cancelled)
    )
}

/// Decodes a stored operation. `done` is derived from the state, so a record written before
/// the field existed reads as finished when it is ([`legacy`] tells such records apart); so is
/// `cancel_requested` for a CANCELLED one.
fn decode(raw: &[u8]) -> Result<Operation> {
    let mut op = Operation::decode(raw)
        .map_err(|e| Error::Redis(format!("stored operation unreadable: {e}")))?;
    op.done = op.done || terminal(op.state);
    // Only CancelOperation ends an operation CANCELLED; its flag may expire before the record.
    op.cancel_requested |= op.state == OperationState::Cancelled as i32;
    Ok(op)
}

/// Whether the stored bytes `raw` of a finished operation lack `done`: a record of the version
/// before AIP-151 `ListOperations`, which never put it in the index.
fn legacy(raw: &[u8]) -> bool {
    Operation::decode(raw).is_ok_and(|op| !op.done && terminal(op.state))
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
    /// The record is saved with `cancel_requested` set when a cancel was asked (an operation
    /// that finished before its next batch boundary keeps its own state and shows the request).
    pub(crate) async fn finish(&self, op: &Operation) -> Result<()> {
        let mut op = op.clone();
        let mut conn = self.redis.get().await?;
        let asked: bool = redis::cmd("EXISTS")
            .arg(self.cancel_key(id_of(&op)))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        op.cancel_requested |= asked;
        let op = &op;
        self.save(op).await?;
        let mut pipe = redis::pipe();
        for p in &op.projections {
            pipe.cmd("SET")
                .arg(self.last_key(&p.projection))
                .arg(op.encode_to_vec())
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await.map_err(redis_err)
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Operation>> {
        let mut conn = self.redis.get().await?;
        let (raw, asked): (Option<Vec<u8>>, bool) = redis::pipe()
            .cmd("GET")
            .arg(self.key(id))
            .cmd("EXISTS")
            .arg(self.cancel_key(id))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        if legacy(&raw) {
            self.index_existing(&mut conn, id).await?;
        }
        let mut op = decode(&raw)?;
        op.cancel_requested |= asked;
        Ok(Some(op))
    }

    /// Lists operation `id` if its record still exists: for a record written before the index.
    /// Its id sorts among the others by time, so it lands where it belongs; the next
    /// [`Self::create`] trims the index back to [`MAX_LISTED`] if it grew past it.
    async fn index_existing(&self, conn: &mut deadpool_redis::Connection, id: &str) -> Result<()> {
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.key(id))
            .query_async(&mut *conn)
            .await
            .map_err(redis_err)?;
        if exists {
            redis::cmd("ZADD")
                .arg(self.index_key())
                .arg(0)
                .arg(id)
                .query_async::<()>(&mut *conn)
                .await
                .map_err(redis_err)?;
        }
        Ok(())
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
            // Each record and its cancel flag, in one MGET: records first, then flags.
            let keys: Vec<String> = ids
                .iter()
                .map(|id| self.key(id))
                .chain(ids.iter().map(|id| self.cancel_key(id)))
                .collect();
            let mut raws: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            let asked: Vec<bool> = raws
                .split_off(ids.len())
                .iter()
                .map(Option::is_some)
                .collect();
            let mut expired = Vec::new();
            for ((id, raw), asked) in ids.iter().zip(raws).zip(asked) {
                let Some(raw) = raw else {
                    expired.push(id.clone());
                    continue;
                };
                let mut op = decode(&raw)?;
                op.cancel_requested |= asked;
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

    /// The latest finished operation of `projection`, if any; one written before the index is
    /// listed on the way (while its record lasts).
    pub(crate) async fn last(&self, projection: &str) -> Result<Option<Operation>> {
        let mut conn = self.redis.get().await?;
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.last_key(projection))
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let Some(op) = raw.as_deref().and_then(|b| decode(b).ok()) else {
            return Ok(None);
        };
        if raw.as_deref().is_some_and(legacy) {
            self.index_existing(&mut conn, id_of(&op)).await?;
        }
        Ok(Some(op))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use prost::Message;
    use talentmesh_proto::sync::v1::{Operation, OperationState};

    use super::{decode, legacy, parse_state_filter};

    #[test]
    fn done_is_derived_from_the_state_for_records_without_it() {
        let stored = |state: OperationState, done: bool| {
            Operation {
                name: "operations/x".into(),
                state: state as i32,
                done,
                ..Default::default()
            }
            .encode_to_vec()
        };
        for state in [
            OperationState::Succeeded,
            OperationState::Failed,
            OperationState::Cancelled,
        ] {
            let old = stored(state, false);
            assert!(decode(&old).unwrap().done, "{state:?}");
            assert!(legacy(&old), "{state:?}");
            assert!(!legacy(&stored(state, true)), "{state:?}");
        }
        let running = stored(OperationState::Running, false);
        assert!(!decode(&running).unwrap().done);
        assert!(!legacy(&running));
    }

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
