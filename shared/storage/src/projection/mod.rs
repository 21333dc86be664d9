//! Projections: derived views of a service's entities in PostgreSQL, Neo4j or Redis, fed by the
//! service's events and rebuilt or repaired from MySQL.
//!
//! Events carry the entity's whole state after the change (event-carried state transfer), so a
//! projection never needs earlier events to apply a later one, and the same [`Change`] comes out
//! of an event and out of a MySQL row. Every projected record keeps the entity's `version` and a
//! hash of its state; a write only lands when its version is newer than the stored one. That
//! makes duplicates, replays and out-of-order deliveries harmless, and lets the checker
//! (`crate::sync`) compare a projection with MySQL by id, version and hash.
//!
//! Deletes are tombstones (the record stays with `deleted` set and its version) so an older
//! upsert arriving after the delete cannot bring the entity back.
//!
//! Ready-made projections: [`PgDocuments`] (a JSONB document table the service extends with
//! generated columns and indexes), [`Neo4jNodes`] (one node per entity, plus optional Cypher for
//! its relationships), [`RedisHashes`] (one hash per entity). The MySQL side of an entity type,
//! the truth they are checked against, is a [`Source`]; [`MySqlSource`] is the usual one.

mod mysql_source;
mod neo4j;
mod postgres;
mod redis_hash;

use std::sync::Arc;

use sha2::{Digest, Sha256};
use talentmesh_proto::events::v1::Envelope;

use crate::bus::{Event, Handler, HandlerError};
use crate::Result;

pub use mysql_source::{LoadChanges, MySqlSource, RowLoader};
pub use neo4j::Neo4jNodes;
pub use postgres::{table_live_ids, table_stamps, PgDocuments};
pub use redis_hash::{hash_live_ids, hash_stamps, run_scripted, RedisHashes};

/// The state of one entity at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: String,
    pub version: i64,
    pub deleted: bool,
    /// The entity's canonical encoding (its protobuf message); empty when deleted.
    pub state: Vec<u8>,
}

impl Change {
    /// Hash of the state, stored beside each projected record; "" for a tombstone.
    pub fn content_hash(&self) -> String {
        if self.deleted {
            return String::new();
        }
        let digest = Sha256::digest(&self.state);
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a projection holds for one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub id: String,
    pub version: i64,
    pub deleted: bool,
    pub hash: String,
}

/// The store a projection writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    MySql,
    Postgres,
    Neo4j,
    Redis,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::MySql => "mysql",
            StoreKind::Postgres => "postgres",
            StoreKind::Neo4j => "neo4j",
            StoreKind::Redis => "redis",
        }
    }
}

/// What [`Projection::install`] found in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// The records held are as the projection writes them now (or drift only a check finds).
    Current,
    /// Some records are known to be stale (e.g. written in an older form) and need a repair.
    NeedsRepair,
}

/// A derived view of one entity type in one store.
#[tonic::async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Unique within the service; also the name of its consumer group.
    fn name(&self) -> &str;
    fn store(&self) -> StoreKind;
    /// The entity type it projects (matches a [`Source`]).
    fn entity_type(&self) -> &str;
    /// Creates tables, indexes or constraints it needs. Idempotent. Says whether records it
    /// holds must be re-projected from the source (e.g. marked stale by a change of the form
    /// they are stored in); the sync runtime then repairs this projection as soon as it runs,
    /// rather than at the next scheduled check (which may be off).
    async fn install(&self) -> Result<Installed> {
        Ok(Installed::Current)
    }
    /// Writes `changes` (at most one per id), each only if newer than what is stored.
    async fn apply(&self, changes: &[Change]) -> Result<()>;
    /// What is stored for `ids` (tombstones included; absent ids left out).
    async fn stamps(&self, ids: &[String]) -> Result<Vec<Stamp>>;
    /// Ids of live (not deleted) records after `after`, in the projection's own order, and the
    /// cursor for the next page (None at the end).
    async fn live_ids(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>)>;
    /// Removes records outright (orphans whose entity is not in MySQL at all).
    async fn remove(&self, ids: &[String]) -> Result<()>;
}

/// The MySQL side of an entity type: the truth projections are compared with and rebuilt from.
#[tonic::async_trait]
pub trait Source: Send + Sync + 'static {
    fn entity_type(&self) -> &str;
    /// Entities (soft-deleted ones as tombstones) with id greater than `after`, by id.
    async fn page(&self, after: Option<&str>, limit: usize) -> Result<Vec<Change>>;
    /// The current state of `ids` (absent ids left out).
    async fn load(&self, ids: &[String]) -> Result<Vec<Change>>;
    /// How many entities there are (progress only; may be approximate).
    async fn count(&self) -> Result<i64>;
}

/// Turns an event into the change it carries: `Ok(None)` for events this entity type ignores,
/// `Err` for an event that claims to be one but cannot be read (a poison event).
pub type ChangeOf =
    Arc<dyn Fn(&Envelope) -> std::result::Result<Option<Change>, String> + Send + Sync>;

/// A [`ChangeOf`] for events of type `event_type` whose payload is the message `E`: other
/// event types give `Ok(None)`; an event of this type without a payload, or whose payload does
/// not decode as `E`, is a poison event (`Err`, named); otherwise `read` turns the message into
/// the change (its `Err` is a poison event too, e.g. a malformed resource name).
///
/// ```ignore
/// change_of_event("talentmesh.job.v1.JobChanged", |e: pb::JobChanged| {
///     let job = e.job.ok_or("JobChanged without a job")?;
///     Ok(change_of_job(&job))
/// })
/// ```
pub fn change_of_event<E>(
    event_type: &'static str,
    read: impl Fn(E) -> std::result::Result<Change, String> + Send + Sync + 'static,
) -> ChangeOf
where
    E: prost::Message + Default,
{
    Arc::new(move |envelope| {
        if envelope.r#type != event_type {
            return Ok(None);
        }
        let payload = envelope
            .payload
            .as_ref()
            .ok_or_else(|| format!("{event_type} has no payload"))?;
        let event = E::decode(payload.value.as_slice())
            .map_err(|e| format!("undecodable {event_type}: {e}"))?;
        read(event).map(Some)
    })
}

/// `value` with what a derived store cannot hold taken out: U+0000 in every string and object
/// key. PostgreSQL refuses it in `text` and `jsonb` (`\u0000` cannot be converted to text), so
/// a document holding one would fail its write on every delivery and end as a dead letter,
/// though nothing is wrong with the event. Services refuse control characters at their
/// boundary (`talentmesh_text::check_text`); this is the projection side's guard for what got
/// in before, or through a path without that check. The stored content hash stays the
/// entity's, so the checker does not see the stripped record as drift.
pub fn storable_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    fn strip(s: String) -> String {
        if s.contains('\0') {
            s.replace('\0', "")
        } else {
            s
        }
    }
    match value {
        Value::String(s) => Value::String(strip(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(storable_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (strip(k), storable_json(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Keeps the newest change per id, in first-seen order: a batch may hold several versions of
/// one entity, and a single multi-row write may touch a row only once.
pub fn newest_per_id(changes: Vec<Change>) -> Vec<Change> {
    let mut order: Vec<String> = Vec::new();
    let mut newest: std::collections::HashMap<String, Change> = std::collections::HashMap::new();
    for c in changes {
        match newest.get(&c.id) {
            Some(kept) if kept.version >= c.version => {}
            Some(_) => {
                newest.insert(c.id.clone(), c);
            }
            None => {
                order.push(c.id.clone());
                newest.insert(c.id.clone(), c);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| newest.remove(&id))
        .collect()
}

/// The consumer-group handler of one projection.
pub struct Projector {
    projection: Arc<dyn Projection>,
    change_of: ChangeOf,
}

impl Projector {
    pub fn new(projection: Arc<dyn Projection>, change_of: ChangeOf) -> Projector {
        Projector {
            projection,
            change_of,
        }
    }
}

#[tonic::async_trait]
impl Handler for Projector {
    async fn handle(&self, events: &[Event]) -> std::result::Result<(), HandlerError> {
        let mut changes = Vec::with_capacity(events.len());
        for event in events {
            match (self.change_of)(&event.envelope) {
                Ok(Some(change)) => changes.push(change),
                Ok(None) => {}
                Err(e) => {
                    return Err(HandlerError::Permanent(format!(
                        "event {} ({}): {e}",
                        event.envelope.id, event.envelope.r#type
                    )))
                }
            }
        }
        let changes = newest_per_id(changes);
        if changes.is_empty() {
            return Ok(());
        }
        self.projection.apply(&changes).await.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, version: i64) -> Change {
        Change {
            id: id.into(),
            version,
            deleted: false,
            state: vec![version as u8],
        }
    }

    #[test]
    fn change_of_event_reads_its_type_and_names_poison() {
        use prost::Message;
        let read = change_of_event("t.Ticked", |d: prost_types::Duration| {
            if d.seconds < 0 {
                return Err("negative".to_string());
            }
            Ok(change("a", d.seconds))
        });
        let envelope = |kind: &str, payload: Option<Vec<u8>>| Envelope {
            r#type: kind.into(),
            payload: payload.map(|value| prost_types::Any {
                type_url: String::new(),
                value,
            }),
            ..Default::default()
        };
        let good = prost_types::Duration {
            seconds: 7,
            nanos: 0,
        };
        assert_eq!(
            read(&envelope("t.Ticked", Some(good.encode_to_vec()))),
            Ok(Some(change("a", 7)))
        );
        assert_eq!(read(&envelope("t.Other", None)), Ok(None));
        assert!(read(&envelope("t.Ticked", None)).is_err());
        assert!(read(&envelope("t.Ticked", Some(vec![0xff, 0xff]))).is_err());
        let negative = prost_types::Duration {
            seconds: -1,
            nanos: 0,
        };
        assert_eq!(
            read(&envelope("t.Ticked", Some(negative.encode_to_vec()))),
            Err("negative".to_string())
        );
    }

    #[test]
    fn newest_per_id_keeps_the_highest_version_in_first_seen_order() {
        let kept = newest_per_id(vec![
            change("a", 2),
            change("b", 1),
            change("a", 1),
            change("a", 3),
        ]);
        assert_eq!(kept, vec![change("a", 3), change("b", 1)]);
    }

    #[test]
    fn nul_is_taken_out_of_strings_and_keys_at_any_depth() {
        let doc = serde_json::json!({
            "t\u{0}itle": "a\u{0}b",
            "tags": ["x\u{0}", "y"],
            "nested": {"n": 1, "s": "\u{0}"},
            "ok": true
        });
        assert_eq!(
            storable_json(doc),
            serde_json::json!({
                "title": "ab",
                "tags": ["x", "y"],
                "nested": {"n": 1, "s": ""},
                "ok": true
            })
        );
    }

    #[test]
    fn tombstones_hash_to_empty_and_states_differ() {
        let mut gone = change("a", 4);
        gone.deleted = true;
        assert_eq!(gone.content_hash(), "");
        assert_ne!(change("a", 1).content_hash(), change("a", 2).content_hash());
        assert_eq!(change("a", 1).content_hash().len(), 32);
    }
}
