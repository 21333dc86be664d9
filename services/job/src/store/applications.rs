//! Applications in MySQL: `applications` (one row each; `active` is 1 while open, NULL after,
//! so a unique key allows one open application per candidate and job), `application_moves`
//! (the history) and `interviews`. Every write records the `ApplicationChanged` event in its
//! transaction.

use chrono::{DateTime, Utc};
use sqlx::{MySql, MySqlConnection, MySqlPool, Transaction};
use talentmesh_storage::outbox::{Outbox, VersionedUpdate};
use talentmesh_storage::paging::{push_page, Cursor, Order, Pages};
use talentmesh_storage::projection::{Change, LoadChanges, MySqlSource};
use talentmesh_storage::time::datetime;

use super::jobs::load as load_job;
use super::now;
use crate::domain::{Application, Interview, Job, Stage, StageChange};
use crate::error::{Error, Result};
use crate::events;

/// The entity type of applications in the sync framework (source and projection).
pub const ENTITY: &str = "applications";

/// An `applications` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: String,
    pub job_id: String,
    pub company_id: String,
    pub candidate: String,
    pub resume_id: String,
    pub resume_version: i64,
    pub stage: i8,
    pub reject_reason: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, job_id, company_id, candidate, resume_id, resume_version, stage, \
    reject_reason, version, created_at, updated_at";

impl ApplicationRow {
    /// The row's stage (unknown numbers read as unspecified).
    pub fn stage(&self) -> Stage {
        stage(self.stage)
    }
}

fn stage(code: i8) -> Stage {
    Stage::from_code(i32::from(code)).unwrap_or(Stage::Unspecified)
}

/// A new application, as the service decided it.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub id: String,
    pub job_id: String,
    pub company_id: String,
    pub candidate: String,
    pub resume_id: String,
    pub resume_version: i64,
}

/// Application `id` with its moves and interviews, as its event and the checker see it.
pub async fn read(conn: &mut MySqlConnection, id: &str) -> Result<Option<Application>> {
    let row: Option<ApplicationRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let moves: Vec<(i8, i8, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT from_stage, to_stage, actor, reason, created_at FROM application_moves \
             WHERE application_id = ? ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let interviews: Vec<(DateTime<Utc>, String, String)> = sqlx::query_as(
        "SELECT at, place, interviewers FROM interviews WHERE application_id = ? ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Application {
        stage: row.stage(),
        id: row.id,
        job_id: row.job_id,
        company_id: row.company_id,
        candidate: row.candidate,
        resume_id: row.resume_id,
        resume_version: row.resume_version,
        reject_reason: row.reject_reason,
        history: moves
            .into_iter()
            .map(|(from, to, actor, reason, time)| StageChange {
                from: stage(from),
                to: stage(to),
                actor,
                reason,
                time,
            })
            .collect(),
        interviews: interviews
            .into_iter()
            .map(|(time, place, who)| Interview {
                time,
                place,
                interviewers: serde_json::from_str(&who).unwrap_or_default(),
            })
            .collect(),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}

/// Loads applications with their moves and interviews for the consistency checker.
struct ApplicationLoader;

#[tonic::async_trait]
impl LoadChanges for ApplicationLoader {
    async fn load(
        &self,
        pool: &MySqlPool,
        ids: &[String],
    ) -> talentmesh_storage::Result<Vec<Change>> {
        let mut conn = pool
            .acquire()
            .await
            .map_err(talentmesh_storage::Error::MySql)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let app = read(&mut conn, id).await.map_err(|e| match e {
                Error::Db(e) => talentmesh_storage::Error::MySql(e),
                other => talentmesh_storage::Error::InvalidEvent(other.to_string()),
            })?;
            out.extend(app.as_ref().map(events::application_change));
        }
        Ok(out)
    }
}

/// The consistency checker's view of applications.
pub fn source(pool: MySqlPool) -> talentmesh_storage::Result<MySqlSource> {
    MySqlSource::new(ENTITY, "applications", pool, ApplicationLoader)
}

/// Applications in MySQL, and their events through the outbox.
pub struct ApplicationStore {
    pool: MySqlPool,
    outbox: Outbox,
}

impl ApplicationStore {
    /// Applications in `pool`, events through `outbox`.
    pub fn new(pool: MySqlPool, outbox: Outbox) -> ApplicationStore {
        ApplicationStore { pool, outbox }
    }

    /// Application `id` with its history and interviews.
    pub async fn get(&self, id: &str) -> Result<Option<Application>> {
        let mut conn = self.pool.acquire().await?;
        read(&mut conn, id).await
    }

    /// The row of application `id` (what a change starts from).
    pub async fn row(&self, id: &str) -> Result<Option<ApplicationRow>> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = ?"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Writes `app` in the applied stage, if `accept` passes on its job read in the same
    /// transaction (`None` when the job does not exist). [`Error::AlreadyApplied`] when the
    /// candidate has an open application to the job.
    pub async fn insert(
        &self,
        app: &NewApplication,
        accept: impl FnOnce(Option<Job>) -> Result<()>,
    ) -> Result<Application> {
        let mut tx = self.pool.begin().await?;
        accept(load_job(&mut tx, &app.job_id).await?.map(|r| r.to_domain()))?;
        let at = now();
        let inserted = sqlx::query(&format!(
            "INSERT INTO applications ({COLUMNS}, active) VALUES (?, ?, ?, ?, ?, ?, ?, '', 1, ?, ?, 1)"
        ))
        .bind(&app.id)
        .bind(&app.job_id)
        .bind(&app.company_id)
        .bind(&app.candidate)
        .bind(&app.resume_id)
        .bind(app.resume_version)
        .bind(Stage::Applied as i8)
        .bind(datetime(at))
        .bind(datetime(at))
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("23000") => {
                return Err(Error::AlreadyApplied);
            }
            other => {
                other?;
            }
        }
        record_move(
            &mut tx,
            &app.id,
            Stage::Unspecified,
            Stage::Applied,
            &app.candidate,
            "",
        )
        .await?;
        self.finish(tx, &app.id).await
    }

    /// Moves the application of `row` (at its version) to `to` by `actor`, keeping the reason
    /// of a rejection; an application that ends leaves the one-open-application key.
    pub async fn set_stage(
        &self,
        row: &ApplicationRow,
        actor: &str,
        to: Stage,
        reason: &str,
    ) -> Result<Application> {
        let mut tx = self.pool.begin().await?;
        let mut update = VersionedUpdate::new("applications")
            .set("stage", to as i8)
            .set("updated_at", datetime(now()));
        if to == Stage::Rejected {
            update = update.set("reject_reason", reason.to_string());
        }
        if !to.is_open() {
            update = update.set("active", Option::<i8>::None);
        }
        update.execute(&mut tx, row.id.clone(), row.version).await?;
        record_move(&mut tx, &row.id, row.stage(), to, actor, reason).await?;
        self.finish(tx, &row.id).await
    }

    /// Adds `interview` to the application of `row` (at its version).
    pub async fn add_interview(
        &self,
        row: &ApplicationRow,
        interview: &Interview,
    ) -> Result<Application> {
        let mut tx = self.pool.begin().await?;
        VersionedUpdate::new("applications")
            .set("updated_at", datetime(now()))
            .execute(&mut tx, row.id.clone(), row.version)
            .await?;
        sqlx::query("INSERT INTO interviews (application_id, at, place, interviewers, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&row.id)
            .bind(datetime(interview.time))
            .bind(&interview.place)
            .bind(serde_json::Value::from(interview.interviewers.clone()).to_string())
            .bind(datetime(now()))
            .execute(&mut *tx)
            .await?;
        self.finish(tx, &row.id).await
    }

    /// A page of a job's applications, oldest first, only those in `stage` when given.
    pub async fn of_job(
        &self,
        company_id: &str,
        job_id: &str,
        stage: Option<Stage>,
        after: Option<Cursor>,
        limit: i64,
        pages: &Pages,
    ) -> Result<(Vec<Application>, String)> {
        let mut q =
            sqlx::QueryBuilder::new("SELECT id, created_at FROM applications WHERE company_id = ");
        q.push_bind(company_id.to_string())
            .push(" AND job_id = ")
            .push_bind(job_id.to_string());
        if let Some(stage) = stage {
            q.push(" AND stage = ").push_bind(stage as i8);
        }
        push_page(&mut q, after, Order::OldestFirst, limit);
        self.page(q, limit, pages).await
    }

    /// A page of a candidate's applications, newest first.
    pub async fn of_candidate(
        &self,
        candidate: &str,
        before: Option<Cursor>,
        limit: i64,
        pages: &Pages,
    ) -> Result<(Vec<Application>, String)> {
        let mut q =
            sqlx::QueryBuilder::new("SELECT id, created_at FROM applications WHERE candidate = ");
        q.push_bind(candidate.to_string());
        push_page(&mut q, before, Order::NewestFirst, limit);
        self.page(q, limit, pages).await
    }

    /// The applications `q` selects (id, created_at; one past the page), and the next
    /// token of `pages`.
    async fn page(
        &self,
        mut q: sqlx::QueryBuilder<'_, MySql>,
        limit: i64,
        pages: &Pages,
    ) -> Result<(Vec<Application>, String)> {
        let mut rows: Vec<(String, DateTime<Utc>)> =
            q.build_query_as().fetch_all(&self.pool).await?;
        let next = pages.next_token(&mut rows, limit, |(id, created_at)| Cursor {
            created_at: *created_at,
            id: id.clone(),
        });
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, _) in rows {
            if let Some(a) = read(&mut conn, &id).await? {
                out.push(a);
            }
        }
        Ok((out, next))
    }

    /// Re-reads the application in `tx`, records its event, commits.
    async fn finish(&self, mut tx: Transaction<'static, MySql>, id: &str) -> Result<Application> {
        let app = read(&mut tx, id).await?.ok_or(Error::ApplicationNotFound)?;
        self.outbox
            .record(&mut tx, events::application_changed(&app))
            .await?;
        tx.commit().await?;
        Ok(app)
    }
}

async fn record_move(
    tx: &mut Transaction<'static, MySql>,
    id: &str,
    from: Stage,
    to: Stage,
    actor: &str,
    reason: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO application_moves (application_id, from_stage, to_stage, actor, reason, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(from as i8)
    .bind(to as i8)
    .bind(actor)
    .bind(reason)
    .bind(datetime(now()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
