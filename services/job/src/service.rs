//! The job service's logic: who may do what (asked of the company service), validation, the
//! MySQL writes with their events, and reads.

use talentmesh_authz::{Freshness, PermissionClient};
use talentmesh_mesh::auth::Caller;
use talentmesh_mesh::error::{ErrorCode, FieldViolation};
use talentmesh_mesh::{ApiError, MeshChannel};
use talentmesh_proto::company::v1 as company_pb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::job::v1 as pb;
use talentmesh_storage::outbox::{Outbox, VersionedUpdate};

use crate::domain::{self, may_move, violations, MUTABLE};
use crate::projections::{self, Query};
use crate::store::{db, load, now, skills_json, JobRow, COLUMNS};

/// The caller and the bearer token it came with (forwarded to the company service).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub caller: Option<Caller>,
    pub bearer: String,
}

pub struct Jobs {
    pub pool: sqlx::MySqlPool,
    pub pg: sqlx::PgPool,
    pub outbox: Outbox,
    pub authz: PermissionClient,
    pub companies: CompanyServiceClient<MeshChannel>,
    pub cache: talentmesh_storage::projection::RedisHashes,
    /// The resume service: an application's resume must be the candidate's own.
    pub resumes:
        talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient<MeshChannel>,
    /// Published jobs served a moment ago, in front of `cache`.
    pub hot: crate::hot::HotJobs,
}

fn invalid(field: &str, description: impl Into<String>) -> ApiError {
    ApiError::invalid(vec![FieldViolation::new(field, description)])
}

fn not_found() -> ApiError {
    ApiError::not_found("job not found")
}

fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

fn company_of<'a>(field: &str, parent: &'a str) -> Result<&'a str, ApiError> {
    match parent.strip_prefix("companies/") {
        Some(id) if is_id(id) => Ok(id),
        _ => Err(invalid(field, "must be companies/{company}")),
    }
}

/// "companies/{c}/jobs/{j}" → (c, j).
fn job_name<'a>(field: &str, name: &'a str) -> Result<(&'a str, &'a str), ApiError> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["companies", c, "jobs", j] if is_id(c) && is_id(j) => Ok((c, j)),
        _ => Err(invalid(field, "must be companies/{company}/jobs/{job}")),
    }
}

/// A failure of the company service as this service's callers see it.
fn upstream(status: tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::Unauthenticated => ApiError::unauthenticated(status.message().to_string()),
        tonic::Code::InvalidArgument | tonic::Code::NotFound => {
            ApiError::not_found("company not found")
        }
        _ => {
            tracing::warn!(error = %status, "company service failed");
            ApiError::unavailable("the company service is unavailable; retry shortly")
        }
    }
}

impl Jobs {
    /// Whether the caller holds `permission` in `company` (asked of the company service).
    async fn holds(
        &self,
        ctx: &Ctx,
        company: &str,
        permission: &str,
        freshness: Freshness,
    ) -> Result<talentmesh_authz::Decision, ApiError> {
        let caller = ctx
            .caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("missing bearer access token"))?;
        self.authz
            .check(&ctx.bearer, &caller.user_id, company, permission, freshness)
            .await
            .map_err(upstream)
    }

    /// Writes need job.write, checked exactly (never from an in-process answer).
    async fn require_write(&self, ctx: &Ctx, company: &str) -> Result<(), ApiError> {
        let d = self
            .holds(ctx, company, "job.write", Freshness::Exact)
            .await?;
        if d.allowed {
            Ok(())
        } else {
            Err(
                ApiError::permission_denied("needs job.write in this company")
                    .with_reason("MISSING_PERMISSION")
                    .with_metadata("permission", "job.write"),
            )
        }
    }

    /// Whether the caller may see the company's unpublished jobs.
    async fn insider(&self, ctx: &Ctx, company: &str) -> Result<bool, ApiError> {
        if ctx.caller.is_none() {
            return Ok(false);
        }
        if ctx.caller.as_ref().is_some_and(Caller::is_admin) {
            return Ok(true);
        }
        Ok(self
            .holds(ctx, company, "company.read", Freshness::Cached)
            .await?
            .allowed)
    }

    /// Checks `office` is one of the company's and returns its city.
    async fn office_city(&self, company: &str, office: &str) -> Result<String, ApiError> {
        let ok_name = office
            .strip_prefix(&format!("companies/{company}/offices/"))
            .is_some_and(|o| !o.is_empty() && !o.contains('/'));
        if !ok_name {
            return Err(invalid(
                "job.office",
                "must be one of this company's offices",
            ));
        }
        let offices = self
            .companies
            .clone()
            .list_offices(company_pb::ListOfficesRequest {
                parent: format!("companies/{company}"),
                coordinate_system: 0,
            })
            .await
            .map_err(upstream)?
            .into_inner()
            .offices;
        offices
            .into_iter()
            .find(|o| o.name == office)
            .map(|o| o.city_code)
            .ok_or_else(|| invalid("job.office", "not an office of this company"))
    }

    /// Fills the city from the office, or checks they agree.
    async fn settle_place(&self, company: &str, job: &mut pb::Job) -> Result<(), ApiError> {
        if job.office.is_empty() {
            return Ok(());
        }
        let city = self.office_city(company, &job.office).await?;
        if job.city_code.is_empty() {
            job.city_code = city;
        } else if job.city_code != city {
            return Err(invalid("job.city_code", format!("the office is in {city}")));
        }
        Ok(())
    }

    pub async fn create(
        &self,
        ctx: &Ctx,
        parent: &str,
        job: Option<pb::Job>,
    ) -> Result<pb::Job, ApiError> {
        let company = company_of("parent", parent)?.to_string();
        let mut job = job.ok_or_else(|| invalid("job", "is required"))?;
        if job.headcount == 0 {
            job.headcount = 1;
        }
        let problems = violations(&job, &MUTABLE);
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        self.require_write(ctx, &company).await?;
        self.settle_place(&company, &mut job).await?;
        let caller = ctx
            .caller
            .as_ref()
            .map(|c| c.user_id.clone())
            .unwrap_or_default();
        let at = now();
        let row = JobRow {
            id: uuid::Uuid::now_v7().to_string(),
            company_id: company,
            version: 1,
            deleted: false,
            state: pb::JobState::Draft as i8,
            title: job.title.trim().to_string(),
            description: job.description.clone(),
            required_skills: skills_json(&job.required_skills),
            preferred_skills: skills_json(&job.preferred_skills),
            salary_min: job.salary_min,
            salary_max: job.salary_max,
            city_code: job.city_code.clone(),
            office_id: job
                .office
                .rsplit('/')
                .next()
                .filter(|_| !job.office.is_empty())
                .unwrap_or_default()
                .to_string(),
            experience_years: job.experience_years,
            education: i8::try_from(job.education).unwrap_or(0),
            employment_type: i8::try_from(job.employment_type).unwrap_or(0),
            recruit_type: i8::try_from(job.recruit_type).unwrap_or(0),
            graduation_year: job.graduation_year,
            headcount: job.headcount,
            creator: caller,
            created_at: at,
            updated_at: at,
            published_at: None,
        };
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(&format!(
            "INSERT INTO jobs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&row.id)
        .bind(&row.company_id)
        .bind(row.version)
        .bind(row.deleted)
        .bind(row.state)
        .bind(&row.title)
        .bind(&row.description)
        .bind(&row.required_skills)
        .bind(&row.preferred_skills)
        .bind(row.salary_min)
        .bind(row.salary_max)
        .bind(&row.city_code)
        .bind(&row.office_id)
        .bind(row.experience_years)
        .bind(row.education)
        .bind(row.employment_type)
        .bind(row.recruit_type)
        .bind(row.graduation_year)
        .bind(row.headcount)
        .bind(&row.creator)
        .bind(row.created_at)
        .bind(row.updated_at)
        .bind(row.published_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        self.outbox
            .record(&mut tx, row.draft())
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(db)?;
        Ok(row.to_pb())
    }

    /// The row behind `name`, if it exists and belongs to the named company.
    async fn row(&self, name: &str) -> Result<JobRow, ApiError> {
        let (company, id) = job_name("name", name)?;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        load(&mut conn, id)
            .await?
            .filter(|r| r.company_id == company && !r.deleted)
            .ok_or_else(not_found)
    }

    pub async fn get(&self, ctx: &Ctx, name: &str) -> Result<pb::Job, ApiError> {
        let (_, id) = job_name("name", name)?;
        // Published jobs are public: served to candidates and anonymous callers from the cache
        // when it has them. Employers and admins read MySQL, so whoever changes a job sees the
        // change at once (the cache trails by the projection's lag).
        let may_edit = ctx
            .caller
            .as_ref()
            .is_some_and(|c| c.has_role("employer") || c.is_admin());
        if !may_edit {
            if let Some(job) = self.hot.get(id) {
                if job.name == name {
                    return Ok(job);
                }
            }
            if let Some(job) = projections::cached_published(&self.cache, id).await {
                if job.name == name {
                    self.hot.put(id, &job);
                    return Ok(job);
                }
            }
        }
        let row = self.row(name).await?;
        if row.state() != pb::JobState::Published && !self.insider(ctx, &row.company_id).await? {
            // Drafts and closed jobs of other companies look like no job at all.
            return Err(not_found());
        }
        Ok(row.to_pb())
    }

    pub async fn list(
        &self,
        ctx: &Ctx,
        req: pb::ListJobsRequest,
    ) -> Result<(Vec<pb::Job>, String), ApiError> {
        let company = company_of("parent", &req.parent)?.to_string();
        if pb::JobState::try_from(req.state).is_err() {
            return Err(invalid("state", "unknown state"));
        }
        if !req.page_token.is_empty() && !is_id(&req.page_token) {
            return Err(invalid("page_token", "not a token from this list"));
        }
        let limit = match req.page_size {
            0 => 20,
            n if n < 0 => return Err(invalid("page_size", "must not be negative")),
            n => i64::from(n.min(100)),
        };
        let insider = self.insider(ctx, &company).await?;
        let mut q =
            sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM jobs WHERE company_id = "));
        q.push_bind(company)
            .push(" AND NOT deleted AND id > ")
            .push_bind(req.page_token);
        if !insider {
            q.push(" AND state = ")
                .push_bind(pb::JobState::Published as i8);
        } else if req.state != 0 {
            q.push(" AND state = ")
                .push_bind(i8::try_from(req.state).unwrap_or(0));
        }
        q.push(" ORDER BY id LIMIT ").push_bind(limit + 1);
        let mut rows: Vec<JobRow> = q.build_query_as().fetch_all(&self.pool).await.map_err(db)?;
        let next = if rows.len() > usize::try_from(limit).unwrap_or(0) {
            rows.truncate(usize::try_from(limit).unwrap_or(0));
            rows.last().map(|r| r.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((rows.iter().map(JobRow::to_pb).collect(), next))
    }

    pub async fn update(&self, ctx: &Ctx, req: pb::UpdateJobRequest) -> Result<pb::Job, ApiError> {
        let patch = req.job.ok_or_else(|| invalid("job", "is required"))?;
        job_name("job.name", &patch.name)?;
        let paths: Vec<String> = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(invalid("update_mask", "name at least one field to change"));
        }
        let bad: Vec<FieldViolation> = paths
            .iter()
            .filter(|p| !MUTABLE.contains(&p.as_str()))
            .map(|p| FieldViolation::new("update_mask", format!("{p} cannot be changed")))
            .collect();
        if !bad.is_empty() {
            return Err(ApiError::invalid(bad));
        }
        let row = self.row(&patch.name).await?;
        self.require_write(ctx, &row.company_id).await?;
        let mut job = row.to_pb();
        for p in &paths {
            match p.as_str() {
                "title" => job.title = patch.title.clone(),
                "description" => job.description = patch.description.clone(),
                "required_skills" => job.required_skills = patch.required_skills.clone(),
                "preferred_skills" => job.preferred_skills = patch.preferred_skills.clone(),
                "salary_min" => job.salary_min = patch.salary_min,
                "salary_max" => job.salary_max = patch.salary_max,
                "city_code" => job.city_code = patch.city_code.clone(),
                "office" => job.office = patch.office.clone(),
                "experience_years" => job.experience_years = patch.experience_years,
                "education" => job.education = patch.education,
                "employment_type" => job.employment_type = patch.employment_type,
                "recruit_type" => job.recruit_type = patch.recruit_type,
                "graduation_year" => job.graduation_year = patch.graduation_year,
                "headcount" => job.headcount = patch.headcount,
                _ => {}
            }
        }
        let problems = violations(&job, &MUTABLE);
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        self.settle_place(&row.company_id, &mut job).await?;
        if req.expected_version > 0 && req.expected_version != row.version {
            return Err(ApiError::from(talentmesh_storage::Error::Conflict(
                talentmesh_storage::outbox::Conflict {
                    table: "jobs",
                    id: row.id.clone(),
                    expected: req.expected_version,
                    actual: Some(row.version),
                },
            )));
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        let office_id = job
            .office
            .rsplit('/')
            .next()
            .filter(|_| !job.office.is_empty())
            .unwrap_or_default()
            .to_string();
        VersionedUpdate::new("jobs")
            .set("title", job.title.trim().to_string())
            .set("description", job.description.clone())
            .set("required_skills", skills_json(&job.required_skills))
            .set("preferred_skills", skills_json(&job.preferred_skills))
            .set("salary_min", job.salary_min)
            .set("salary_max", job.salary_max)
            .set("city_code", job.city_code.clone())
            .set("office_id", office_id)
            .set("experience_years", job.experience_years)
            .set("education", i8::try_from(job.education).unwrap_or(0))
            .set(
                "employment_type",
                i8::try_from(job.employment_type).unwrap_or(0),
            )
            .set("recruit_type", i8::try_from(job.recruit_type).unwrap_or(0))
            .set("graduation_year", job.graduation_year)
            .set("headcount", job.headcount)
            .set("updated_at", now())
            .execute(&mut tx, row.id.clone(), row.version)
            .await
            .map_err(ApiError::from)?;
        self.finish(tx, &row.id).await
    }

    /// Re-reads the row in the transaction, records its event, commits.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::MySql>,
        id: &str,
    ) -> Result<pb::Job, ApiError> {
        let row = load(&mut tx, id).await?.ok_or_else(not_found)?;
        self.outbox
            .record(&mut tx, row.draft())
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(db)?;
        self.hot.forget(id);
        Ok(row.to_pb())
    }

    /// Publish, close or reopen.
    pub async fn move_to(
        &self,
        ctx: &Ctx,
        name: &str,
        to: pb::JobState,
    ) -> Result<pb::Job, ApiError> {
        let row = self.row(name).await?;
        self.require_write(ctx, &row.company_id).await?;
        if !may_move(row.state(), to) {
            return Err(ApiError::new(
                ErrorCode::FailedPrecondition,
                format!("a {:?} job cannot become {:?}", row.state(), to),
            )
            .with_reason("BAD_STATE_CHANGE"));
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut update = VersionedUpdate::new("jobs")
            .set("state", to as i8)
            .set("updated_at", now());
        if to == pb::JobState::Published {
            update = update.set("published_at", now());
        }
        update
            .execute(&mut tx, row.id.clone(), row.version)
            .await
            .map_err(ApiError::from)?;
        self.finish(tx, &row.id).await
    }

    pub async fn search(
        &self,
        req: pb::SearchJobsRequest,
    ) -> Result<(Vec<pb::Job>, String), ApiError> {
        let mut problems = Vec::new();
        if req.query.chars().count() > 100 {
            problems.push(FieldViolation::new("query", "at most 100 characters"));
        }
        if !req.city_code.is_empty() && !domain::known_city(&req.city_code) {
            problems.push(FieldViolation::new(
                "city_code",
                "not a known division code",
            ));
        }
        if req.salary_min < 0
            || req.salary_max < 0
            || (req.salary_max > 0 && req.salary_min > req.salary_max)
        {
            problems.push(FieldViolation::new(
                "salary_min",
                "0 ≤ salary_min ≤ salary_max",
            ));
        }
        if pb::RecruitType::try_from(req.recruit_type).is_err() {
            problems.push(FieldViolation::new("recruit_type", "unknown recruit type"));
        }
        let company_id = if req.company.is_empty() {
            String::new()
        } else {
            match company_of("company", &req.company) {
                Ok(c) => c.to_string(),
                Err(e) => {
                    problems.extend(e.violations);
                    String::new()
                }
            }
        };
        let by_relevance = match req.order_by.as_str() {
            "" | "relevance" => true,
            "recency" => false,
            _ => {
                problems.push(FieldViolation::new("order_by", "relevance or recency"));
                true
            }
        };
        let offset: i64 = if req.page_token.is_empty() {
            0
        } else {
            match req
                .page_token
                .strip_prefix("o")
                .and_then(|n| n.parse().ok())
            {
                Some(n) if (0..=10_000).contains(&n) => n,
                _ => {
                    problems.push(FieldViolation::new(
                        "page_token",
                        "not a token from this search",
                    ));
                    0
                }
            }
        };
        let limit = match req.page_size {
            0 => 20,
            n if n < 0 => {
                problems.push(FieldViolation::new("page_size", "must not be negative"));
                20
            }
            n => i64::from(n.min(100)),
        };
        if !problems.is_empty() {
            return Err(ApiError::invalid(problems));
        }
        let query = Query {
            tokens: domain::tokens(&req.query),
            city_code: req.city_code,
            skill: req.skill,
            salary_min: req.salary_min,
            salary_max: req.salary_max,
            recruit_type: req.recruit_type,
            company_id,
            by_relevance,
        };
        let (ids, more) = projections::find(&self.pg, &query, offset, limit).await?;
        if ids.is_empty() {
            return Ok((Vec::new(), String::new()));
        }
        let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM jobs WHERE id IN ("));
        let mut list = q.separated(", ");
        for id in &ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<JobRow> = q.build_query_as().fetch_all(&self.pool).await.map_err(db)?;
        // In the index's order; a job closed a moment ago (the index trails) is left out.
        let jobs = ids
            .iter()
            .filter_map(|id| rows.iter().find(|r| &r.id == id))
            .filter(|r| r.state() == pb::JobState::Published && !r.deleted)
            .map(JobRow::to_pb)
            .collect();
        let next = if more {
            format!("o{}", offset + limit)
        } else {
            String::new()
        };
        Ok((jobs, next))
    }
}
