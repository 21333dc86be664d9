//! The transactional outbox: the write half of the data-sync framework.
//!
//! A service changes an entity and records the domain event in the same MySQL transaction, so
//! either both are stored or neither is; nothing acknowledged to a caller can lose its event, and
//! no event describes a change that never committed. [`Outbox::record`] wraps the event in the
//! `talentmesh.events.v1.Envelope` and inserts it as an `outbox` row; [`VersionedUpdate`] is the
//! one way to change an entity row (a stale version is a [`Conflict`], never a lost update); and
//! the [`Relay`] publishes committed rows to the service's Redis Stream, where projectors and
//! other services consume them.
//!
//! The `outbox` table belongs to the framework, not to the service: [`Outbox::install`] creates it
//! at start, so a service's own migrations never mention it.

mod group_commit;
mod lease;
mod record;
mod relay;
mod retention;
mod versioned;

pub use group_commit::{GroupCommit, WriteBatch};
pub use record::{EventDraft, Outbox, RecordedEvent, OUTBOX_TABLE};
pub use relay::{Relay, RelayConfig, RelayHandle, RelayMetrics, EPOCH_SUFFIX, STREAM_SUFFIX};
pub use versioned::{Conflict, VersionedUpdate};
