//! Jobs: members with `job.write` create and change them (checked exactly, never from an
//! in-process answer); published jobs are public, drafts and closed jobs are their company's.

use talentmesh_authz::Freshness;
use talentmesh_mesh::{CallContext, FieldViolation};
use talentmesh_proto::company::v1::MemberRole;
use talentmesh_storage::paging::Pages;

use super::Jobs;
use crate::domain::job::{violations, JobUpdate, MAX_MASK_PATH, MAX_MASK_PATHS};
use crate::domain::names::{company_of, is_id, job_name};
use crate::domain::search::SearchRequest;
use crate::domain::{page_token_violation, Job, JobFields, JobState, MUTABLE};
use crate::error::{Error, Result};
use crate::store::now;

/// A page of a company's jobs as asked.
#[derive(Debug, Clone, Default)]
pub struct ListJobs {
    /// `companies/{c}`.
    pub parent: String,
    /// A `JobState` number; 0 for every state (members only: others see published jobs).
    pub state: i32,
    /// 0 for 20; at most 100 are returned.
    pub page_size: i32,
    /// The previous page's `next_page_token`, or empty.
    pub page_token: String,
}

impl Jobs {
    /// Writes need job.write, checked exactly.
    async fn require_write(&self, ctx: &CallContext, company: &str) -> Result<()> {
        let d = self
            .holds(ctx, company, "job.write", Freshness::Exact)
            .await?;
        if d.allowed {
            Ok(())
        } else {
            Err(Error::JobWriteDenied)
        }
    }

    /// Writes to an existing job need job.write, checked exactly. A caller refused who may not
    /// see the job (someone outside its company, and it is a draft or closed) is answered as
    /// for a job that does not exist: a 403 here against a 404 for a random id would tell
    /// anyone which draft ids exist. A published job is public, so its refusal says why.
    async fn require_write_on(&self, ctx: &CallContext, job: &Job) -> Result<()> {
        let d = self
            .holds(ctx, &job.company_id, "job.write", Freshness::Exact)
            .await?;
        if d.allowed {
            return Ok(());
        }
        let sees_it =
            job.state == JobState::Published || ctx.is_admin() || d.role != MemberRole::Unspecified;
        if sees_it {
            Err(Error::JobWriteDenied)
        } else {
            Err(Error::JobNotFound)
        }
    }

    /// Whether the caller may see the company's unpublished jobs.
    async fn insider(&self, ctx: &CallContext, company: &str) -> Result<bool> {
        if ctx.caller.is_none() {
            return Ok(false);
        }
        if ctx.is_admin() {
            return Ok(true);
        }
        Ok(self
            .holds(ctx, company, "company.read", Freshness::Cached)
            .await?
            .allowed)
    }

    /// Checks `office` is one of the company's and returns its city.
    async fn office_city(&self, company: &str, office: &str) -> Result<String> {
        let ok_name = office
            .strip_prefix(&format!("companies/{company}/offices/"))
            .is_some_and(|o| !o.is_empty() && !o.contains('/'));
        if !ok_name {
            return Err(Error::invalid(
                "job.office",
                "must be one of this company's offices",
            ));
        }
        self.companies
            .offices(company)
            .await?
            .into_iter()
            .find(|o| o.name == office)
            .map(|o| o.city_code)
            .ok_or_else(|| Error::invalid("job.office", "not an office of this company"))
    }

    /// Fills the city from the office, or checks they agree.
    async fn settle_place(&self, company: &str, job: &mut JobFields) -> Result<()> {
        if job.office.is_empty() {
            return Ok(());
        }
        let city = self.office_city(company, &job.office).await?;
        if job.city_code.is_empty() {
            job.city_code = city;
        } else if job.city_code != city {
            return Err(Error::invalid(
                "job.city_code",
                format!("the office is in {city}"),
            ));
        }
        Ok(())
    }

    /// A draft job in company `parent` (`companies/{c}`), created by the caller.
    pub async fn create(
        &self,
        ctx: &CallContext,
        parent: &str,
        fields: Option<JobFields>,
    ) -> Result<Job> {
        let company = company_of("parent", parent)?.to_string();
        let mut fields = fields.ok_or_else(|| Error::invalid("job", "is required"))?;
        if fields.headcount == 0 {
            fields.headcount = 1;
        }
        let problems = violations(&fields, &MUTABLE);
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        self.require_write(ctx, &company).await?;
        self.settle_place(&company, &mut fields).await?;
        let at = now();
        let job = Job {
            id: uuid::Uuid::now_v7().to_string(),
            company_id: company,
            version: 1,
            deleted: false,
            state: JobState::Draft,
            fields,
            creator: ctx.user_id().unwrap_or_default().to_string(),
            created_at: at,
            updated_at: at,
            published_at: None,
        };
        self.store.insert(&job).await
    }

    /// The live job behind `name`, if it exists and belongs to the named company.
    async fn live(&self, name: &str) -> Result<Job> {
        let (company, id) = job_name("name", name)?;
        self.store
            .get(id)
            .await?
            .filter(|j| j.company_id == company && !j.deleted)
            .ok_or(Error::JobNotFound)
    }

    /// Job `name`: published jobs for anyone, others for their company's members and admins.
    pub async fn get(&self, ctx: &CallContext, name: &str) -> Result<Job> {
        let (company, id) = job_name("name", name)?;
        // Published jobs are public: served to candidates and anonymous callers from the cache
        // when it has them. Employers and admins read MySQL, so whoever changes a job sees the
        // change at once (the cache trails by the projection's lag).
        let may_edit = ctx
            .caller
            .as_ref()
            .is_some_and(|c| c.has_role("employer") || c.is_admin());
        if !may_edit {
            let named = |j: &Job| j.company_id == company && j.id == id;
            if let Some(job) = self.hot.get(id) {
                if named(&job) {
                    return Ok(job);
                }
            }
            if let Some(job) = self.cache.published(id).await {
                if named(&job) {
                    self.hot.put(id, &job);
                    return Ok(job);
                }
            }
        }
        let job = self.live(name).await?;
        if job.state != JobState::Published && !self.insider(ctx, &job.company_id).await? {
            // Drafts and closed jobs of other companies look like no job at all.
            return Err(Error::JobNotFound);
        }
        Ok(job)
    }

    /// A page of a company's jobs in id order (a keyset on the id, so pages stay put while
    /// jobs are created), and the next page's token ("" on the last), bound to `parent` and
    /// `state`.
    pub async fn list(&self, ctx: &CallContext, req: ListJobs) -> Result<(Vec<Job>, String)> {
        let company = company_of("parent", &req.parent)?.to_string();
        let state = JobState::from_code(req.state)
            .ok_or_else(|| Error::invalid("state", "unknown state"))?;
        let pages = Pages::of("job.jobs").bind(&company).bind(req.state);
        if let Some(v) = page_token_violation(&req.page_token) {
            return Err(v.into());
        }
        let after: Option<String> = pages.parse(&req.page_token)?;
        if after.as_deref().is_some_and(|id| !is_id(id)) {
            return Err(Error::invalid("page_token", "not a token from this list"));
        }
        let limit = match req.page_size {
            0 => 20,
            n if n < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            n => i64::from(n.min(100)),
        };
        let only = if !self.insider(ctx, &company).await? {
            Some(JobState::Published)
        } else if state != JobState::Unspecified {
            Some(state)
        } else {
            None
        };
        self.store
            .list(
                &company,
                only,
                after.as_deref().unwrap_or_default(),
                limit,
                &pages,
            )
            .await
    }

    /// Changes the fields named by the update's mask; the job after.
    pub async fn update(&self, ctx: &CallContext, update: Option<JobUpdate>) -> Result<Job> {
        let update = update.ok_or_else(|| Error::invalid("job", "is required"))?;
        job_name("job.name", &update.name)?;
        if update.paths.is_empty() {
            return Err(Error::invalid(
                "update_mask",
                "name at least one field to change",
            ));
        }
        // Raw gRPC takes up to the message limit: the mask is bounded before anything in it
        // is echoed back.
        if update.paths.len() > MAX_MASK_PATHS {
            return Err(Error::invalid(
                "update_mask",
                format!("at most {MAX_MASK_PATHS} paths"),
            ));
        }
        let bad: Vec<FieldViolation> = update
            .paths
            .iter()
            .filter(|p| !MUTABLE.contains(&p.as_str()))
            .map(|p| {
                if p.len() > MAX_MASK_PATH {
                    FieldViolation::new(
                        "update_mask",
                        format!("a path is at most {MAX_MASK_PATH} bytes"),
                    )
                } else {
                    FieldViolation::new("update_mask", format!("{p} cannot be changed"))
                }
            })
            .collect();
        if !bad.is_empty() {
            return Err(Error::Invalid(bad));
        }
        let job = self.live(&update.name).await?;
        self.require_write_on(ctx, &job).await?;
        let mut fields = job.fields.clone();
        fields.apply(&update.patch, &update.paths);
        let problems = violations(&fields, &MUTABLE);
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        self.settle_place(&job.company_id, &mut fields).await?;
        if update.expected_version > 0 && update.expected_version != job.version {
            return Err(talentmesh_storage::Error::Conflict(
                talentmesh_storage::outbox::Conflict {
                    table: "jobs",
                    id: job.id.clone(),
                    expected: update.expected_version,
                    actual: Some(job.version),
                },
            )
            .into());
        }
        let changed = self.store.update_fields(&job, &fields).await?;
        self.hot.forget(&job.id);
        Ok(changed)
    }

    /// Publish, close or reopen.
    pub async fn move_to(&self, ctx: &CallContext, name: &str, to: JobState) -> Result<Job> {
        let job = self.live(name).await?;
        self.require_write_on(ctx, &job).await?;
        if !job.state.may_move(to) {
            return Err(Error::BadStateChange {
                from: job.state,
                to,
            });
        }
        let moved = self.store.set_state(&job, to).await?;
        self.hot.forget(&job.id);
        Ok(moved)
    }

    /// Published jobs matching the search, best first, and the next page's token.
    pub async fn search(&self, req: SearchRequest) -> Result<(Vec<Job>, String)> {
        let (query, page) = req.parse().map_err(Error::Invalid)?;
        let (keys, more) = self
            .index
            .find(&query, page.after.as_ref(), page.limit)
            .await?;
        if keys.is_empty() {
            return Ok((Vec::new(), String::new()));
        }
        let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
        let found = self.store.by_ids(&ids).await?;
        // In the index's order; a job closed a moment ago (the index trails) is left out.
        let jobs = ids
            .iter()
            .filter_map(|id| found.iter().find(|j| &j.id == id))
            .filter(|j| j.state == JobState::Published && !j.deleted)
            .cloned()
            .collect();
        // The next page starts after the index's last row, shown or left out.
        let next = match keys.last() {
            Some(last) if more => page.next_token(last),
            _ => String::new(),
        };
        Ok((jobs, next))
    }
}
