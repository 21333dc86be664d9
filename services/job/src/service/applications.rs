//! Applications live beside jobs, in the job service: "apply only to a published job" and
//! "one open application per candidate and job" are then checked in the same MySQL
//! transaction as the write, and company members' rights come from the same permission client
//! as for jobs. Candidates apply with their own resume (asked of the resume service with their
//! token) and may withdraw; members with `application.update` move applications through the
//! pipeline (`domain::application`) and schedule interviews; `application.read` lets members
//! read them.

use talentmesh_authz::Freshness;
use talentmesh_mesh::{CallContext, ErrorCode};
use talentmesh_proto::company::v1::MemberRole;
use talentmesh_storage::paging::{page_size, Pages};

use super::{caller, Jobs};
use crate::domain::application::{parse_move, InterviewRequest};
use crate::domain::names::{application_name, is_id, job_name};
use crate::domain::{page_token_violation, Application, JobState, Stage};
use crate::error::{Error, Result};
use crate::store::applications::{ApplicationRow, NewApplication};

/// An application as a candidate sends it.
#[derive(Debug, Clone, Default)]
pub struct ApplicationRequest {
    /// `resumes/{r}`, one of the candidate's own.
    pub resume: String,
}

/// A page of a job's applications as asked.
#[derive(Debug, Clone, Default)]
pub struct ListApplications {
    /// `companies/{c}/jobs/{j}`.
    pub parent: String,
    /// A `Stage` number; 0 for every stage.
    pub stage: i32,
    /// 0 for 50; at most 200.
    pub page_size: i32,
    /// The previous page's `next_page_token`, or empty.
    pub page_token: String,
}

impl Jobs {
    /// The caller applies to job `parent` (`companies/{c}/jobs/{j}`) with one of their resumes,
    /// at its current version.
    pub async fn apply(
        &self,
        ctx: &CallContext,
        parent: &str,
        application: Option<ApplicationRequest>,
    ) -> Result<Application> {
        let caller = caller(ctx)?;
        let (company, job_id) = job_name("parent", parent)?;
        let a = application.ok_or_else(|| Error::invalid("application", "is required"))?;
        let resume_id = a
            .resume
            .strip_prefix("resumes/")
            .filter(|r| is_id(r))
            .ok_or_else(|| Error::invalid("application.resume", "must be resumes/{resume}"))?;
        if !caller.has_role("candidate") {
            return Err(Error::CandidatesOnly);
        }
        // The resume must be the caller's: asked of the resume service with the caller's token.
        let resume_version = match self.resumes.version(&ctx.bearer, &a.resume).await {
            Ok(v) => v,
            Err(e) if e.is_not_found() || e.code == ErrorCode::InvalidArgument => {
                return Err(Error::invalid(
                    "application.resume",
                    "not one of your resumes",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let new = NewApplication {
            id: uuid::Uuid::now_v7().to_string(),
            job_id: job_id.to_string(),
            company_id: company.to_string(),
            candidate: caller.user_id.clone(),
            resume_id: resume_id.to_string(),
            resume_version,
        };
        self.applications
            .insert(&new, |job| {
                // A draft was never public: it answers as a job that does not exist, so an
                // applicant cannot learn what a company is preparing. Only a closed job,
                // which everyone could see, says it takes no more applications.
                let job = job
                    .filter(|j| j.company_id == company && !j.deleted)
                    .filter(|j| matches!(j.state, JobState::Published | JobState::Closed))
                    .ok_or(Error::JobNotFound)?;
                if job.state != JobState::Published {
                    return Err(Error::JobNotOpen);
                }
                Ok(())
            })
            .await
    }

    /// Application `name`, for its candidate and for members with `application.read`.
    pub async fn get_application(&self, ctx: &CallContext, name: &str) -> Result<Application> {
        let (company, job, id) = application_name(name)?;
        let app = self
            .applications
            .get(id)
            .await?
            .filter(|a| a.company_id == company && a.job_id == job)
            .ok_or(Error::ApplicationNotFound)?;
        let caller = caller(ctx)?;
        if app.candidate == caller.user_id {
            return Ok(app);
        }
        let d = self
            .holds(ctx, company, "application.read", Freshness::Cached)
            .await?;
        if d.allowed {
            Ok(app)
        } else {
            Err(Error::ApplicationNotFound)
        }
    }

    /// A page of a job's applications, oldest first, for members with `application.read`.
    pub async fn list_applications(
        &self,
        ctx: &CallContext,
        req: &ListApplications,
    ) -> Result<(Vec<Application>, String)> {
        let (company, job) = job_name("parent", &req.parent)?;
        let stage =
            Stage::from_code(req.stage).ok_or_else(|| Error::invalid("stage", "unknown stage"))?;
        let limit = page_size(req.page_size, 50, 200)?;
        let pages = Pages::of("job.applications")
            .bind(&req.parent)
            .bind(req.stage);
        if let Some(v) = page_token_violation(&req.page_token) {
            return Err(v.into());
        }
        let after = pages.parse(&req.page_token)?;
        let d = self
            .holds(ctx, company, "application.read", Freshness::Cached)
            .await?;
        if !d.allowed {
            // Another company's applications look like a job without any.
            return Err(Error::JobNotFound);
        }
        let stage = (stage != Stage::Unspecified).then_some(stage);
        self.applications
            .of_job(company, job, stage, after, limit, &pages)
            .await
    }

    /// A page of the caller's own applications, newest first.
    pub async fn my_applications(
        &self,
        ctx: &CallContext,
        page_size_asked: i32,
        page_token: &str,
    ) -> Result<(Vec<Application>, String)> {
        let limit = page_size(page_size_asked, 50, 200)?;
        let caller = caller(ctx)?;
        // The caller's own list: another user's token is another list's.
        let pages = Pages::of("job.my_applications").bind(&caller.user_id);
        if let Some(v) = page_token_violation(page_token) {
            return Err(v.into());
        }
        let before = pages.parse(page_token)?;
        self.applications
            .of_candidate(&caller.user_id, before, limit, &pages)
            .await
    }

    /// The row of application `name` for a change, with the caller's right to make it checked
    /// (`by_company`: `application.update`, exactly; otherwise: the candidate's own); and the
    /// caller's user id.
    async fn changing(
        &self,
        ctx: &CallContext,
        name: &str,
        by_company: bool,
    ) -> Result<(ApplicationRow, String)> {
        let (company, job, id) = application_name(name)?;
        let caller = caller(ctx)?;
        let row = self
            .applications
            .row(id)
            .await?
            .filter(|r| r.company_id == company && r.job_id == job)
            .ok_or(Error::ApplicationNotFound)?;
        if by_company {
            let d = self
                .holds(ctx, company, "application.update", Freshness::Exact)
                .await?;
            if !d.allowed {
                // The candidate, and members without the right, learn why; others learn nothing.
                if row.candidate == caller.user_id || d.role != MemberRole::Unspecified {
                    return Err(Error::ApplicationUpdateDenied);
                }
                return Err(Error::ApplicationNotFound);
            }
        } else if row.candidate != caller.user_id {
            return Err(Error::ApplicationNotFound);
        }
        Ok((row, caller.user_id.clone()))
    }

    /// A member moves application `name` to stage `stage` (a `Stage` number), with the reason
    /// of a rejection.
    pub async fn move_application(
        &self,
        ctx: &CallContext,
        name: &str,
        stage: i32,
        reason: &str,
    ) -> Result<Application> {
        let (to, reason) = parse_move(stage, reason)?;
        let (row, actor) = self.changing(ctx, name, true).await?;
        if !row.stage().company_may_move(to) {
            return Err(Error::BadStageMove {
                from: row.stage(),
                to,
            });
        }
        self.applications.set_stage(&row, &actor, to, reason).await
    }

    /// The candidate withdraws their open application `name`.
    pub async fn withdraw(&self, ctx: &CallContext, name: &str) -> Result<Application> {
        let (row, actor) = self.changing(ctx, name, false).await?;
        if !row.stage().is_open() {
            return Err(Error::ApplicationEnded);
        }
        self.applications
            .set_stage(&row, &actor, Stage::Withdrawn, "")
            .await
    }

    /// A member schedules an interview of application `name` (in the interview stage).
    pub async fn schedule(
        &self,
        ctx: &CallContext,
        name: &str,
        interview: Option<InterviewRequest>,
    ) -> Result<Application> {
        let interview = interview
            .ok_or_else(|| Error::invalid("interview", "is required"))?
            .parse()
            .map_err(Error::Invalid)?;
        let (row, _) = self.changing(ctx, name, true).await?;
        if row.stage() != Stage::Interview {
            return Err(Error::NotInInterview);
        }
        self.applications.add_interview(&row, &interview).await
    }
}
