//! Applications live beside jobs, in the job service: "apply only to a published job" and "one
//! open application per candidate and job" are then checked in the same MySQL transaction as the
//! write, and company members' rights come from the same permission client as for jobs.
//!
//! The pipeline: applied → screening → interview → offer → hired, one step at a time, moved by
//! members with `application.update`; rejected (with a reason) from any open stage by them, or
//! withdrawn by the candidate. Every move is kept with who, when, from and to.

use chrono::{DateTime, Utc};
use prost::Message;
use sqlx::{MySql, Transaction};
use talentmesh_authz::Freshness;
use talentmesh_mesh::error::{ErrorCode, FieldViolation};
use talentmesh_mesh::ApiError;
use talentmesh_proto::job::v1 as pb;
use talentmesh_proto::resume::v1 as rpb;
use talentmesh_storage::outbox::{EventDraft, VersionedUpdate};
use talentmesh_storage::paging::{next_token, page_size, push_page, Cursor, Order};

use crate::service::{Ctx, Jobs};
use crate::store::{db, load, now};

pub const EVENT_TYPE: &str = "talentmesh.job.v1.ApplicationChanged";

fn invalid(field: &str, description: impl Into<String>) -> ApiError {
    ApiError::invalid(vec![FieldViolation::new(field, description)])
}

fn not_found() -> ApiError {
    ApiError::not_found("application not found")
}

fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn is_open(stage: pb::Stage) -> bool {
    matches!(
        stage,
        pb::Stage::Applied | pb::Stage::Screening | pb::Stage::Interview | pb::Stage::Offer
    )
}

/// Moves a company member may make.
pub fn company_may_move(from: pb::Stage, to: pb::Stage) -> bool {
    use pb::Stage::*;
    matches!(
        (from, to),
        (Applied, Screening) | (Screening, Interview) | (Interview, Offer) | (Offer, Hired)
    ) || (to == Rejected && is_open(from))
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: String,
    job_id: String,
    company_id: String,
    candidate: String,
    resume_id: String,
    resume_version: i64,
    stage: i8,
    reject_reason: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, job_id, company_id, candidate, resume_id, resume_version, stage, \
    reject_reason, version, created_at, updated_at";

impl Row {
    fn stage(&self) -> pb::Stage {
        pb::Stage::try_from(i32::from(self.stage)).unwrap_or(pb::Stage::Unspecified)
    }
}

/// `companies/{c}/jobs/{j}/applications/{a}` → (c, j, a).
fn app_name(name: &str) -> Result<(&str, &str, &str), ApiError> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["companies", c, "jobs", j, "applications", a] if is_id(c) && is_id(j) && is_id(a) => {
            Ok((c, j, a))
        }
        _ => Err(invalid(
            "name",
            "must be companies/{company}/jobs/{job}/applications/{application}",
        )),
    }
}

/// An application as its event and the checker see it (moves and interviews included).
pub async fn read(
    conn: &mut sqlx::MySqlConnection,
    id: &str,
) -> Result<Option<pb::Application>, ApiError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let moves: Vec<(i8, i8, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT from_stage, to_stage, actor, reason, created_at FROM application_moves \
             WHERE application_id = ? ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let interviews: Vec<(DateTime<Utc>, String, String)> = sqlx::query_as(
        "SELECT at, place, interviewers FROM interviews WHERE application_id = ? ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(Some(pb::Application {
        name: format!(
            "companies/{}/jobs/{}/applications/{}",
            row.company_id, row.job_id, row.id
        ),
        candidate: format!("users/{}", row.candidate),
        resume: format!("resumes/{}", row.resume_id),
        resume_version: row.resume_version,
        stage: i32::from(row.stage),
        reject_reason: row.reject_reason.clone(),
        history: moves
            .into_iter()
            .map(|(from, to, actor, reason, at)| pb::StageChange {
                from: i32::from(from),
                to: i32::from(to),
                actor: format!("users/{actor}"),
                reason,
                time: Some(ts(at)),
            })
            .collect(),
        interviews: interviews
            .into_iter()
            .map(|(at, place, who)| pb::Interview {
                time: Some(ts(at)),
                place,
                interviewers: serde_json::from_str::<Vec<String>>(&who)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|u| format!("users/{u}"))
                    .collect(),
            })
            .collect(),
        version: row.version,
        create_time: Some(ts(row.created_at)),
        update_time: Some(ts(row.updated_at)),
    }))
}

impl Jobs {
    async fn application(
        &self,
        conn: &mut sqlx::MySqlConnection,
        id: &str,
    ) -> Result<Option<pb::Application>, ApiError> {
        read(conn, id).await
    }

    /// Re-reads the application in `tx`, records its event, commits.
    async fn finish_application(
        &self,
        mut tx: Transaction<'static, MySql>,
        id: &str,
    ) -> Result<pb::Application, ApiError> {
        let app = self.application(&mut tx, id).await?.ok_or_else(not_found)?;
        let draft = EventDraft {
            event_type: EVENT_TYPE.to_string(),
            subject: app.name.clone(),
            entity_version: app.version,
            payload: prost_types::Any {
                type_url: format!("type.googleapis.com/{EVENT_TYPE}"),
                value: pb::ApplicationChanged {
                    application: Some(app.clone()),
                }
                .encode_to_vec(),
            },
            traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
            tracestate: String::new(),
        };
        self.outbox
            .record(&mut tx, draft)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(db)?;
        Ok(app)
    }

    async fn record_move(
        tx: &mut Transaction<'static, MySql>,
        id: &str,
        from: pb::Stage,
        to: pb::Stage,
        actor: &str,
        reason: &str,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "INSERT INTO application_moves (application_id, from_stage, to_stage, actor, reason, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(from as i8)
        .bind(to as i8)
        .bind(actor)
        .bind(reason)
        .bind(now())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    pub async fn apply(
        &self,
        ctx: &Ctx,
        parent: &str,
        application: Option<pb::Application>,
    ) -> Result<pb::Application, ApiError> {
        let caller = ctx
            .caller
            .clone()
            .ok_or_else(|| ApiError::unauthenticated("missing bearer access token"))?;
        let (company, job_id) = match parent.split('/').collect::<Vec<_>>().as_slice() {
            ["companies", c, "jobs", j] if is_id(c) && is_id(j) => (c.to_string(), j.to_string()),
            _ => return Err(invalid("parent", "must be companies/{company}/jobs/{job}")),
        };
        let a = application.ok_or_else(|| invalid("application", "is required"))?;
        let resume_ok = a.resume.strip_prefix("resumes/").is_some_and(is_id);
        if !resume_ok {
            return Err(invalid("application.resume", "must be resumes/{resume}"));
        }
        if !caller.has_role("candidate") {
            return Err(
                ApiError::permission_denied("only candidates apply").with_reason("CANDIDATES_ONLY")
            );
        }
        // The resume must be the caller's: asked of the resume service with the caller's token.
        let mut request = tonic::Request::new(rpb::GetResumeRequest {
            name: a.resume.clone(),
            as_company: String::new(),
        });
        if let Ok(v) = format!("Bearer {}", ctx.bearer).parse() {
            request.metadata_mut().insert("authorization", v);
        }
        let resume = match self.resumes.clone().get_resume(request).await {
            Ok(r) => r.into_inner().resume.unwrap_or_default(),
            Err(s)
                if s.code() == tonic::Code::NotFound
                    || s.code() == tonic::Code::InvalidArgument =>
            {
                return Err(invalid("application.resume", "not one of your resumes"));
            }
            Err(s) => {
                tracing::warn!(error = %s, "resume service failed");
                return Err(ApiError::unavailable(
                    "the resume service is unavailable; retry shortly",
                ));
            }
        };
        let mut tx = self.pool.begin().await.map_err(db)?;
        let job = load(&mut tx, &job_id)
            .await?
            .filter(|j| j.company_id == company && !j.deleted)
            .ok_or_else(|| ApiError::not_found("job not found"))?;
        if job.state() != pb::JobState::Published {
            return Err(ApiError::new(
                ErrorCode::FailedPrecondition,
                "the job is not open for applications",
            )
            .with_reason("JOB_NOT_OPEN"));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let at = now();
        let inserted = sqlx::query(&format!(
            "INSERT INTO applications ({COLUMNS}, active) VALUES (?, ?, ?, ?, ?, ?, ?, '', 1, ?, ?, 1)"
        ))
        .bind(&id)
        .bind(&job_id)
        .bind(&company)
        .bind(&caller.user_id)
        .bind(a.resume.trim_start_matches("resumes/"))
        .bind(resume.version)
        .bind(pb::Stage::Applied as i8)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("23000") => {
                return Err(ApiError::new(
                    ErrorCode::AlreadyExists,
                    "you already have an open application to this job",
                )
                .with_reason("ALREADY_APPLIED"));
            }
            other => {
                other.map_err(db)?;
            }
        }
        Self::record_move(
            &mut tx,
            &id,
            pb::Stage::Unspecified,
            pb::Stage::Applied,
            &caller.user_id,
            "",
        )
        .await?;
        self.finish_application(tx, &id).await
    }

    /// The application behind `name`, if the caller may read it.
    pub async fn get_application(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<pb::Application, ApiError> {
        let (company, job, id) = app_name(name)?;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let app = self
            .application(&mut conn, id)
            .await?
            .filter(|a| a.name == format!("companies/{company}/jobs/{job}/applications/{id}"))
            .ok_or_else(not_found)?;
        drop(conn);
        let caller = ctx
            .caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("missing bearer access token"))?;
        if app.candidate == format!("users/{}", caller.user_id) {
            return Ok(app);
        }
        let d = self
            .authz
            .check(
                &ctx.bearer,
                &caller.user_id,
                company,
                "application.read",
                Freshness::Cached,
            )
            .await
            .map_err(|_| {
                ApiError::unavailable("the company service is unavailable; retry shortly")
            })?;
        if d.allowed {
            Ok(app)
        } else {
            Err(not_found())
        }
    }

    pub async fn list_applications(
        &self,
        ctx: &Ctx,
        req: &pb::ListApplicationsRequest,
    ) -> Result<(Vec<pb::Application>, String), ApiError> {
        let stage = req.stage;
        let (company, job) = match req.parent.split('/').collect::<Vec<_>>().as_slice() {
            ["companies", c, "jobs", j] if is_id(c) && is_id(j) => (c.to_string(), j.to_string()),
            _ => return Err(invalid("parent", "must be companies/{company}/jobs/{job}")),
        };
        if pb::Stage::try_from(stage).is_err() {
            return Err(invalid("stage", "unknown stage"));
        }
        let limit = page_size(req.page_size, 50, 200)?;
        let after = Cursor::parse(&req.page_token)?;
        let caller = ctx
            .caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("missing bearer access token"))?;
        let d = self
            .authz
            .check(
                &ctx.bearer,
                &caller.user_id,
                &company,
                "application.read",
                Freshness::Cached,
            )
            .await
            .map_err(|_| {
                ApiError::unavailable("the company service is unavailable; retry shortly")
            })?;
        if !d.allowed {
            // Another company's applications look like a job without any.
            return Err(ApiError::not_found("job not found"));
        }
        let mut q =
            sqlx::QueryBuilder::new("SELECT id, created_at FROM applications WHERE company_id = ");
        q.push_bind(company).push(" AND job_id = ").push_bind(job);
        if stage != 0 {
            q.push(" AND stage = ")
                .push_bind(i8::try_from(stage).unwrap_or(0));
        }
        push_page(&mut q, after, Order::OldestFirst, limit);
        self.page(q, limit).await
    }

    pub async fn my_applications(
        &self,
        ctx: &Ctx,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<pb::Application>, String), ApiError> {
        let limit = talentmesh_storage::paging::page_size(page_size, 50, 200)?;
        let before = Cursor::parse(page_token)?;
        let caller = ctx
            .caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("missing bearer access token"))?;
        let mut q =
            sqlx::QueryBuilder::new("SELECT id, created_at FROM applications WHERE candidate = ");
        q.push_bind(caller.user_id.clone());
        push_page(&mut q, before, Order::NewestFirst, limit);
        self.page(q, limit).await
    }

    /// The applications `q` selects (id, created_at; one past the page), and the next token.
    async fn page(
        &self,
        mut q: sqlx::QueryBuilder<'_, MySql>,
        limit: i64,
    ) -> Result<(Vec<pb::Application>, String), ApiError> {
        let mut rows: Vec<(String, DateTime<Utc>)> =
            q.build_query_as().fetch_all(&self.pool).await.map_err(db)?;
        let next = next_token(&mut rows, limit, |(id, created_at)| Cursor {
            created_at: *created_at,
            id: id.clone(),
        });
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, _) in rows {
            if let Some(a) = self.application(&mut conn, &id).await? {
                out.push(a);
            }
        }
        Ok((out, next))
    }

    /// A row for a change, with the caller's right to make it checked.
    async fn changing(
        &self,
        ctx: &Ctx,
        name: &str,
        by_company: bool,
    ) -> Result<(Row, String), ApiError> {
        let (company, job, id) = app_name(name)?;
        let caller = ctx
            .caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("missing bearer access token"))?;
        let row: Row = sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .filter(|r: &Row| r.company_id == company && r.job_id == job)
            .ok_or_else(not_found)?;
        if by_company {
            let d = self
                .authz
                .check(
                    &ctx.bearer,
                    &caller.user_id,
                    company,
                    "application.update",
                    Freshness::Exact,
                )
                .await
                .map_err(|_| {
                    ApiError::unavailable("the company service is unavailable; retry shortly")
                })?;
            if !d.allowed {
                if row.candidate == caller.user_id
                    || d.role != talentmesh_proto::company::v1::MemberRole::Unspecified
                {
                    return Err(ApiError::permission_denied(
                        "needs application.update in this company",
                    )
                    .with_reason("MISSING_PERMISSION"));
                }
                return Err(not_found());
            }
        } else if row.candidate != caller.user_id {
            return Err(not_found());
        }
        Ok((row, caller.user_id.clone()))
    }

    async fn set_stage(
        &self,
        row: &Row,
        actor: &str,
        to: pb::Stage,
        reason: &str,
    ) -> Result<pb::Application, ApiError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut update = VersionedUpdate::new("applications")
            .set("stage", to as i8)
            .set("updated_at", now());
        if to == pb::Stage::Rejected {
            update = update.set("reject_reason", reason.to_string());
        }
        if !is_open(to) {
            update = update.set("active", Option::<i8>::None);
        }
        update
            .execute(&mut tx, row.id.clone(), row.version)
            .await
            .map_err(ApiError::from)?;
        Self::record_move(&mut tx, &row.id, row.stage(), to, actor, reason).await?;
        self.finish_application(tx, &row.id).await
    }

    pub async fn move_application(
        &self,
        ctx: &Ctx,
        name: &str,
        stage: i32,
        reason: &str,
    ) -> Result<pb::Application, ApiError> {
        let to = pb::Stage::try_from(stage)
            .ok()
            .filter(|s| *s != pb::Stage::Unspecified && *s != pb::Stage::Withdrawn)
            .ok_or_else(|| invalid("stage", "screening, interview, offer, hired or rejected"))?;
        let reason = reason.trim();
        if to == pb::Stage::Rejected && reason.is_empty() {
            return Err(invalid("reason", "is required when rejecting"));
        }
        if reason.chars().count() > 1000 {
            return Err(invalid("reason", "at most 1000 characters"));
        }
        let (row, actor) = self.changing(ctx, name, true).await?;
        if !company_may_move(row.stage(), to) {
            return Err(ApiError::new(
                ErrorCode::FailedPrecondition,
                format!(
                    "an application cannot move from {:?} to {:?}",
                    row.stage(),
                    to
                ),
            )
            .with_reason("BAD_STAGE_MOVE"));
        }
        self.set_stage(&row, &actor, to, reason).await
    }

    pub async fn withdraw(&self, ctx: &Ctx, name: &str) -> Result<pb::Application, ApiError> {
        let (row, actor) = self.changing(ctx, name, false).await?;
        if !is_open(row.stage()) {
            return Err(
                ApiError::new(ErrorCode::FailedPrecondition, "the application has ended")
                    .with_reason("APPLICATION_ENDED"),
            );
        }
        self.set_stage(&row, &actor, pb::Stage::Withdrawn, "").await
    }

    pub async fn schedule(
        &self,
        ctx: &Ctx,
        name: &str,
        interview: Option<pb::Interview>,
    ) -> Result<pb::Application, ApiError> {
        let i = interview.ok_or_else(|| invalid("interview", "is required"))?;
        let mut problems = Vec::new();
        let at = i.time.as_ref().and_then(|t| {
            DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        });
        if at.is_none() {
            problems.push(FieldViolation::new("interview.time", "is required"));
        }
        let place = i.place.trim();
        if place.is_empty() || place.chars().count() > 500 {
            problems.push(FieldViolation::new(
                "interview.place",
                "required, at most 500 characters",
            ));
        }
        let who: Vec<&str> = i
            .interviewers
            .iter()
            .filter_map(|u| u.strip_prefix("users/"))
            .collect();
        if who.len() != i.interviewers.len() || who.len() > 10 {
            problems.push(FieldViolation::new(
                "interview.interviewers",
                "at most 10, each users/{user}",
            ));
        }
        let (Some(at), true) = (at, problems.is_empty()) else {
            return Err(ApiError::invalid(problems));
        };
        let (row, _) = self.changing(ctx, name, true).await?;
        if row.stage() != pb::Stage::Interview {
            return Err(ApiError::new(
                ErrorCode::FailedPrecondition,
                "interviews are scheduled in the interview stage",
            )
            .with_reason("NOT_IN_INTERVIEW"));
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        VersionedUpdate::new("applications")
            .set("updated_at", now())
            .execute(&mut tx, row.id.clone(), row.version)
            .await
            .map_err(ApiError::from)?;
        sqlx::query("INSERT INTO interviews (application_id, at, place, interviewers, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&row.id)
            .bind(at)
            .bind(place)
            .bind(serde_json::Value::from(who).to_string())
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.finish_application(tx, &row.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_moves_one_step_at_a_time_and_rejects_from_any_open_stage() {
        use pb::Stage::*;
        assert!(company_may_move(Applied, Screening) && company_may_move(Offer, Hired));
        assert!(!company_may_move(Applied, Offer) && !company_may_move(Hired, Rejected));
        assert!([Applied, Screening, Interview, Offer]
            .iter()
            .all(|s| company_may_move(*s, Rejected)));
        assert!(!company_may_move(Withdrawn, Screening));
    }
}

/// Applications as an entity of the data-sync framework: projected into Neo4j as
/// `(:Candidate)-[:APPLIED_TO {application, stage}]->(:Job)` and checked against MySQL.
pub mod sync {
    use std::sync::Arc;

    use neo4rs::Graph;
    use prost::Message;
    use sqlx::MySqlPool;
    use talentmesh_proto::job::v1 as pb;
    use talentmesh_storage::projection::{Change, ChangeOf, Neo4jNodes, Source};

    use super::{read, EVENT_TYPE};

    pub const ENTITY: &str = "applications";
    pub const GRAPH: &str = "applications_graph";

    pub fn change(app: &pb::Application) -> Option<Change> {
        let id = app.name.rsplit('/').next()?.to_string();
        Some(Change {
            id,
            version: app.version,
            deleted: false,
            state: app.encode_to_vec(),
        })
    }

    pub fn change_of() -> ChangeOf {
        Arc::new(|envelope| {
            if envelope.r#type != EVENT_TYPE {
                return Ok(None);
            }
            let payload = envelope
                .payload
                .as_ref()
                .ok_or_else(|| "event has no payload".to_string())?;
            let app = pb::ApplicationChanged::decode(payload.value.as_slice())
                .map_err(|e| format!("undecodable ApplicationChanged: {e}"))?
                .application
                .ok_or_else(|| "ApplicationChanged without an application".to_string())?;
            change(&app)
                .map(Some)
                .ok_or_else(|| format!("bad application name {}", app.name))
        })
    }

    pub struct ApplicationSource {
        pool: MySqlPool,
    }

    impl ApplicationSource {
        pub fn new(pool: MySqlPool) -> ApplicationSource {
            ApplicationSource { pool }
        }
    }

    fn store_err(e: talentmesh_mesh::ApiError) -> talentmesh_storage::Error {
        talentmesh_storage::Error::InvalidEvent(e.message)
    }

    #[tonic::async_trait]
    impl Source for ApplicationSource {
        fn entity_type(&self) -> &str {
            ENTITY
        }

        async fn page(
            &self,
            after: Option<&str>,
            limit: usize,
        ) -> talentmesh_storage::Result<Vec<Change>> {
            let ids: Vec<String> =
                sqlx::query_scalar("SELECT id FROM applications WHERE id > ? ORDER BY id LIMIT ?")
                    .bind(after.unwrap_or(""))
                    .bind(u64::try_from(limit).unwrap_or(500))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(talentmesh_storage::Error::MySql)?;
            self.load(&ids).await
        }

        async fn load(&self, ids: &[String]) -> talentmesh_storage::Result<Vec<Change>> {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(talentmesh_storage::Error::MySql)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(app) = read(&mut conn, id).await.map_err(store_err)? {
                    out.extend(change(&app));
                }
            }
            Ok(out)
        }

        async fn count(&self) -> talentmesh_storage::Result<i64> {
            sqlx::query_scalar("SELECT COUNT(*) FROM applications")
                .fetch_one(&self.pool)
                .await
                .map_err(talentmesh_storage::Error::MySql)
        }
    }

    /// One `Application` node per application (what the checker compares), and the candidate's
    /// `APPLIED_TO` edge to the job, in the namespace shared with the resume graph.
    pub fn graph(
        ns: &str,
        shared_ns: &str,
        graph: Graph,
    ) -> talentmesh_storage::Result<Neo4jNodes> {
        if shared_ns.is_empty()
            || !shared_ns
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(talentmesh_storage::Error::InvalidUpdate(format!(
                "bad shared graph namespace {shared_ns}"
            )));
        }
        Ok(Neo4jNodes::new(
            GRAPH,
            ENTITY,
            "Application",
            ns,
            graph,
            Arc::new(|c: &Change| {
                let app = pb::Application::decode(c.state.as_slice())
                    .map_err(|e| format!("undecodable application: {e}"))?;
                let parts: Vec<&str> = app.name.split('/').collect();
                Ok(serde_json::json!({
                    "candidate": app.candidate.trim_start_matches("users/"),
                    "company_id": parts.get(1).copied().unwrap_or_default(),
                    "job_id": parts.get(3).copied().unwrap_or_default(),
                    "stage": app.stage,
                }))
            }),
        )?
        .with_schema("CREATE INDEX candidate_ns_id IF NOT EXISTS FOR (c:Candidate) ON (c.ns, c.id)")
        .with_relationships(format!(
            "UNWIND $rows AS r
             MATCH (n:Application {{key: r.key}}) WHERE n.version = r.version AND NOT r.deleted
             MERGE (c:Candidate {{ns: '{shared_ns}', id: r.props.candidate}})
             MERGE (j:Job {{key: $ns + '/' + r.props.job_id}})
             ON CREATE SET j.version = -1, j.hash = '', j.deleted = true, j.ns = $ns,
                           j.id = r.props.job_id
             MERGE (c)-[e:APPLIED_TO {{application: r.id}}]->(j)
             SET e.stage = r.props.stage"
        )))
    }
}
