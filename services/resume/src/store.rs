//! Resumes in MySQL: the access row, the immutable versions, the event every save records, and
//! the checker's view.

use chrono::{DateTime, SubsecRound, Utc};
use prost::Message;
use sqlx::{MySqlConnection, MySqlPool};
use talentmesh_mesh::ApiError;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_storage::outbox::EventDraft;
use talentmesh_storage::projection::{Change, ChangeOf, Source};

pub const ENTITY: &str = "resumes";
pub const EVENT_TYPE: &str = "talentmesh.resume.v1.ResumeChanged";

pub fn db(e: sqlx::Error) -> ApiError {
    talentmesh_storage::Error::MySql(e).into()
}

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResumeRow {
    pub id: String,
    pub owner: String,
    pub version: i64,
    pub deleted: bool,
    pub visibility: i8,
    pub shared_with: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const COLUMNS: &str =
    "id, owner, version, deleted, visibility, shared_with, created_at, updated_at";

impl ResumeRow {
    pub fn shared_with(&self) -> Vec<String> {
        serde_json::from_str(&self.shared_with).unwrap_or_default()
    }
}

pub async fn row(conn: &mut MySqlConnection, id: &str) -> Result<Option<ResumeRow>, ApiError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM resumes WHERE id = ?"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

/// The stored content of one version.
pub async fn content(
    conn: &mut MySqlConnection,
    id: &str,
    version: i64,
) -> Result<Option<pb::Resume>, ApiError> {
    let bytes: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT content FROM resume_versions WHERE resume_id = ? AND version = ?",
    )
    .bind(id)
    .bind(version)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    bytes
        .map(|b| pb::Resume::decode(b.as_slice()).map_err(|e| ApiError::internal(&e)))
        .transpose()
}

pub fn draft(resume: &pb::Resume, deleted: bool) -> EventDraft {
    EventDraft {
        event_type: EVENT_TYPE.to_string(),
        subject: resume.name.clone(),
        entity_version: resume.version,
        payload: prost_types::Any {
            type_url: format!("type.googleapis.com/{EVENT_TYPE}"),
            value: pb::ResumeChanged {
                resume: Some(resume.clone()),
                deleted,
            }
            .encode_to_vec(),
        },
        traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
        tracestate: String::new(),
    }
}

pub fn change(id: &str, resume: &pb::Resume, deleted: bool) -> Change {
    Change {
        id: id.to_string(),
        version: resume.version,
        deleted,
        state: if deleted {
            Vec::new()
        } else {
            resume.encode_to_vec()
        },
    }
}

pub fn change_of() -> ChangeOf {
    std::sync::Arc::new(|envelope| {
        if envelope.r#type != EVENT_TYPE {
            return Ok(None);
        }
        let payload = envelope
            .payload
            .as_ref()
            .ok_or_else(|| "event has no payload".to_string())?;
        let event = pb::ResumeChanged::decode(payload.value.as_slice())
            .map_err(|e| format!("undecodable ResumeChanged: {e}"))?;
        let resume = event
            .resume
            .ok_or_else(|| "ResumeChanged without a resume".to_string())?;
        let id = resume
            .name
            .strip_prefix("resumes/")
            .ok_or_else(|| format!("bad resume name {}", resume.name))?
            .to_string();
        Ok(Some(change(&id, &resume, event.deleted)))
    })
}

pub struct ResumeSource {
    pool: MySqlPool,
}

impl ResumeSource {
    pub fn new(pool: MySqlPool) -> ResumeSource {
        ResumeSource { pool }
    }

    async fn changes(&self, rows: Vec<ResumeRow>) -> talentmesh_storage::Result<Vec<Change>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(talentmesh_storage::Error::MySql)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if r.deleted {
                out.push(Change {
                    id: r.id.clone(),
                    version: r.version,
                    deleted: true,
                    state: Vec::new(),
                });
                continue;
            }
            let c = content(&mut conn, &r.id, r.version)
                .await
                .map_err(|e| talentmesh_storage::Error::InvalidEvent(e.message))?;
            if let Some(c) = c {
                out.push(change(&r.id, &c, false));
            }
        }
        Ok(out)
    }
}

#[tonic::async_trait]
impl Source for ResumeSource {
    fn entity_type(&self) -> &str {
        ENTITY
    }

    async fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> talentmesh_storage::Result<Vec<Change>> {
        let rows: Vec<ResumeRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM resumes WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after.unwrap_or(""))
        .bind(u64::try_from(limit).unwrap_or(500))
        .fetch_all(&self.pool)
        .await
        .map_err(talentmesh_storage::Error::MySql)?;
        self.changes(rows).await
    }

    async fn load(&self, ids: &[String]) -> talentmesh_storage::Result<Vec<Change>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM resumes WHERE id IN ("));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<ResumeRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(talentmesh_storage::Error::MySql)?;
        self.changes(rows).await
    }

    async fn count(&self) -> talentmesh_storage::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM resumes")
            .fetch_one(&self.pool)
            .await
            .map_err(talentmesh_storage::Error::MySql)
    }
}
