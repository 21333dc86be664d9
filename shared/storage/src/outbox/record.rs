//! Recording an event inside the caller's transaction: the envelope is built here (id, source,
//! time) so every service fills it the same way, and the row only becomes visible to the relay
//! when the caller commits.

use prost::Message;
use sqlx::{MySql, MySqlPool, Transaction};
use talentmesh_proto::events::v1::Envelope;
use uuid::Uuid;

use crate::{Error, Result};

/// Name of the framework's table in every service database.
pub const OUTBOX_TABLE: &str = "outbox";

/// `published_at` stays NULL until the relay has put the row on the stream; the relay selects
/// on it (never on `id > last seen`, which skips rows whose transaction committed late), and the
/// `(published_at, id)` index makes that an index range scan in id order.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS outbox (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id CHAR(36) NOT NULL,
    event_type VARCHAR(255) NOT NULL,
    subject VARCHAR(512) NOT NULL,
    entity_version BIGINT NOT NULL,
    envelope LONGBLOB NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    published_at DATETIME(6) NULL,
    KEY outbox_unpublished (published_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

/// A domain event before it is wrapped and stored.
#[derive(Debug, Clone)]
pub struct EventDraft {
    /// Full name of the payload message, e.g. `talentmesh.events.v1.UserRegistered`.
    pub event_type: String,
    /// Resource name of the entity, e.g. `users/0190…`.
    pub subject: String,
    /// Version of the entity after this change; projections drop anything older.
    pub entity_version: i64,
    pub payload: prost_types::Any,
    /// W3C trace context of the request that made the change (empty when there is none).
    pub traceparent: String,
    pub tracestate: String,
}

/// What was stored: the row id orders the relay, the event id identifies the event downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub row_id: i64,
    pub event_id: Uuid,
}

/// Records events for one service (the envelope's `source`).
#[derive(Debug, Clone)]
pub struct Outbox {
    source: String,
}

impl Outbox {
    pub fn new(source: impl Into<String>) -> Outbox {
        Outbox {
            source: source.into(),
        }
    }

    /// Creates the `outbox` table if missing. Idempotent; call it at start after the service's
    /// own migrations.
    pub async fn install(pool: &MySqlPool) -> Result<()> {
        sqlx::query(CREATE_TABLE)
            .execute(pool)
            .await
            .map_err(Error::MySql)?;
        Ok(())
    }

    /// Inserts several events with one statement as part of `tx` (a group commit's batch);
    /// returns their event ids in order.
    pub async fn record_many(
        &self,
        tx: &mut Transaction<'_, MySql>,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<Uuid>> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = Vec::with_capacity(drafts.len());
        for draft in drafts {
            rows.push(self.envelope_row(draft)?);
        }
        let ids = rows.iter().map(|r| r.0).collect();
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO outbox (event_id, event_type, subject, entity_version, envelope, \
             created_at) ",
        );
        // The time comes from here, bound as DATETIME (the column's default is the server's
        // TIMESTAMP-range clock; see `crate::time`).
        let at = crate::time::datetime(crate::time::now());
        q.push_values(
            rows,
            |mut b, (id, event_type, subject, version, envelope)| {
                b.push_bind(id.to_string())
                    .push_bind(event_type)
                    .push_bind(subject)
                    .push_bind(version)
                    .push_bind(envelope)
                    .push_bind(at);
            },
        );
        q.build().execute(&mut **tx).await.map_err(Error::MySql)?;
        Ok(ids)
    }

    /// Checks a draft and wraps it: (event id, type, subject, version, encoded envelope).
    fn envelope_row(&self, draft: EventDraft) -> Result<(Uuid, String, String, i64, Vec<u8>)> {
        if draft.event_type.is_empty() || draft.subject.is_empty() {
            return Err(Error::InvalidEvent(
                "an event needs a type and a subject".into(),
            ));
        }
        let event_id = Uuid::now_v7();
        // The envelope carries the context of the event's producer span (a child of the
        // request that made the change), so consumers continue the same trace.
        let (traceparent, tracestate) = talentmesh_mesh::telemetry::event_created(
            &draft.traceparent,
            &draft.tracestate,
            &draft.event_type,
            &self.source,
            &event_id.to_string(),
        );
        let envelope = Envelope {
            id: event_id.to_string(),
            r#type: draft.event_type.clone(),
            source: self.source.clone(),
            subject: draft.subject.clone(),
            entity_version: draft.entity_version,
            time: Some(talentmesh_mesh::time::now()),
            traceparent,
            tracestate,
            payload: Some(draft.payload),
        };
        Ok((
            event_id,
            draft.event_type,
            draft.subject,
            draft.entity_version,
            envelope.encode_to_vec(),
        ))
    }

    /// Inserts the event into the outbox as part of `tx`. It is published only if `tx` commits.
    pub async fn record(
        &self,
        tx: &mut Transaction<'_, MySql>,
        draft: EventDraft,
    ) -> Result<RecordedEvent> {
        let (event_id, event_type, subject, entity_version, envelope) = self.envelope_row(draft)?;
        let done = sqlx::query(
            "INSERT INTO outbox (event_id, event_type, subject, entity_version, envelope) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(event_id.to_string())
        .bind(event_type)
        .bind(subject)
        .bind(entity_version)
        .bind(envelope)
        .execute(&mut **tx)
        .await
        .map_err(Error::MySql)?;
        let row_id = i64::try_from(done.last_insert_id())
            .map_err(|_| Error::InvalidEvent("outbox id out of range".into()))?;
        Ok(RecordedEvent { row_id, event_id })
    }
}
