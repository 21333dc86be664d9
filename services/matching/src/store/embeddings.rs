//! The embeddings projection: each live document's text embedded by the configured model and
//! stored in PostgreSQL (`embeddings`: `vector REAL[]` beside the document's version and the
//! model that made it), fed by matching's own `MatchDocumentChanged` events and checked and
//! repaired against the MySQL documents like any projection. Every write takes a new `seq`,
//! so the in-memory index of each instance reads what changed since it last looked
//! ([`Embeddings::changed_since`]).
//!
//! Vectors of another model are stale: install marks them for re-projection, so changing the
//! model re-embeds everything right after start.

use prost::Message;
use sqlx::PgPool;
use talentmesh_embed::{AnyEmbedder, EmbedRole, Embedder};
use talentmesh_proto::matching::v1 as pb;
use talentmesh_storage::projection::{
    table_live_ids, table_stamps, Change, Installed, Projection, Stamp, StoreKind,
};
use talentmesh_storage::{Error as StoreError, Result as StoreResult};

use super::documents::ENTITY;

/// A row read back for the index: the document (filters) and its vector; `vector` is empty
/// for a tombstone.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub seq: i64,
    pub id: String,
    pub deleted: bool,
    pub document: pb::MatchDocument,
    pub vector: Vec<f32>,
}

/// The projection (and the reader the index uses).
#[derive(Clone)]
pub struct Embeddings {
    pool: PgPool,
    embedder: AnyEmbedder,
}

fn pg(e: sqlx::Error) -> StoreError {
    StoreError::Postgres(e)
}

impl Embeddings {
    pub fn new(pool: PgPool, embedder: AnyEmbedder) -> Embeddings {
        Embeddings { pool, embedder }
    }

    /// Rows written after `seq`, in write order, at most `limit`.
    pub async fn changed_since(&self, seq: i64, limit: i64) -> StoreResult<Vec<Embedded>> {
        type Row = (i64, String, bool, Option<Vec<u8>>, Option<Vec<f32>>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT seq, id, deleted, document, vector FROM embeddings \
             WHERE seq > $1 AND (deleted OR model = $2) ORDER BY seq LIMIT $3",
        )
        .bind(seq)
        .bind(self.embedder.name())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(pg)?;
        let mut out = Vec::with_capacity(rows.len());
        for (seq, id, deleted, document, vector) in rows {
            let document = match document {
                Some(bytes) if !deleted => pb::MatchDocument::decode(bytes.as_slice())
                    .map_err(|e| StoreError::InvalidEvent(format!("embedding {id}: {e}")))?,
                _ => pb::MatchDocument {
                    name: id.clone(),
                    deleted: true,
                    ..Default::default()
                },
            };
            out.push(Embedded {
                seq,
                id,
                deleted,
                document,
                vector: vector.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// The stored vector of `id` by the current model, if any.
    pub async fn vector(&self, id: &str) -> StoreResult<Option<Vec<f32>>> {
        let v: Option<Option<Vec<f32>>> = sqlx::query_scalar(
            "SELECT vector FROM embeddings WHERE id = $1 AND NOT deleted AND model = $2",
        )
        .bind(id)
        .bind(self.embedder.name())
        .fetch_optional(&self.pool)
        .await
        .map_err(pg)?;
        Ok(v.flatten())
    }
}

#[tonic::async_trait]
impl Projection for Embeddings {
    fn name(&self) -> &str {
        "embeddings"
    }

    fn store(&self) -> StoreKind {
        StoreKind::Postgres
    }

    fn entity_type(&self) -> &str {
        ENTITY
    }

    async fn install(&self) -> StoreResult<Installed> {
        let mut tx = self.pool.begin().await.map_err(pg)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('projection:embeddings'))")
            .execute(&mut *tx)
            .await
            .map_err(pg)?;
        for ddl in [
            "CREATE SEQUENCE IF NOT EXISTS embeddings_seq",
            "CREATE TABLE IF NOT EXISTS embeddings (
                id TEXT PRIMARY KEY,
                version BIGINT NOT NULL,
                deleted BOOLEAN NOT NULL DEFAULT false,
                content_hash TEXT NOT NULL,
                model TEXT NOT NULL DEFAULT '',
                vector REAL[],
                document BYTEA,
                seq BIGINT NOT NULL DEFAULT nextval('embeddings_seq'),
                projected_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
            "CREATE INDEX IF NOT EXISTS embeddings_by_seq ON embeddings (seq)",
        ] {
            sqlx::query(ddl).execute(&mut *tx).await.map_err(pg)?;
        }
        // Vectors of another model cannot be compared with this one's: mark them stale.
        let stale = sqlx::query(
            "UPDATE embeddings SET content_hash = '' WHERE NOT deleted AND model <> $1",
        )
        .bind(self.embedder.name())
        .execute(&mut *tx)
        .await
        .map_err(pg)?
        .rows_affected();
        let marked: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM embeddings WHERE NOT deleted AND content_hash = '')",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(if stale > 0 || marked {
            Installed::NeedsRepair
        } else {
            Installed::Current
        })
    }

    async fn apply(&self, changes: &[Change]) -> StoreResult<()> {
        // Embed the live documents' texts in one batch (the model server batches too).
        let mut texts = Vec::new();
        let mut documents = Vec::with_capacity(changes.len());
        for c in changes {
            if c.deleted {
                documents.push(None);
                continue;
            }
            let doc = pb::MatchDocument::decode(c.state.as_slice())
                .map_err(|e| StoreError::InvalidEvent(format!("document {}: {e}", c.id)))?;
            texts.push(doc.text.clone());
            documents.push(Some(doc));
        }
        let vectors = self
            .embedder
            .embed(EmbedRole::Passage, &texts)
            .await
            .map_err(|e| StoreError::Unavailable(format!("embeddings: {e}")))?;
        let mut vectors = vectors.into_iter();
        for (c, doc) in changes.iter().zip(documents) {
            let (vector, document) = match doc {
                Some(doc) => (vectors.next(), Some(doc.encode_to_vec())),
                None => (None, None),
            };
            let vector_text = vector.map(|v| pg_array(&v));
            sqlx::query(
                "INSERT INTO embeddings AS cur (id, version, deleted, content_hash, model, vector, document)
                 VALUES ($1, $2, $3, $4, $5, $6::real[], $7)
                 ON CONFLICT (id) DO UPDATE SET
                    version = EXCLUDED.version, deleted = EXCLUDED.deleted,
                    content_hash = EXCLUDED.content_hash, model = EXCLUDED.model,
                    vector = EXCLUDED.vector, document = EXCLUDED.document,
                    seq = nextval('embeddings_seq'), projected_at = now()
                 WHERE cur.version < EXCLUDED.version
                    OR (cur.version = EXCLUDED.version AND
                        (cur.content_hash <> EXCLUDED.content_hash OR cur.model <> EXCLUDED.model))",
            )
            .bind(&c.id)
            .bind(c.version)
            .bind(c.deleted)
            .bind(c.content_hash())
            .bind(self.embedder.name())
            .bind(vector_text)
            .bind(document)
            .execute(&self.pool)
            .await
            .map_err(pg)?;
        }
        Ok(())
    }

    async fn stamps(&self, ids: &[String]) -> StoreResult<Vec<Stamp>> {
        table_stamps(&self.pool, "embeddings", ids).await
    }

    async fn live_ids(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> StoreResult<(Vec<String>, Option<String>)> {
        table_live_ids(&self.pool, "embeddings", after, limit).await
    }

    async fn remove(&self, ids: &[String]) -> StoreResult<()> {
        // A removal is a tombstone with a new seq, so every instance's index drops the id.
        sqlx::query(
            "UPDATE embeddings SET deleted = true, vector = NULL, document = NULL, \
             seq = nextval('embeddings_seq') WHERE id = ANY($1)",
        )
        .bind(ids)
        .execute(&self.pool)
        .await
        .map_err(pg)?;
        Ok(())
    }
}

/// A vector as a PostgreSQL array literal (`{0.1,0.2}`), bound as text and cast: sqlx binds
/// `Vec<f32>` as `real[]` too, but one literal per row keeps the statement simple.
fn pg_array(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 10 + 2);
    s.push('{');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    s.push('}');
    s
}
