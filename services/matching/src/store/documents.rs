//! The MySQL side: the documents matching keeps of jobs and resumes (with the outbox event of
//! each change, in the same transaction), resume versions, companies and applications.

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use sqlx::{MySql, MySqlPool, Transaction};
use talentmesh_mesh::retry::Backoff;
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::matching::v1 as pb;
use talentmesh_storage::outbox::{EventDraft, Outbox};
use talentmesh_storage::projection::{Change, MySqlSource, RowLoader};
use talentmesh_storage::time::datetime;

use crate::error::{Error, Result};

/// The event type of a document's change (matching's own stream, read by its projection).
pub const DOCUMENT_CHANGED: &str = "talentmesh.matching.v1.MatchDocumentChanged";
/// The entity type of documents in the sync framework.
pub const ENTITY: &str = "document";

/// What a document is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Job,
    Resume,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Job => "job",
            Kind::Resume => "resume",
        }
    }

    /// The kind of a resource name: "companies/…/jobs/…" or "resumes/…".
    pub fn of(name: &str) -> Kind {
        if name.starts_with("resumes/") {
            Kind::Resume
        } else {
            Kind::Job
        }
    }
}

/// A stored document: the matching document and the job or resume it came from (its
/// protobuf bytes; empty for a tombstone).
#[derive(Debug, Clone)]
pub struct Stored {
    pub document: pb::MatchDocument,
    pub source: Vec<u8>,
}

/// An application as matching keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: String,
    pub job: String,
    pub company: String,
    pub resume: String,
    pub resume_version: i64,
    pub stage: i32,
    pub reject_reason: String,
    pub version: i64,
}

/// The documents, resume versions, companies and applications in MySQL.
#[derive(Clone)]
pub struct Documents {
    pool: MySqlPool,
    outbox: Outbox,
}

fn draft(document: &pb::MatchDocument) -> EventDraft {
    EventDraft {
        event_type: DOCUMENT_CHANGED.to_string(),
        subject: document.name.clone(),
        entity_version: document.version,
        payload: prost_types::Any {
            type_url: format!("type.googleapis.com/{DOCUMENT_CHANGED}"),
            value: pb::MatchDocumentChanged {
                document: Some(document.clone()),
            }
            .encode_to_vec(),
        },
        traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
        tracestate: String::new(),
    }
}

/// The projection change of a stored document row.
pub fn change(id: String, version: i64, deleted: bool, document: Vec<u8>) -> Change {
    Change {
        id,
        version,
        deleted,
        state: if deleted { Vec::new() } else { document },
    }
}

/// The checker's view of the documents table.
pub fn source(pool: MySqlPool) -> talentmesh_storage::Result<MySqlSource> {
    MySqlSource::new(
        ENTITY,
        "documents",
        pool,
        RowLoader::new(
            "documents",
            "id, version, deleted, document",
            |(id, version, deleted, document): (String, i64, bool, Vec<u8>)| {
                Ok(change(id, version, deleted, document))
            },
        ),
    )
}

impl Documents {
    pub fn new(pool: MySqlPool, outbox: Outbox) -> Documents {
        Documents { pool, outbox }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Stores `document` (and `source`) when it is newer than what is stored, with its event in
    /// the same transaction; an older or equal version changes nothing. Returns whether it
    /// was stored. A transaction InnoDB picks as a deadlock victim (two writers locking the
    /// same gap of ids) is run again, a few times.
    pub async fn upsert(
        &self,
        kind: Kind,
        document: &pb::MatchDocument,
        source: &[u8],
    ) -> Result<bool> {
        let mut backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(200));
        let mut attempt = 1;
        loop {
            match self.try_upsert(kind, document, source).await {
                Err(Error::Db(e)) if attempt < DEADLOCK_ATTEMPTS && is_deadlock(&e) => {
                    attempt += 1;
                    backoff.pause().await;
                }
                other => return other,
            }
        }
    }

    async fn try_upsert(
        &self,
        kind: Kind,
        document: &pb::MatchDocument,
        source: &[u8],
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let stored: Option<(i64, bool)> =
            sqlx::query_as("SELECT version, deleted FROM documents WHERE id = ? FOR UPDATE")
                .bind(&document.name)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((version, deleted)) = stored {
            if version >= document.version {
                // A late older version of a live resume is still one an application may
                // have been made with.
                if kind == Kind::Resume && !deleted && !document.deleted {
                    record_resume_version(&mut tx, document, source).await?;
                    tx.commit().await?;
                }
                return Ok(false);
            }
        }
        let encoded = if document.deleted {
            Vec::new()
        } else {
            document.encode_to_vec()
        };
        sqlx::query(
            "INSERT INTO documents (id, kind, version, deleted, document, source, company, owner, \
             updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE version = VALUES(version), deleted = VALUES(deleted), \
             document = VALUES(document), source = VALUES(source), company = VALUES(company), \
             owner = VALUES(owner), updated_at = VALUES(updated_at)",
        )
        .bind(&document.name)
        .bind(kind.as_str())
        .bind(document.version)
        .bind(document.deleted)
        .bind(encoded)
        .bind(if document.deleted { &[][..] } else { source })
        .bind(&document.company)
        .bind(&document.owner)
        .bind(datetime(talentmesh_storage::time::now()))
        .execute(&mut *tx)
        .await?;
        if kind == Kind::Resume {
            record_resume_version(&mut tx, document, source).await?;
        }
        self.outbox.record(&mut tx, draft(document)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The live documents of `ids` (missing and deleted ones left out).
    pub async fn load(&self, ids: &[String]) -> Result<HashMap<String, Stored>> {
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut q = sqlx::QueryBuilder::new(
            "SELECT id, document, source FROM documents WHERE NOT deleted AND id IN (",
        );
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<(String, Vec<u8>, Vec<u8>)> =
            q.build_query_as().fetch_all(&self.pool).await?;
        for (id, document, source) in rows {
            let document = pb::MatchDocument::decode(document.as_slice())
                .map_err(|e| Error::Internal(format!("stored document {id}: {e}")))?;
            out.insert(id, Stored { document, source });
        }
        Ok(out)
    }

    /// One live document.
    pub async fn get(&self, id: &str) -> Result<Option<Stored>> {
        Ok(self.load(&[id.to_string()]).await?.remove(id))
    }

    /// A resume's source at `version` (name and contact removed), if kept.
    pub async fn resume_version(&self, resume: &str, version: i64) -> Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT source FROM resume_versions WHERE resume = ? AND version = ?",
        )
        .bind(resume)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Stores a company's state when newer.
    pub async fn upsert_company(&self, state: &cpb::CompanyState) -> Result<()> {
        sqlx::query(
            "INSERT INTO companies (id, version, deleted, state) VALUES (?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE \
               state = IF(VALUES(version) > version, VALUES(state), state), \
               deleted = IF(VALUES(version) > version, VALUES(deleted), deleted), \
               version = GREATEST(version, VALUES(version))",
        )
        .bind(format!("companies/{}", state.id))
        .bind(state.version)
        .bind(state.deleted)
        .bind(state.encode_to_vec())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live companies of `ids` ("companies/{id}").
    pub async fn companies(&self, ids: &[String]) -> Result<HashMap<String, cpb::CompanyState>> {
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut q = sqlx::QueryBuilder::new(
            "SELECT id, state FROM companies WHERE NOT deleted AND id IN (",
        );
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<(String, Vec<u8>)> = q.build_query_as().fetch_all(&self.pool).await?;
        for (id, state) in rows {
            let state = cpb::CompanyState::decode(state.as_slice())
                .map_err(|e| Error::Internal(format!("stored company {id}: {e}")))?;
            out.insert(id, state);
        }
        Ok(out)
    }

    /// Stores an application when newer.
    pub async fn upsert_application(&self, a: &Application) -> Result<()> {
        sqlx::query(
            "INSERT INTO applications (id, job, company, resume, resume_version, stage, \
             reject_reason, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE \
               resume_version = IF(VALUES(version) > version, VALUES(resume_version), resume_version), \
               stage = IF(VALUES(version) > version, VALUES(stage), stage), \
               reject_reason = IF(VALUES(version) > version, VALUES(reject_reason), reject_reason), \
               updated_at = IF(VALUES(version) > version, VALUES(updated_at), updated_at), \
               version = GREATEST(version, VALUES(version))",
        )
        .bind(&a.id)
        .bind(&a.job)
        .bind(&a.company)
        .bind(&a.resume)
        .bind(a.resume_version)
        .bind(a.stage)
        .bind(&a.reject_reason)
        .bind(a.version)
        .bind(datetime(talentmesh_storage::time::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The applications to `job` (any stage).
    pub async fn applications_to(&self, job: &str) -> Result<Vec<Application>> {
        self.applications_where("job = ?", job).await
    }

    /// Resumes that applied to any job of `company`, with the newest version applied with.
    pub async fn applicants_of(&self, company: &str) -> Result<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT resume, MAX(resume_version) FROM applications WHERE company = ? GROUP BY resume",
        )
        .bind(company)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Every application (the feedback the weights are tuned on), oldest first.
    pub async fn all_applications(&self) -> Result<Vec<Application>> {
        self.applications_where("? = ''", "").await
    }

    async fn applications_where(&self, clause: &str, value: &str) -> Result<Vec<Application>> {
        type Row = (String, String, String, String, i64, i8, String, i64);
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT id, job, company, resume, resume_version, stage, reject_reason, version \
             FROM applications WHERE {clause} ORDER BY updated_at, id"
        ))
        .bind(value)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, job, company, resume, resume_version, stage, reject_reason, version)| {
                    Application {
                        id,
                        job,
                        company,
                        resume,
                        resume_version,
                        stage: i32::from(stage),
                        reject_reason,
                        version,
                    }
                },
            )
            .collect())
    }

    /// The skill-bearing sources of every live document of `kind` (for co-occurrence).
    pub async fn sources_of(&self, kind: Kind) -> Result<Vec<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT source FROM documents WHERE kind = ? AND NOT deleted")
                .bind(kind.as_str())
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The newest stored weights (JSON, origin, samples), if any.
    pub async fn weights(&self) -> Result<Option<(String, String, i64)>> {
        Ok(
            sqlx::query_as("SELECT weights, origin, samples FROM weights ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores new weights (they win from now on).
    pub async fn save_weights(&self, json: &str, origin: &str, samples: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO weights (weights, origin, samples, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(json)
        .bind(origin)
        .bind(samples)
        .bind(datetime(talentmesh_storage::time::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// How many times a write that lost a deadlock is tried.
const DEADLOCK_ATTEMPTS: u32 = 5;

/// Whether InnoDB rolled the transaction back as a deadlock victim (or a lock wait timed out).
fn is_deadlock(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40001" || c == "HY000" && e.to_string().contains("1205"))
}

/// A resume's version source; a delete removes every version (the person's data goes).
async fn record_resume_version(
    tx: &mut Transaction<'_, MySql>,
    document: &pb::MatchDocument,
    source: &[u8],
) -> Result<()> {
    if document.deleted {
        sqlx::query("DELETE FROM resume_versions WHERE resume = ?")
            .bind(&document.name)
            .execute(&mut **tx)
            .await?;
    } else {
        sqlx::query(
            "INSERT IGNORE INTO resume_versions (resume, version, source) VALUES (?, ?, ?)",
        )
        .bind(&document.name)
        .bind(document.version)
        .bind(source)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
