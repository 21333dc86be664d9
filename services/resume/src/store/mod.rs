//! Every query of the resume service. MySQL holds the truth: one `resumes` row per resume (owner,
//! version, visibility, who it is shared with) and one immutable `resume_versions` row per save,
//! whose `content` is the encoded wire message `talentmesh.resume.v1.Resume` (the same bytes
//! the `ResumeChanged` event carries; `grpc::convert` maps it to and from the domain). Each save
//! records its event in the outbox in the same transaction.
//!
//! Submodules: `access` (what applications open to companies), `source` (the checker's view of
//! MySQL), and the projections fed from the events: `analysis` (JSONB in PostgreSQL), `graph`
//! (Neo4j), `cache` (Redis, also read here for the newest versions).

pub mod access;
pub mod analysis;
pub mod cache;
pub mod graph;
pub mod source;

use chrono::{DateTime, SubsecRound, Utc};
use prost::Message;
use sqlx::{MySql, MySqlConnection, MySqlPool, Transaction};
use talentmesh_proto::resume::v1 as pb;
use talentmesh_storage::outbox::{Outbox, VersionedUpdate};
use talentmesh_storage::paging::{push_page, Cursor, Order, Pages};
use talentmesh_storage::projection::RedisHashes;
use talentmesh_storage::time::datetime;

use crate::domain::limits::MAX_RESUME_BYTES;
use crate::domain::{CompanyId, Opened, Record, Resume, ResumeId, ResumeVersion, Visibility};
use crate::error::{Error, Result};
use crate::events;
use crate::grpc::convert;

/// The entity type of resumes in events, projections and the checker.
pub const ENTITY: &str = "resumes";

/// A MySQL transaction of this store.
pub type Tx = Transaction<'static, MySql>;

/// Now as MySQL's `DATETIME(6)` keeps it (microseconds), so what is saved reads back equal.
pub fn db_now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A `resumes` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ResumeRow {
    pub id: String,
    pub owner: String,
    pub version: i64,
    pub deleted: bool,
    /// `talentmesh.resume.v1.Visibility` numbers (1 private, 2 public, 3 shared).
    pub visibility: i8,
    /// JSON list of company ids.
    pub shared_with: String,
    pub created_at: DateTime<Utc>,
}

/// A `resumes` row with the encoded size of its newest version's content, in bytes.
#[derive(Debug, sqlx::FromRow)]
struct SizedRow {
    #[sqlx(flatten)]
    row: ResumeRow,
    size: i64,
}

/// The columns of a `resumes` row, in insert order (`updated_at` is written, never read).
pub(crate) const COLUMNS: &str =
    "id, owner, version, deleted, visibility, shared_with, created_at, updated_at";

impl From<ResumeRow> for Record {
    fn from(r: ResumeRow) -> Record {
        Record {
            id: ResumeId::stored(r.id),
            owner: r.owner,
            version: r.version,
            deleted: r.deleted,
            visibility: visibility_of(r.visibility),
            shared_with: serde_json::from_str(&r.shared_with).unwrap_or_default(),
            created_at: r.created_at,
        }
    }
}

fn visibility_of(stored: i8) -> Visibility {
    match pb::Visibility::try_from(i32::from(stored)) {
        Ok(pb::Visibility::Private) => Visibility::Private,
        Ok(pb::Visibility::Public) => Visibility::Public,
        Ok(pb::Visibility::Shared) => Visibility::Shared,
        Ok(pb::Visibility::Unspecified) => Visibility::Unspecified,
        Err(_) => Visibility::Unknown(i32::from(stored)),
    }
}

/// The `visibility` column of a saved resume (private for anything unsaved).
fn visibility_column(r: &Resume) -> i8 {
    i8::try_from(convert::visibility_to_pb(r.content.visibility)).unwrap_or(1)
}

/// The `shared_with` column: the ids of the companies it is shared with, as a JSON list.
fn shared_column(r: &Resume) -> String {
    serde_json::Value::from(r.content.shared_company_ids()).to_string()
}

/// Decodes the stored content of a version.
pub(crate) fn decode(bytes: &[u8]) -> Result<Resume> {
    let message =
        pb::Resume::decode(bytes).map_err(|e| Error::Internal(format!("stored resume: {e}")))?;
    convert::resume_from_pb(message)
}

/// Resumes in MySQL, with the Redis cache of newest versions in front of reads.
pub struct ResumeStore {
    pool: MySqlPool,
    outbox: Outbox,
    /// Newest versions in Redis, read when they are the version asked for.
    cache: RedisHashes,
}

impl ResumeStore {
    /// The store over `pool`, recording events with `outbox` and reading through `cache`.
    pub fn new(pool: MySqlPool, outbox: Outbox, cache: RedisHashes) -> ResumeStore {
        ResumeStore {
            pool,
            outbox,
            cache,
        }
    }

    /// Starts a transaction for a write.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// The record of resume `id` (deleted ones too).
    pub async fn record(&self, id: &ResumeId) -> Result<Option<Record>> {
        let mut conn = self.pool.acquire().await?;
        record_in(&mut conn, id).await
    }

    /// Version `version` of resume `id` from MySQL, `None` when there is no such version.
    pub async fn stored_version(&self, id: &ResumeId, version: i64) -> Result<Option<Resume>> {
        let mut conn = self.pool.acquire().await?;
        content_in(&mut conn, id.as_str(), version)
            .await?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Version `version` of resume `id`: from the cache when it holds that version, else MySQL.
    pub async fn version(&self, id: &ResumeId, version: i64) -> Result<Option<Resume>> {
        if let Some(r) = cache::version(&self.cache, id.as_str(), version).await {
            return Ok(Some(r));
        }
        self.stored_version(id, version).await
    }

    /// Creates resume `r` (its first version) with its row, version and event, in `tx`.
    pub async fn insert(&self, tx: &mut Tx, r: &Resume) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO resumes ({COLUMNS}) VALUES (?, ?, 1, FALSE, ?, ?, ?, ?)"
        ))
        .bind(r.id.as_str())
        .bind(&r.owner)
        .bind(visibility_column(r))
        .bind(shared_column(r))
        .bind(datetime(r.created_at))
        .bind(datetime(r.updated_at))
        .execute(&mut **tx)
        .await?;
        self.save_version(tx, r).await
    }

    /// Creates new resumes `rs` (each its first version) with their rows, versions and events
    /// in `tx`, batched: a few multi-row statements per table rather than three per resume,
    /// each holding at most [`BATCH_BYTES`] of content (always at least one resume).
    ///
    /// # Errors
    /// `Invalid` on `document.resumes[{i}]` (this is the import's write; `i` is the index in
    /// `rs`) for every resume whose encoded version is larger than [`MAX_RESUME_BYTES`],
    /// before anything is written.
    pub async fn insert_many(&self, tx: &mut Tx, rs: &[Resume]) -> Result<()> {
        let encoded: Vec<Vec<u8>> = rs
            .iter()
            .map(|r| convert::resume_to_pb(r).encode_to_vec())
            .collect();
        let too_large: Vec<_> = encoded
            .iter()
            .enumerate()
            .filter(|(_, c)| c.len() > MAX_RESUME_BYTES)
            .map(|(i, c)| {
                talentmesh_mesh::FieldViolation::new(
                    format!("document.resumes[{i}]"),
                    format!("{} bytes encoded, at most {MAX_RESUME_BYTES}", c.len()),
                )
            })
            .collect();
        if !too_large.is_empty() {
            return Err(Error::Invalid(too_large));
        }
        let mut rows: Vec<(&Resume, Vec<u8>)> = rs.iter().zip(encoded).collect();
        while !rows.is_empty() {
            let n = fitting(rows.iter().map(|(_, c)| c.len()), BATCH_BYTES);
            let batch: Vec<_> = rows.drain(..n).collect();
            let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO resumes ({COLUMNS}) "));
            q.push_values(&batch, |mut b, (r, _)| {
                b.push_bind(r.id.as_str())
                    .push_bind(&r.owner)
                    .push_bind(r.version)
                    .push_bind(false)
                    .push_bind(visibility_column(r))
                    .push_bind(shared_column(r))
                    .push_bind(datetime(r.created_at))
                    .push_bind(datetime(r.updated_at));
            });
            q.build().execute(&mut **tx).await?;
            let now = datetime(db_now());
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO resume_versions (resume_id, version, content, created_at) ",
            );
            q.push_values(&batch, |mut b, (r, content)| {
                b.push_bind(r.id.as_str())
                    .push_bind(r.version)
                    .push_bind(content.as_slice())
                    .push_bind(now);
            });
            q.build().execute(&mut **tx).await?;
            self.outbox
                .record_many(tx, batch.iter().map(|(r, _)| events::changed(r)).collect())
                .await?;
        }
        Ok(())
    }

    /// How many resumes `owner` created at or after `since` (deleted ones too), as `tx` sees
    /// them: an index range scan of `ix_resumes_owner`.
    pub async fn created_since(
        &self,
        tx: &mut Tx,
        owner: &str,
        since: DateTime<Utc>,
    ) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM resumes WHERE owner = ? AND created_at >= ?")
                .bind(owner)
                .bind(datetime(since))
                .fetch_one(&mut **tx)
                .await?,
        )
    }

    /// When the `rank`-th oldest (1-based) of the resumes `owner` created at or after `since`
    /// was created, as `tx` sees them; `None` when there are fewer.
    pub async fn created_at_rank(
        &self,
        tx: &mut Tx,
        owner: &str,
        since: DateTime<Utc>,
        rank: i64,
    ) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "SELECT created_at FROM resumes WHERE owner = ? AND created_at >= ? \
             ORDER BY created_at LIMIT 1 OFFSET ?",
        )
        .bind(owner)
        .bind(datetime(since))
        .bind(rank.saturating_sub(1).max(0))
        .fetch_optional(&mut **tx)
        .await?)
    }

    /// Moves the row of resume `id` from `expected` to the next version with `r`'s visibility
    /// and sharing, in `tx`; the new version, or `Error::Store(Conflict)` (ABORTED) when the
    /// row is not at `expected`. The caller stamps and saves the version with [`Self::save_version`].
    pub async fn bump(
        &self,
        tx: &mut Tx,
        id: &ResumeId,
        expected: i64,
        visibility: Visibility,
        shared_company_ids: &[&str],
    ) -> Result<i64> {
        Ok(VersionedUpdate::new("resumes")
            .set(
                "visibility",
                i8::try_from(convert::visibility_to_pb(visibility)).unwrap_or(1),
            )
            .set(
                "shared_with",
                serde_json::Value::from(shared_company_ids.to_vec()).to_string(),
            )
            .set("updated_at", datetime(db_now()))
            .execute(tx, id.as_str().to_string(), expected)
            .await?)
    }

    /// Writes version `r.version` of a resume and its `ResumeChanged` event in `tx` (the row is
    /// already at that version).
    ///
    /// # Errors
    /// `Invalid` on `resume` when the encoded version (analysis included) is larger than
    /// [`MAX_RESUME_BYTES`]: every document given out is sized from that bound.
    pub async fn save_version(&self, tx: &mut Tx, r: &Resume) -> Result<()> {
        let content = convert::resume_to_pb(r).encode_to_vec();
        if content.len() > MAX_RESUME_BYTES {
            return Err(Error::invalid(
                "resume",
                format!(
                    "{} bytes encoded, at most {MAX_RESUME_BYTES}",
                    content.len()
                ),
            ));
        }
        sqlx::query(
            "INSERT INTO resume_versions (resume_id, version, content, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(r.id.as_str())
        .bind(r.version)
        .bind(content)
        .bind(datetime(db_now()))
        .execute(&mut **tx)
        .await?;
        self.outbox.record(tx, events::changed(r)).await?;
        Ok(())
    }

    /// Marks resume `id` deleted if it is at `expected`, with its tombstone event, in `tx`;
    /// the tombstone's version.
    pub async fn delete(&self, tx: &mut Tx, id: &ResumeId, expected: i64) -> Result<i64> {
        let version = VersionedUpdate::new("resumes")
            .set("deleted", true)
            .execute(tx, id.as_str().to_string(), expected)
            .await?;
        self.outbox.record(tx, events::deleted(id, version)).await?;
        Ok(version)
    }

    /// A page of `owner`'s live resumes (newest versions), oldest first, after `after`: at
    /// most `limit` of them whose stored contents together stay within `budget` bytes (always
    /// at least one); and the next page's token ("" on the last page). The sizes are read
    /// first, so a page's contents are all that is loaded.
    pub async fn list(
        &self,
        owner: &str,
        after: Option<Cursor>,
        limit: i64,
        budget: usize,
        pages: &Pages,
    ) -> Result<(Vec<Resume>, String)> {
        let mut q = sqlx::QueryBuilder::new(format!(
            "SELECT {COLUMNS}, CAST(COALESCE((SELECT LENGTH(v.content) FROM resume_versions v \
             WHERE v.resume_id = resumes.id AND v.version = resumes.version), 0) AS SIGNED) \
             AS size FROM resumes WHERE NOT deleted AND owner = "
        ));
        q.push_bind(owner.to_string());
        push_page(&mut q, after, Order::OldestFirst, limit);
        let mut rows: Vec<SizedRow> = q.build_query_as().fetch_all(&self.pool).await?;
        let cursor = |r: &SizedRow| Cursor {
            created_at: r.row.created_at,
            id: r.row.id.clone(),
        };
        let mut next = pages.next_token(&mut rows, limit, cursor);
        let sizes = rows.iter().map(|r| usize::try_from(r.size).unwrap_or(0));
        let fits = fitting(sizes, budget);
        if fits < rows.len() {
            rows.truncate(fits);
            next = rows
                .last()
                .map(|r| pages.token(&cursor(r)))
                .unwrap_or_default();
        }
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::with_capacity(rows.len());
        for SizedRow { row: r, .. } in rows {
            if let Some(bytes) = content_in(&mut conn, &r.id, r.version).await? {
                out.push(decode(&bytes)?);
            }
        }
        Ok((out, next))
    }

    /// A page of the versions of resume `id`, newest first: at most `limit` versions older
    /// than `before` (all when `None`) whose stored contents together stay within `budget`
    /// bytes (always at least one); and whether more follow. Keyset paging on the version
    /// number, which is unique and never reused in a resume.
    pub async fn versions(
        &self,
        id: &ResumeId,
        before: Option<i64>,
        limit: i64,
        budget: usize,
    ) -> Result<(Vec<ResumeVersion>, bool)> {
        let mut rows: Vec<(i64, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT version, content, created_at FROM resume_versions \
             WHERE resume_id = ? AND version < ? ORDER BY version DESC LIMIT ?",
        )
        .bind(id.as_str())
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut more = rows.len() > usize::try_from(limit).unwrap_or(0);
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let fits = fitting(rows.iter().map(|(_, content, _)| content.len()), budget);
        if fits < rows.len() {
            rows.truncate(fits);
            more = true;
        }
        let versions = rows
            .into_iter()
            .map(|(version, content, created_at)| {
                Ok(ResumeVersion {
                    version,
                    resume: decode(&content)?,
                    created_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((versions, more))
    }

    /// The records of `owner`'s live resumes after `after`, oldest first: `limit` of them and
    /// one more when more follow (an export page walks them until its document is full).
    pub async fn live(
        &self,
        owner: &str,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<Record>> {
        let mut q = sqlx::QueryBuilder::new(format!(
            "SELECT {COLUMNS} FROM resumes WHERE NOT deleted AND owner = "
        ));
        q.push_bind(owner.to_string());
        push_page(&mut q, after, Order::OldestFirst, limit);
        let rows: Vec<ResumeRow> = q.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Record::from).collect())
    }

    /// The newest versions of resume `id` that an export page of `budget` bytes may hold,
    /// oldest first: at most 200 (as many as an import takes back), whose stored contents
    /// together stay within `budget` (always the newest one). The sizes are read first, so
    /// no more than a page is loaded.
    pub async fn export_versions(&self, id: &ResumeId, budget: usize) -> Result<Vec<Resume>> {
        let sizes: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT version, CAST(LENGTH(content) AS SIGNED) FROM resume_versions \
             WHERE resume_id = ? ORDER BY version DESC LIMIT 200",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let fits = fitting(
            sizes
                .iter()
                .map(|(_, size)| usize::try_from(*size).unwrap_or(0)),
            budget,
        );
        let Some((oldest, _)) = fits.checked_sub(1).and_then(|i| sizes.get(i)) else {
            return Ok(Vec::new());
        };
        let contents: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT content FROM resume_versions WHERE resume_id = ? AND version >= ? \
             ORDER BY version",
        )
        .bind(id.as_str())
        .bind(oldest)
        .fetch_all(&self.pool)
        .await?;
        contents.iter().map(|c| decode(c)).collect()
    }

    /// What the applications to `company` open of resume `id` (see [`access::opened`]).
    pub async fn opened(&self, id: &ResumeId, company: &CompanyId) -> Result<Option<Opened>> {
        Ok(access::opened(&self.pool, id.as_str(), company.as_str()).await?)
    }
}

/// Content bytes one multi-row insert of [`ResumeStore::insert_many`] may carry: 4 MiB, the
/// largest single resume, so a statement (the content again in the outbox's envelopes) stays
/// well under MariaDB's default `max_allowed_packet` of 16 MiB.
const BATCH_BYTES: usize = MAX_RESUME_BYTES;

/// How many of the leading items (of the given encoded sizes) fit in `budget` bytes, counting
/// a little envelope per item (its field tag, length, version and time); at least one, so a
/// page always moves the walk on (one resume always fits: it is at most `MAX_RESUME_BYTES`).
pub(crate) fn fitting(sizes: impl Iterator<Item = usize>, budget: usize) -> usize {
    const ENVELOPE: usize = 64;
    let mut used = 0usize;
    let mut n = 0;
    for size in sizes {
        used = used.saturating_add(size + ENVELOPE);
        if n > 0 && used > budget {
            break;
        }
        n += 1;
    }
    n
}

async fn record_in(conn: &mut MySqlConnection, id: &ResumeId) -> Result<Option<Record>> {
    let row: Option<ResumeRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM resumes WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(conn)
            .await?;
    Ok(row.map(Record::from))
}

/// The stored (encoded) content of one version.
pub(crate) async fn content_in(
    conn: &mut MySqlConnection,
    id: &str,
    version: i64,
) -> std::result::Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT content FROM resume_versions WHERE resume_id = ? AND version = ?")
        .bind(id)
        .bind(version)
        .fetch_optional(conn)
        .await
}
