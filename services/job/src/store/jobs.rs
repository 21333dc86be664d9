//! Jobs in MySQL (`jobs`): the row, every query on it, and the writes with the `JobChanged`
//! event each records in its transaction.

use chrono::{DateTime, Utc};
use sqlx::{MySql, MySqlConnection, MySqlPool, Transaction};
use talentmesh_storage::outbox::{EventDraft, Outbox, VersionedUpdate};
use talentmesh_storage::paging::Pages;
use talentmesh_storage::projection::{MySqlSource, RowLoader};
use talentmesh_storage::time::datetime;

use super::now;
use crate::domain::job::skills_json;
use crate::domain::{Job, JobFields, JobState};
use crate::error::{Error, Result};
use crate::events;

/// The entity type of jobs in the sync framework (source and projections).
pub const ENTITY: &str = "jobs";

/// A `jobs` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub company_id: String,
    pub version: i64,
    pub deleted: bool,
    pub state: i8,
    pub title: String,
    pub description: String,
    /// A JSON array of skill names.
    pub required_skills: String,
    /// A JSON array of skill names.
    pub preferred_skills: String,
    pub salary_min: i32,
    pub salary_max: i32,
    pub city_code: String,
    pub office_id: String,
    pub experience_years: i32,
    pub education: i8,
    pub employment_type: i8,
    pub recruit_type: i8,
    pub graduation_year: i32,
    pub headcount: i32,
    pub creator: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

/// The columns of [`JobRow`], in its order.
pub const COLUMNS: &str = "id, company_id, version, deleted, state, title, description, \
    required_skills, preferred_skills, salary_min, salary_max, city_code, office_id, \
    experience_years, education, employment_type, recruit_type, graduation_year, headcount, \
    creator, created_at, updated_at, published_at";

impl JobRow {
    /// The job this row holds.
    pub fn to_domain(&self) -> Job {
        Job {
            id: self.id.clone(),
            company_id: self.company_id.clone(),
            version: self.version,
            deleted: self.deleted,
            state: JobState::from_code(i32::from(self.state)).unwrap_or(JobState::Unspecified),
            fields: JobFields {
                title: self.title.clone(),
                description: self.description.clone(),
                required_skills: serde_json::from_str(&self.required_skills).unwrap_or_default(),
                preferred_skills: serde_json::from_str(&self.preferred_skills).unwrap_or_default(),
                salary_min: self.salary_min,
                salary_max: self.salary_max,
                city_code: self.city_code.clone(),
                office: if self.office_id.is_empty() {
                    String::new()
                } else {
                    format!("companies/{}/offices/{}", self.company_id, self.office_id)
                },
                experience_years: self.experience_years,
                education: i32::from(self.education),
                employment_type: i32::from(self.employment_type),
                recruit_type: i32::from(self.recruit_type),
                graduation_year: self.graduation_year,
                headcount: self.headcount,
            },
            creator: self.creator.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            published_at: self.published_at,
        }
    }

    /// The row of a new job (title and skills trimmed, as stored).
    fn of(job: &Job) -> JobRow {
        let f = &job.fields;
        JobRow {
            id: job.id.clone(),
            company_id: job.company_id.clone(),
            version: job.version,
            deleted: job.deleted,
            state: code(job.state.code()),
            title: f.title.trim().to_string(),
            description: f.description.clone(),
            required_skills: skills_json(&f.required_skills),
            preferred_skills: skills_json(&f.preferred_skills),
            salary_min: f.salary_min,
            salary_max: f.salary_max,
            city_code: f.city_code.clone(),
            office_id: f.office_id(),
            experience_years: f.experience_years,
            education: code(f.education),
            employment_type: code(f.employment_type),
            recruit_type: code(f.recruit_type),
            graduation_year: f.graduation_year,
            headcount: f.headcount,
            creator: job.creator.clone(),
            created_at: job.created_at,
            updated_at: job.updated_at,
            published_at: job.published_at,
        }
    }

    /// The `JobChanged` event of this row's state.
    pub fn draft(&self) -> EventDraft {
        events::job_changed(&self.to_domain())
    }
}

/// An enumeration's wire number as its TINYINT column (validated numbers always fit).
fn code(n: i32) -> i8 {
    i8::try_from(n).unwrap_or(0)
}

/// The row of job `id`, deleted or not.
pub async fn load(conn: &mut MySqlConnection, id: &str) -> Result<Option<JobRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// The consistency checker's view of `jobs`.
pub fn source(pool: MySqlPool) -> talentmesh_storage::Result<MySqlSource> {
    MySqlSource::new(
        ENTITY,
        "jobs",
        pool,
        RowLoader::new("jobs", COLUMNS, |row: JobRow| {
            Ok(events::job_change(&row.to_domain()))
        }),
    )
}

/// Jobs in MySQL, and their events through the outbox.
pub struct JobStore {
    pool: MySqlPool,
    outbox: Outbox,
}

impl JobStore {
    /// Jobs in `pool`, events through `outbox`.
    pub fn new(pool: MySqlPool, outbox: Outbox) -> JobStore {
        JobStore { pool, outbox }
    }

    /// The pool (applications read jobs in their own transactions).
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Writes a new job and its event; the job as stored.
    pub async fn insert(&self, job: &Job) -> Result<Job> {
        let row = JobRow::of(job);
        let mut tx = self.pool.begin().await?;
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
        .bind(datetime(row.created_at))
        .bind(datetime(row.updated_at))
        .bind(row.published_at.map(datetime))
        .execute(&mut *tx)
        .await?;
        self.outbox.record(&mut tx, row.draft()).await?;
        tx.commit().await?;
        Ok(row.to_domain())
    }

    /// Job `id`, deleted or not.
    pub async fn get(&self, id: &str) -> Result<Option<Job>> {
        let mut conn = self.pool.acquire().await?;
        Ok(load(&mut conn, id).await?.map(|r| r.to_domain()))
    }

    /// A page of a company's live jobs in id order after `after` ("" for the first page),
    /// only those in `state` when given; and the next page's token of `pages` ("" on the
    /// last page).
    pub async fn list(
        &self,
        company_id: &str,
        state: Option<JobState>,
        after: &str,
        limit: i64,
        pages: &Pages,
    ) -> Result<(Vec<Job>, String)> {
        let mut q =
            sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM jobs WHERE company_id = "));
        q.push_bind(company_id.to_string())
            .push(" AND NOT deleted AND id > ")
            .push_bind(after.to_string());
        if let Some(state) = state {
            q.push(" AND state = ").push_bind(code(state.code()));
        }
        q.push(" ORDER BY id LIMIT ").push_bind(limit + 1);
        let mut rows: Vec<JobRow> = q.build_query_as().fetch_all(&self.pool).await?;
        let next = pages.next_token(&mut rows, limit, |r| r.id.clone());
        Ok((rows.iter().map(JobRow::to_domain).collect(), next))
    }

    /// The jobs of `ids` that exist, in any order.
    pub async fn by_ids(&self, ids: &[String]) -> Result<Vec<Job>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM jobs WHERE id IN ("));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        let rows: Vec<JobRow> = q.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(JobRow::to_domain).collect())
    }

    /// Replaces the client-set fields of `job` (at its version) with `fields`; the job after.
    pub async fn update_fields(&self, job: &Job, fields: &JobFields) -> Result<Job> {
        let mut tx = self.pool.begin().await?;
        VersionedUpdate::new("jobs")
            .set("title", fields.title.trim().to_string())
            .set("description", fields.description.clone())
            .set("required_skills", skills_json(&fields.required_skills))
            .set("preferred_skills", skills_json(&fields.preferred_skills))
            .set("salary_min", fields.salary_min)
            .set("salary_max", fields.salary_max)
            .set("city_code", fields.city_code.clone())
            .set("office_id", fields.office_id())
            .set("experience_years", fields.experience_years)
            .set("education", code(fields.education))
            .set("employment_type", code(fields.employment_type))
            .set("recruit_type", code(fields.recruit_type))
            .set("graduation_year", fields.graduation_year)
            .set("headcount", fields.headcount)
            .set("updated_at", datetime(now()))
            .execute(&mut tx, job.id.clone(), job.version)
            .await?;
        self.finish(tx, &job.id).await
    }

    /// Moves `job` (at its version) to `to`, stamping the publication when it is published.
    pub async fn set_state(&self, job: &Job, to: JobState) -> Result<Job> {
        let mut tx = self.pool.begin().await?;
        let mut update = VersionedUpdate::new("jobs")
            .set("state", code(to.code()))
            .set("updated_at", datetime(now()));
        if to == JobState::Published {
            update = update.set("published_at", datetime(now()));
        }
        update.execute(&mut tx, job.id.clone(), job.version).await?;
        self.finish(tx, &job.id).await
    }

    /// Re-reads the row in the transaction, records its event, commits.
    async fn finish(&self, mut tx: Transaction<'static, MySql>, id: &str) -> Result<Job> {
        let row = load(&mut tx, id).await?.ok_or(Error::JobNotFound)?;
        self.outbox.record(&mut tx, row.draft()).await?;
        tx.commit().await?;
        Ok(row.to_domain())
    }
}
