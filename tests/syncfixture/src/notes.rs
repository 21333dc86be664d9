//! Notes in MySQL: every write records its `NoteChanged` event through the outbox in the same
//! transaction, and updates go through `VersionedUpdate` so a stale version is refused.

use std::sync::Arc;

use prost::Message;
use sqlx::MySqlPool;
use talentmesh_storage::outbox::{EventDraft, GroupCommit, Outbox, VersionedUpdate, WriteBatch};
use talentmesh_storage::projection::{Change, Source};
use talentmesh_storage::{Error, Result};

use crate::pb::{Note, NoteChanged};

pub const ENTITY: &str = "notes";
pub const EVENT_TYPE: &str = "talentmesh.syncfixture.v1.NoteChanged";

#[derive(Clone)]
pub struct NoteStore {
    pool: MySqlPool,
    outbox: Outbox,
    /// Creates share transactions under load (see `GroupCommit`).
    creates: GroupCommit<NewNote, Note>,
}

/// A create waiting for its group commit; the trace context is taken in the request's task.
#[derive(Clone)]
pub struct NewNote {
    title: String,
    body: String,
    tags: Vec<String>,
    traceparent: String,
}

/// Transactions in flight at once for creates, and creates per transaction at most.
const CREATE_COMMITTERS: usize = 4;
const CREATE_BATCH: usize = 64;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    version: i64,
    title: String,
    body: String,
    tags: String,
    deleted: bool,
}

impl Row {
    fn note(self) -> Note {
        Note {
            id: self.id,
            version: self.version,
            title: self.title,
            body: self.body,
            tags: serde_json::from_str(&self.tags).unwrap_or_default(),
            deleted: self.deleted,
        }
    }
}

const COLUMNS: &str = "id, version, title, body, tags, deleted";

/// The change a note's state stands for (shared by events and the checker's source, so both
/// hash identically).
pub fn change_of_note(note: &Note) -> Change {
    Change {
        id: note.id.clone(),
        version: note.version,
        deleted: note.deleted,
        state: if note.deleted {
            Vec::new()
        } else {
            note.encode_to_vec()
        },
    }
}

fn draft(note: &Note) -> EventDraft {
    draft_traced(
        note,
        talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
    )
}

fn draft_traced(note: &Note, traceparent: String) -> EventDraft {
    EventDraft {
        event_type: EVENT_TYPE.to_string(),
        subject: format!("notes/{}", note.id),
        entity_version: note.version,
        payload: prost_types::Any {
            type_url: format!("type.googleapis.com/{EVENT_TYPE}"),
            value: NoteChanged {
                note: Some(note.clone()),
            }
            .encode_to_vec(),
        },
        traceparent,
        tracestate: String::new(),
    }
}

/// Inserts a batch of new notes and their events (multi-row statements).
fn write_creates(outbox: Outbox) -> WriteBatch<NewNote, Note> {
    Arc::new(move |tx, reqs| {
        let outbox = outbox.clone();
        Box::pin(async move {
            let notes: Vec<Note> = reqs
                .iter()
                .map(|r| Note {
                    id: uuid::Uuid::now_v7().to_string(),
                    version: 1,
                    title: r.title.clone(),
                    body: r.body.clone(),
                    tags: r.tags.clone(),
                    deleted: false,
                })
                .collect();
            let mut q =
                sqlx::QueryBuilder::new("INSERT INTO notes (id, version, title, body, tags) ");
            q.push_values(notes.iter().cloned(), |mut b, n| {
                b.push_bind(n.id)
                    .push_bind(1i64)
                    .push_bind(n.title)
                    .push_bind(n.body)
                    .push_bind(tags_json(&n.tags));
            });
            q.build().execute(&mut **tx).await.map_err(Error::MySql)?;
            let drafts = notes
                .iter()
                .zip(reqs)
                .map(|(n, r)| draft_traced(n, r.traceparent.clone()))
                .collect();
            outbox.record_many(tx, drafts).await?;
            Ok(notes)
        })
    })
}

fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

impl NoteStore {
    pub fn new(pool: MySqlPool) -> NoteStore {
        let outbox = Outbox::new("syncfixture");
        NoteStore {
            creates: GroupCommit::spawn(
                pool.clone(),
                CREATE_COMMITTERS,
                CREATE_BATCH,
                write_creates(outbox.clone()),
            ),
            pool,
            outbox,
        }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Creates a note; it and its event commit together (possibly with other creates).
    pub async fn create(&self, title: &str, body: &str, tags: &[String]) -> Result<Note> {
        self.creates
            .submit(NewNote {
                title: title.to_string(),
                body: body.to_string(),
                tags: tags.to_vec(),
                traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
            })
            .await
    }

    pub async fn update(
        &self,
        id: &str,
        expected_version: i64,
        title: &str,
        body: &str,
        tags: &[String],
    ) -> Result<Note> {
        let mut tx = self.pool.begin().await.map_err(Error::MySql)?;
        let version = VersionedUpdate::new("notes")
            .set("title", title.to_string())
            .set("body", body.to_string())
            .set("tags", tags_json(tags))
            .execute(&mut tx, id.to_string(), expected_version)
            .await?;
        let note = Note {
            id: id.to_string(),
            version,
            title: title.to_string(),
            body: body.to_string(),
            tags: tags.to_vec(),
            deleted: false,
        };
        self.outbox.record(&mut tx, draft(&note)).await?;
        tx.commit().await.map_err(Error::MySql)?;
        Ok(note)
    }

    /// Soft delete: the row stays as a tombstone at a new version.
    pub async fn delete(&self, id: &str, expected_version: i64) -> Result<Note> {
        let mut tx = self.pool.begin().await.map_err(Error::MySql)?;
        let version = VersionedUpdate::new("notes")
            .set("deleted", true)
            .execute(&mut tx, id.to_string(), expected_version)
            .await?;
        let note = Note {
            id: id.to_string(),
            version,
            deleted: true,
            ..Default::default()
        };
        self.outbox.record(&mut tx, draft(&note)).await?;
        tx.commit().await.map_err(Error::MySql)?;
        Ok(note)
    }

    pub async fn get(&self, id: &str) -> Result<Option<Note>> {
        let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM notes WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::MySql)?;
        Ok(row.map(Row::note))
    }
}

/// The checker's view of MySQL.
pub struct NoteSource {
    pool: MySqlPool,
}

impl NoteSource {
    pub fn new(pool: MySqlPool) -> NoteSource {
        NoteSource { pool }
    }
}

#[tonic::async_trait]
impl Source for NoteSource {
    fn entity_type(&self) -> &str {
        ENTITY
    }

    async fn page(&self, after: Option<&str>, limit: usize) -> Result<Vec<Change>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM notes WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after.unwrap_or(""))
        .bind(u64::try_from(limit).unwrap_or(500))
        .fetch_all(&self.pool)
        .await
        .map_err(Error::MySql)?;
        Ok(rows
            .into_iter()
            .map(|r| change_of_note(&r.note()))
            .collect())
    }

    async fn load(&self, ids: &[String]) -> Result<Vec<Change>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM notes WHERE id IN ("));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<Row> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(Error::MySql)?;
        Ok(rows
            .into_iter()
            .map(|r| change_of_note(&r.note()))
            .collect())
    }

    async fn count(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM notes")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::MySql)
    }
}
