//! The resume service's logic: owners write whole resumes, every save a new immutable version
//! with its analysis; companies read what the owner made visible to them (membership asked of
//! the company service), without contact details; exports and imports move every resume with
//! every version, an export in pages (each a document an import takes whole), an import all or
//! nothing, one saved version per resume, within the owner's import budget.
//!
//! Takes and returns domain types; errors are the crate's [`Error`].

use talentmesh_authz::{Freshness, PermissionClient};
use talentmesh_mesh::{CallContext, Caller};
use talentmesh_storage::paging::{Cursor, Pages};

use crate::domain::limits::{import_violations, violations, ImportBudget};
use crate::domain::{CompanyId, Content, Record, Resume, ResumeId, ResumeVersion};
use crate::error::{Error, Result};
use crate::store::{db_now, ResumeStore, Tx};

/// The permission a company member needs to read resumes as the company.
const READ_AS_COMPANY: &str = "company.read";

/// The resume service.
pub struct Resumes {
    store: ResumeStore,
    /// Company membership, asked of the company service with the caller's token.
    authz: PermissionClient,
    /// What imports may cost an owner over time.
    import_budget: ImportBudget,
}

/// The verified caller, or `Unauthenticated`.
fn caller(ctx: &CallContext) -> Result<&Caller> {
    ctx.caller.as_ref().ok_or(Error::Unauthenticated)
}

/// Callers who may keep resumes: candidates and admins.
fn keeper(ctx: &CallContext) -> Result<&Caller> {
    let caller = caller(ctx)?;
    if caller.has_role("candidate") || caller.is_admin() {
        Ok(caller)
    } else {
        Err(Error::CandidatesOnly)
    }
}

/// `Ok` when `content` keeps every limit, else every problem.
fn check(content: &Content) -> Result<()> {
    let problems = violations(content);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(problems))
    }
}

impl Resumes {
    /// The service over its store and the company service's permission API, with imports
    /// held to `import_budget`.
    pub fn new(
        store: ResumeStore,
        authz: PermissionClient,
        import_budget: ImportBudget,
    ) -> Resumes {
        Resumes {
            store,
            authz,
            import_budget,
        }
    }

    /// Creates a resume of `owner` from checked `content` (version 1), in `tx`.
    async fn insert(&self, tx: &mut Tx, owner: &str, content: Content) -> Result<Resume> {
        let at = db_now();
        let resume = Resume::stamped(ResumeId::generate(), owner, 1, at, content, at);
        self.store.insert(tx, &resume).await?;
        Ok(resume)
    }

    /// Saves `content` as the next version of `record`, in `tx`, if the row is at `expected`
    /// (else `Store(Conflict)`: ABORTED).
    async fn next_version(
        &self,
        tx: &mut Tx,
        record: &Record,
        content: Content,
        expected: i64,
    ) -> Result<Resume> {
        let version = self
            .store
            .bump(
                tx,
                &record.id,
                expected,
                content.visibility.saved(),
                &content.shared_company_ids(),
            )
            .await?;
        let resume = Resume::stamped(
            record.id.clone(),
            &record.owner,
            version,
            record.created_at,
            content,
            db_now(),
        );
        self.store.save_version(tx, &resume).await?;
        Ok(resume)
    }

    /// Saves `content` as the next version of `record` in a transaction of its own.
    async fn new_version(
        &self,
        record: &Record,
        content: Content,
        expected: i64,
    ) -> Result<Resume> {
        let mut tx = self.store.begin().await?;
        let resume = self
            .next_version(&mut tx, record, content, expected)
            .await?;
        tx.commit().await?;
        Ok(resume)
    }

    /// The caller's own live resume (others' look missing).
    async fn own(&self, ctx: &CallContext, id: &ResumeId) -> Result<Record> {
        let caller = caller(ctx)?;
        self.store
            .record(id)
            .await?
            .filter(|r| !r.deleted && r.owner == caller.user_id)
            .ok_or(Error::NotFound)
    }

    /// Creates a resume for the caller (a candidate). `content` is `None` when the request had
    /// none (INVALID_ARGUMENT on `resume`, after the role is checked).
    pub async fn create(&self, ctx: &CallContext, content: Option<Content>) -> Result<Resume> {
        let caller = keeper(ctx)?;
        let content = content.ok_or_else(|| Error::invalid("resume", "is required"))?;
        check(&content)?;
        let mut tx = self.store.begin().await?;
        let saved = self.insert(&mut tx, &caller.user_id, content).await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Resume `id` as the caller may read it: the owner reads the newest version whole (with
    /// `as_company` empty); anyone else reads as a member of `as_company`
    /// (`companies/{company}`) what the owner opened to that company, without the contact
    /// details until an application is past screening. Whatever the caller may not read is
    /// `NotFound`; a refusal or failure of the company service keeps its code (`Upstream`).
    pub async fn get(&self, ctx: &CallContext, id: &ResumeId, as_company: &str) -> Result<Resume> {
        let caller = caller(ctx)?;
        let record = self
            .store
            .record(id)
            .await?
            .filter(|r| !r.deleted)
            .ok_or(Error::NotFound)?;
        if record.owner == caller.user_id && as_company.is_empty() {
            return self
                .store
                .version(id, record.version)
                .await?
                .ok_or(Error::NotFound);
        }
        let company = match CompanyId::from_name(as_company) {
            Some(c) => c,
            None if as_company.is_empty() => return Err(Error::NotFound),
            None => return Err(Error::invalid("as_company", "must be companies/{company}")),
        };
        let member = self
            .authz
            .allowed(
                &ctx.bearer,
                &caller.user_id,
                company.as_str(),
                READ_AS_COMPANY,
                Freshness::Cached,
            )
            .await?;
        if !member {
            return Err(Error::NotFound);
        }
        let opened = self.store.opened(id, &company).await?;
        let access = record.access_for(&company, opened).ok_or(Error::NotFound)?;
        let mut resume = self
            .store
            .version(id, access.version)
            .await?
            .ok_or(Error::NotFound)?;
        if !access.contact {
            resume.content.contact = None;
        }
        Ok(resume)
    }

    /// A page of the caller's live resumes (at most `limit` of them after the page
    /// `page_token` ended, together within `budget` encoded bytes, at least one), oldest
    /// first, and the next page's token ("" on the last page). Tokens are the caller's own:
    /// another list's, or another user's, is refused on `page_token`.
    pub async fn list(
        &self,
        ctx: &CallContext,
        limit: i64,
        page_token: &str,
        budget: usize,
    ) -> Result<(Vec<Resume>, String)> {
        let caller = caller(ctx)?;
        let pages = Pages::of("resume.resumes").bind(&caller.user_id);
        let after = pages.parse(page_token)?;
        self.store
            .list(&caller.user_id, after, limit, budget, &pages)
            .await
    }

    /// Saves `content` as the next version of the caller's resume `id`, if it is at
    /// `expected_version` (0: whatever version it is at).
    pub async fn update(
        &self,
        ctx: &CallContext,
        id: &ResumeId,
        content: Content,
        expected_version: i64,
    ) -> Result<Resume> {
        check(&content)?;
        let record = self.own(ctx, id).await?;
        let expected = if expected_version > 0 {
            expected_version
        } else {
            record.version
        };
        self.new_version(&record, content, expected).await
    }

    /// Deletes the caller's resume `id` (a tombstone version; its history is kept).
    pub async fn delete(&self, ctx: &CallContext, id: &ResumeId) -> Result<()> {
        let record = self.own(ctx, id).await?;
        let mut tx = self.store.begin().await?;
        self.store.delete(&mut tx, id, record.version).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A page of the history of the caller's resume `id`, newest first: at most `limit`
    /// versions older than `before`, together within `budget` encoded bytes (at least one);
    /// and whether more follow.
    pub async fn versions(
        &self,
        ctx: &CallContext,
        id: &ResumeId,
        before: Option<i64>,
        limit: i64,
        budget: usize,
    ) -> Result<(Vec<ResumeVersion>, bool)> {
        self.own(ctx, id).await?;
        self.store.versions(id, before, limit, budget).await
    }

    /// Saves the content of `version` as the newest version of the caller's resume `id`.
    pub async fn restore(&self, ctx: &CallContext, id: &ResumeId, version: i64) -> Result<Resume> {
        let record = self.own(ctx, id).await?;
        let old = self
            .store
            .stored_version(id, version)
            .await?
            .ok_or_else(|| Error::invalid("version", "no such version of this resume"))?;
        self.new_version(&record, old.content, record.version).await
    }

    /// Imports resumes (each a list of versions' content, oldest first) for the caller, all or
    /// nothing. Each resume is saved once, as a new resume at version 1 holding the newest
    /// version's content, with one event: what an import writes grows with the resumes it
    /// carries, not with the history in the document (which is read, but not replayed). The
    /// saved resumes, in the document's order.
    ///
    /// # Errors
    /// `Invalid` when the newest version of a resume breaks a limit (every problem named);
    /// `ImportBudget` (RESOURCE_EXHAUSTED, with when to retry) when the resumes would take
    /// the caller's resumes created within the budget's window past its limit. The count is
    /// read in the import's transaction without a lock, so concurrent imports of one owner
    /// may each pass it: the budget can be overrun by what those in flight carry, each at most
    /// `grpc::portable::MAX_IMPORT_RESUMES`.
    pub async fn import(
        &self,
        ctx: &CallContext,
        resumes: Vec<Vec<Content>>,
    ) -> Result<Vec<Resume>> {
        let caller = keeper(ctx)?;
        let problems = import_violations(&resumes);
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let at = db_now();
        let saved: Vec<Resume> = resumes
            .into_iter()
            .filter_map(|versions| versions.into_iter().next_back())
            .map(|newest| Resume::stamped(ResumeId::generate(), &caller.user_id, 1, at, newest, at))
            .collect();
        let adding = i64::try_from(saved.len()).unwrap_or(i64::MAX);
        let mut tx = self.store.begin().await?;
        let window =
            chrono::Duration::from_std(self.import_budget.window).unwrap_or(chrono::Duration::MAX);
        let since = at
            .checked_sub_signed(window)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let used = self
            .store
            .created_since(&mut tx, &caller.user_id, since)
            .await?;
        if !self.import_budget.allows(used, adding) {
            // When the resume whose leaving makes room left the window; the whole window when
            // nothing but waiting it out helps.
            let frees = match self.import_budget.must_age_out(used, adding) {
                Some(rank) => {
                    self.store
                        .created_at_rank(&mut tx, &caller.user_id, since, rank)
                        .await?
                }
                None => None,
            };
            let retry_after = frees
                .and_then(|oldest| oldest.checked_add_signed(window))
                .map(|leaves| (leaves - at).to_std().unwrap_or_default())
                .unwrap_or(self.import_budget.window)
                .max(std::time::Duration::from_secs(1));
            return Err(Error::ImportBudget {
                limit: self.import_budget.resumes,
                window_secs: self.import_budget.window.as_secs(),
                retry_after,
            });
        }
        self.store.insert_many(&mut tx, &saved).await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// A page of the caller's export: the live resumes after the page `page_token` ended,
    /// oldest first, each offered to `take` with its newest versions (oldest first; at most
    /// 200, and only as many as fit in `budget` stored bytes, at least the newest), until
    /// `limit` were taken or `take` refuses one (the page's document is full: that resume opens
    /// the next page); the next page's token ("" after the last resume). `take` must accept
    /// the first resume of a page (cutting its versions if need be), or the walk could not
    /// move on (`Internal`). Tokens are the caller's own, refused on `page_token` otherwise.
    pub async fn export(
        &self,
        ctx: &CallContext,
        limit: i64,
        page_token: &str,
        budget: usize,
        mut take: impl FnMut(&[Resume]) -> Result<bool>,
    ) -> Result<String> {
        let caller = caller(ctx)?;
        let pages = Pages::of("resume.export").bind(&caller.user_id);
        let after = pages.parse(page_token)?;
        let records = self.store.live(&caller.user_id, after, limit).await?;
        let next = |last: Option<&Record>| match last {
            Some(r) => Ok(pages.token(&Cursor {
                created_at: r.created_at,
                id: r.id.as_str().to_string(),
            })),
            None => Err(Error::Internal("an export page took no resume".into())),
        };
        let mut last = None;
        for (taken, record) in records.iter().enumerate() {
            if i64::try_from(taken).unwrap_or(i64::MAX) >= limit {
                return next(last);
            }
            let versions = self.store.export_versions(&record.id, budget).await?;
            // Every saved resume has a version; one without would make a page import refuses.
            if !versions.is_empty() && !take(&versions)? {
                return next(last);
            }
            last = Some(record);
        }
        Ok(String::new())
    }
}
