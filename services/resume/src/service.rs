//! The resume service's logic: owners write whole resumes, every save a new immutable version
//! with its analysis; companies read what the owner made visible to them, without contact
//! details; exports and imports move every resume with every version at once.

use chrono::Datelike;
use sqlx::{MySql, Transaction};
use talentmesh_authz::{Freshness, PermissionClient};
use talentmesh_mesh::auth::Caller;
use talentmesh_mesh::error::FieldViolation;
use talentmesh_mesh::ApiError;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_storage::outbox::{Outbox, VersionedUpdate};
use talentmesh_storage::paging::{next_token, push_page, Cursor, Order};

use crate::content::{analyse, violations};
use crate::domain::analysis::month;
use crate::store::{self, db, now, timestamp, ResumeRow, COLUMNS};

#[derive(Debug, Clone)]
pub struct Ctx {
    pub caller: Caller,
    pub bearer: String,
}

pub struct Resumes {
    pub pool: sqlx::MySqlPool,
    pub outbox: Outbox,
    pub authz: PermissionClient,
    /// Newest versions in Redis, read when they are the version asked for.
    pub cache: talentmesh_storage::projection::RedisHashes,
}

fn invalid(field: &str, description: impl Into<String>) -> ApiError {
    ApiError::invalid(vec![FieldViolation::new(field, description)])
}

fn not_found() -> ApiError {
    ApiError::not_found("resume not found")
}

pub fn resume_id<'a>(field: &str, name: &'a str) -> Result<&'a str, ApiError> {
    match name.strip_prefix("resumes/") {
        Some(id) if uuid::Uuid::parse_str(id).is_ok() && id.len() == 36 => Ok(id),
        _ => Err(invalid(field, "must be resumes/{resume}")),
    }
}

fn this_month() -> i32 {
    let t = chrono::Utc::now();
    month(t.year(), i32::try_from(t.month()).unwrap_or(1))
}

/// The content as stored: the server's fields set, the client's ignored.
fn stamped(mut r: pb::Resume, row: &ResumeRow, version: i64) -> pb::Resume {
    r.name = format!("resumes/{}", row.id);
    r.owner = format!("users/{}", row.owner);
    r.version = version;
    r.title = r.title.trim().to_string();
    if r.visibility == pb::Visibility::Unspecified as i32 {
        r.visibility = pb::Visibility::Private as i32;
    }
    r.analysis = Some(analyse(&r, this_month()));
    r.create_time = Some(timestamp(row.created_at));
    r.update_time = Some(timestamp(now()));
    r
}

fn check(r: &pb::Resume) -> Result<(), ApiError> {
    let problems = violations(r);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(problems))
    }
}

fn shared_json(r: &pb::Resume) -> String {
    let ids: Vec<&str> = r
        .shared_with
        .iter()
        .filter_map(|c| c.strip_prefix("companies/"))
        .collect();
    serde_json::Value::from(ids).to_string()
}

impl Resumes {
    /// Writes version `version` of a resume and its event in `tx` (the row is already at it).
    async fn save_version(
        &self,
        tx: &mut Transaction<'static, MySql>,
        id: &str,
        resume: &pb::Resume,
    ) -> Result<(), ApiError> {
        sqlx::query("INSERT INTO resume_versions (resume_id, version, content, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(resume.version)
            .bind(prost::Message::encode_to_vec(resume))
            .bind(now())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        self.outbox
            .record(tx, store::draft(resume, false))
            .await
            .map_err(ApiError::from)?;
        Ok(())
    }

    /// Creates a resume with `owner` from already-checked content, in `tx`.
    async fn insert(
        &self,
        tx: &mut Transaction<'static, MySql>,
        owner: &str,
        r: pb::Resume,
    ) -> Result<pb::Resume, ApiError> {
        let at = now();
        let row = ResumeRow {
            id: uuid::Uuid::now_v7().to_string(),
            owner: owner.to_string(),
            version: 1,
            deleted: false,
            visibility: 0,
            shared_with: String::new(),
            created_at: at,
            updated_at: at,
        };
        let resume = stamped(r, &row, 1);
        sqlx::query(&format!(
            "INSERT INTO resumes ({COLUMNS}) VALUES (?, ?, 1, FALSE, ?, ?, ?, ?)"
        ))
        .bind(&row.id)
        .bind(owner)
        .bind(i8::try_from(resume.visibility).unwrap_or(1))
        .bind(shared_json(&resume))
        .bind(at)
        .bind(at)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        self.save_version(tx, &row.id, &resume).await?;
        Ok(resume)
    }

    pub async fn create(
        &self,
        ctx: &Ctx,
        resume: Option<pb::Resume>,
    ) -> Result<pb::Resume, ApiError> {
        if !(ctx.caller.has_role("candidate") || ctx.caller.is_admin()) {
            return Err(ApiError::permission_denied("only candidates keep resumes")
                .with_reason("CANDIDATES_ONLY"));
        }
        let r = resume.ok_or_else(|| invalid("resume", "is required"))?;
        check(&r)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let saved = self.insert(&mut tx, &ctx.caller.user_id, r).await?;
        tx.commit().await.map_err(db)?;
        Ok(saved)
    }

    /// The caller's own live resume row (others' look missing).
    async fn own(&self, ctx: &Ctx, id: &str) -> Result<ResumeRow, ApiError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        store::row(&mut conn, id)
            .await?
            .filter(|r| !r.deleted && r.owner == ctx.caller.user_id)
            .ok_or_else(not_found)
    }

    pub async fn get(
        &self,
        ctx: &Ctx,
        name: &str,
        as_company: &str,
    ) -> Result<pb::Resume, ApiError> {
        let id = resume_id("name", name)?;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let row = store::row(&mut conn, id)
            .await?
            .filter(|r| !r.deleted)
            .ok_or_else(not_found)?;
        if row.owner == ctx.caller.user_id && as_company.is_empty() {
            return self.content(&mut conn, id, row.version).await;
        }
        // Anyone else reads as a member of a company, and sees only what the owner opened to it.
        let company = match as_company.strip_prefix("companies/") {
            Some(c) if uuid::Uuid::parse_str(c).is_ok() => c.to_string(),
            _ if as_company.is_empty() => return Err(not_found()),
            _ => return Err(invalid("as_company", "must be companies/{company}")),
        };
        let member = self
            .authz
            .allowed(
                &ctx.bearer,
                &ctx.caller.user_id,
                &company,
                "company.read",
                Freshness::Cached,
            )
            .await
            .map_err(|s| match s.code() {
                tonic::Code::Unauthenticated => ApiError::unauthenticated(s.message().to_string()),
                _ => ApiError::unavailable("the company service is unavailable; retry shortly"),
            })?;
        if !member {
            return Err(not_found());
        }
        let open = match pb::Visibility::try_from(i32::from(row.visibility)) {
            Ok(pb::Visibility::Public) => true,
            Ok(pb::Visibility::Shared) => row.shared_with().contains(&company),
            _ => false,
        };
        // An application opens the version applied with, and the contact details once it is
        // past screening.
        let applied = crate::access::opened(&self.pool, id, &company)
            .await
            .map_err(db)?;
        let version = match (open, applied) {
            (true, _) => row.version,
            (false, Some(a)) => a.version,
            (false, None) => return Err(not_found()),
        };
        let mut r = self.content(&mut conn, id, version).await?;
        if !applied.is_some_and(|a| a.contact) {
            r.contact = None;
        }
        Ok(r)
    }

    /// Version `version` of resume `id`: from the cache when it holds that version, else MySQL.
    async fn content(
        &self,
        conn: &mut sqlx::MySqlConnection,
        id: &str,
        version: i64,
    ) -> Result<pb::Resume, ApiError> {
        if let Some(r) = crate::cache::version(&self.cache, id, version).await {
            return Ok(r);
        }
        store::content(conn, id, version)
            .await?
            .ok_or_else(not_found)
    }

    pub async fn list(
        &self,
        ctx: &Ctx,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<pb::Resume>, String), ApiError> {
        let limit = talentmesh_storage::paging::page_size(page_size, 20, 100)?;
        let after = Cursor::parse(page_token)?;
        let mut q = sqlx::QueryBuilder::new(format!(
            "SELECT {COLUMNS} FROM resumes WHERE NOT deleted AND owner = "
        ));
        q.push_bind(ctx.caller.user_id.clone());
        push_page(&mut q, after, Order::OldestFirst, limit);
        let mut rows: Vec<ResumeRow> =
            q.build_query_as().fetch_all(&self.pool).await.map_err(db)?;
        let next = next_token(&mut rows, limit, |r| Cursor {
            created_at: r.created_at,
            id: r.id.clone(),
        });
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(c) = store::content(&mut conn, &r.id, r.version).await? {
                out.push(c);
            }
        }
        Ok((out, next))
    }

    /// A new version from `content` (already checked), if the row is at `expected`.
    async fn new_version(
        &self,
        row: &ResumeRow,
        content: pb::Resume,
        expected: i64,
    ) -> Result<pb::Resume, ApiError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let version = VersionedUpdate::new("resumes")
            .set("visibility", i8::try_from(content.visibility).unwrap_or(1))
            .set("shared_with", shared_json(&content))
            .set("updated_at", now())
            .execute(&mut tx, row.id.clone(), expected)
            .await
            .map_err(ApiError::from)?;
        let resume = stamped(content, row, version);
        self.save_version(&mut tx, &row.id, &resume).await?;
        tx.commit().await.map_err(db)?;
        Ok(resume)
    }

    pub async fn update(
        &self,
        ctx: &Ctx,
        req: pb::UpdateResumeRequest,
    ) -> Result<pb::Resume, ApiError> {
        let r = req.resume.ok_or_else(|| invalid("resume", "is required"))?;
        let id = resume_id("resume.name", &r.name)?.to_string();
        check(&r)?;
        let row = self.own(ctx, &id).await?;
        let expected = if req.expected_version > 0 {
            req.expected_version
        } else {
            row.version
        };
        self.new_version(&row, r, expected).await
    }

    pub async fn delete(&self, ctx: &Ctx, name: &str) -> Result<(), ApiError> {
        let id = resume_id("name", name)?;
        let row = self.own(ctx, id).await?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let version = VersionedUpdate::new("resumes")
            .set("deleted", true)
            .execute(&mut tx, row.id.clone(), row.version)
            .await
            .map_err(ApiError::from)?;
        let tombstone = pb::Resume {
            name: format!("resumes/{}", row.id),
            version,
            ..Default::default()
        };
        self.outbox
            .record(&mut tx, store::draft(&tombstone, true))
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(db)
    }

    pub async fn versions(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Vec<pb::ResumeVersion>, ApiError> {
        let id = resume_id("name", name)?;
        self.own(ctx, id).await?;
        let rows: Vec<(i64, Vec<u8>, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT version, content, created_at FROM resume_versions WHERE resume_id = ? ORDER BY version DESC LIMIT 500",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(version, content, at)| {
                Ok(pb::ResumeVersion {
                    version,
                    resume: Some(
                        prost::Message::decode(content.as_slice())
                            .map_err(|e| ApiError::internal(&e))?,
                    ),
                    create_time: Some(timestamp(at)),
                })
            })
            .collect()
    }

    pub async fn restore(
        &self,
        ctx: &Ctx,
        name: &str,
        version: i64,
    ) -> Result<pb::Resume, ApiError> {
        let id = resume_id("name", name)?;
        let row = self.own(ctx, id).await?;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let old = store::content(&mut conn, id, version)
            .await?
            .ok_or_else(|| invalid("version", "no such version of this resume"))?;
        drop(conn);
        self.new_version(&row, old, row.version).await
    }

    /// Imports resumes (each a list of versions, oldest first) for the caller, all or nothing.
    pub async fn import(
        &self,
        ctx: &Ctx,
        resumes: Vec<Vec<pb::Resume>>,
    ) -> Result<Vec<pb::Resume>, ApiError> {
        if !(ctx.caller.has_role("candidate") || ctx.caller.is_admin()) {
            return Err(ApiError::permission_denied("only candidates keep resumes")
                .with_reason("CANDIDATES_ONLY"));
        }
        let mut problems = Vec::new();
        for (i, versions) in resumes.iter().enumerate() {
            if versions.is_empty() {
                problems.push(FieldViolation::new(
                    format!("document.resumes[{i}].versions"),
                    "at least one version",
                ));
            }
            for (j, v) in versions.iter().enumerate() {
                for p in violations(v) {
                    problems.push(FieldViolation::new(
                        format!(
                            "document.resumes[{i}].versions[{j}].{}",
                            p.field.trim_start_matches("resume.")
                        ),
                        p.description,
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut out = Vec::new();
        for versions in resumes {
            let mut iter = versions.into_iter();
            let Some(first) = iter.next() else { continue };
            let mut current = self.insert(&mut tx, &ctx.caller.user_id, first).await?;
            let id = resume_id("name", &current.name)?.to_string();
            for v in iter {
                let row: ResumeRow = store::row(&mut tx, &id).await?.ok_or_else(not_found)?;
                let version = VersionedUpdate::new("resumes")
                    .set("visibility", i8::try_from(v.visibility).unwrap_or(1))
                    .set("shared_with", shared_json(&v))
                    .set("updated_at", now())
                    .execute(&mut tx, id.clone(), row.version)
                    .await
                    .map_err(ApiError::from)?;
                current = stamped(v, &row, version);
                self.save_version(&mut tx, &id, &current).await?;
            }
            out.push(current);
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    /// Every version of every resume of the caller, oldest version first.
    pub async fn export(&self, ctx: &Ctx) -> Result<Vec<Vec<pb::Resume>>, ApiError> {
        let rows: Vec<ResumeRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM resumes WHERE owner = ? AND NOT deleted ORDER BY created_at, id"
        ))
        .bind(&ctx.caller.user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let contents: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT content FROM resume_versions WHERE resume_id = ? ORDER BY version",
            )
            .bind(&r.id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
            out.push(
                contents
                    .iter()
                    .map(|c| {
                        prost::Message::decode(c.as_slice()).map_err(|e| ApiError::internal(&e))
                    })
                    .collect::<Result<Vec<pb::Resume>, ApiError>>()?,
            );
        }
        Ok(out)
    }
}
