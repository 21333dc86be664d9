//! Company profiles and enterprise verification: create, read, list (through the search
//! index), update, delete, submit a verification, review it.

use talentmesh_mesh::{CallContext, Caller};
use talentmesh_storage::paging::Pages;

use super::{begin_change, caller, Access, Privacy};
use crate::domain::names::{company_id, company_name};
use crate::domain::{
    page_size, page_token_problem, CompanyAggregate, CompanyFilter, CompanyView, Invalid, Member,
    Permission, ProfileField, ProfileInput, Role, VerificationInput, VerificationState,
};
use crate::error::{Error, Result};
use crate::store::audit::Record;
use crate::store::companies::NewCompany;
use crate::store::{now, AuditLog, CompanyStore, MemberStore, SearchIndex};

/// The longest update-mask path echoed back in a refusal, in bytes.
const MAX_MASK_PATH: usize = 64;

/// A profile update as a client sent it: the company's name and the new values.
#[derive(Debug, Clone)]
pub struct ProfileUpdate {
    /// `companies/{id}`.
    pub name: String,
    pub profile: ProfileInput,
}

/// Companies and their verification.
pub struct Companies {
    store: CompanyStore,
    members: MemberStore,
    search: SearchIndex,
    access: Access,
}

impl Companies {
    /// The service over its stores and the access rule.
    pub fn new(
        store: CompanyStore,
        members: MemberStore,
        search: SearchIndex,
        access: Access,
    ) -> Companies {
        Companies {
            store,
            members,
            search,
            access,
        }
    }

    /// The company as `ctx`'s caller sees it: the verification only for members and admins.
    async fn view(&self, ctx: &CallContext, aggregate: CompanyAggregate) -> Result<CompanyView> {
        let (role, private) = match &ctx.caller {
            Some(caller) => {
                let m = self
                    .access
                    .authz()
                    .membership(&caller.user_id, &aggregate.company.id)
                    .await?;
                (
                    m.role,
                    caller.is_admin() || m.allows(Permission::CompanyRead),
                )
            }
            None => (None, false),
        };
        Ok(CompanyView {
            company: aggregate.company,
            role,
            private,
        })
    }

    /// Creates a company owned by the caller (employers and admins only). Ids, owner,
    /// verification and timestamps are the server's: whatever the client sent for them is
    /// ignored.
    pub async fn create(
        &self,
        ctx: &CallContext,
        profile: Option<ProfileInput>,
    ) -> Result<CompanyView> {
        let caller = caller(ctx)?;
        if !(caller.has_role("employer") || caller.is_admin()) {
            return Err(Error::EmployersOnly);
        }
        let input = profile.ok_or_else(|| Error::invalid("company", "is required"))?;
        let problems = input.check(&ProfileField::ALL);
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let profile = input.into_profile();
        let id = uuid::Uuid::now_v7().to_string();
        let at = now();
        let mut tx = self.store.begin().await?;
        self.store
            .insert(
                &mut tx,
                NewCompany {
                    id: &id,
                    profile: &profile,
                    creator: &caller.user_id,
                    at,
                },
            )
            .await?;
        let owner = Member {
            company_id: id.clone(),
            user_id: caller.user_id.clone(),
            email: caller.email.clone(),
            role: Role::Owner,
            joined_at: at,
        };
        if !self.members.insert(&mut tx, &owner).await? {
            return Err(Error::Internal(format!(
                "company {id} already had an owner"
            )));
        }
        AuditLog::record(
            &mut tx,
            Record {
                company: &id,
                action: "member.added",
                actor: &caller.user_id,
                target: &format!("{}/members/{}", company_name(&id), caller.user_id),
                detail: serde_json::json!({"role": "owner", "via": "create"}),
            },
        )
        .await?;
        let aggregate = self.store.record_state(tx, &id).await?;
        Ok(CompanyView {
            company: aggregate.company,
            role: Some(Role::Owner),
            private: true,
        })
    }

    /// A live company by name.
    pub async fn get(&self, ctx: &CallContext, name: &str) -> Result<CompanyView> {
        let id = company_id("name", name)?;
        let aggregate = self
            .store
            .load(id)
            .await?
            .filter(|a| !a.company.deleted)
            .ok_or_else(|| Error::not_found("company"))?;
        self.view(ctx, aggregate).await
    }

    /// One page of companies matching `filter` (a keyset on the id, so pages stay put while
    /// companies are created), and the token of the next page ("" at the end), bound to the
    /// filter: a token of another filter or list is refused on `page_token`. Verification
    /// documents are shown to platform admins only.
    pub async fn list(
        &self,
        ctx: &CallContext,
        filter: CompanyFilter,
        page_token: &str,
        page_size_asked: i32,
    ) -> Result<(Vec<CompanyView>, String)> {
        let mut problems = filter.check();
        let pages = Pages::of("company.companies")
            .bind(&filter.industry)
            .bind(&filter.city_code)
            .bind(format_args!("{:?}", filter.verification_state))
            .bind(&filter.query);
        let parsed = match page_token_problem(page_token) {
            Some(problem) => Err(problem),
            None => pages
                .parse::<String>(page_token)
                .map_err(|v| Invalid::new(v.field, v.description)),
        };
        let after = match parsed {
            Ok(Some(id)) if uuid::Uuid::parse_str(&id).is_err() => {
                problems.push(Invalid::new("page_token", "not a token from this list"));
                None
            }
            Ok(after) => after,
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let limit = page_size("page_size", page_size_asked, 20, 100)?;
        let (ids, next) = self
            .search
            .list(&filter, after.as_deref().unwrap_or_default(), limit)
            .await?;
        let mut found = self.store.load_many(&ids).await?;
        // The index may lag MySQL by a moment: a company deleted since is left out.
        found.retain(|a| !a.company.deleted);
        found.sort_by(|a, b| a.company.id.cmp(&b.company.id));
        let private = ctx.is_admin();
        let views = found
            .into_iter()
            .map(|a| CompanyView {
                company: a.company,
                role: None,
                private,
            })
            .collect();
        Ok((views, next.map(|id| pages.token(&id)).unwrap_or_default()))
    }

    /// Changes the profile fields `paths` names; `expected_version` (when above 0) must be the
    /// current version.
    pub async fn update(
        &self,
        ctx: &CallContext,
        update: Option<ProfileUpdate>,
        paths: &[String],
        expected_version: i64,
    ) -> Result<CompanyView> {
        let caller = caller(ctx)?;
        let update = update.ok_or_else(|| Error::invalid("company", "is required"))?;
        let id = company_id("company.name", &update.name)?.to_string();
        if paths.is_empty() {
            return Err(Error::invalid(
                "update_mask",
                "name at least one field to change",
            ));
        }
        // Raw gRPC takes up to the message limit: the mask is bounded before anything in it is
        // read or echoed back.
        if paths.len() > ProfileField::ALL.len() {
            return Err(Error::invalid(
                "update_mask",
                format!(
                    "at most {} paths (changeable: {})",
                    ProfileField::ALL.len(),
                    ProfileField::paths()
                ),
            ));
        }
        let mut problems = Vec::new();
        let mut fields = Vec::new();
        for p in paths {
            match ProfileField::parse(p) {
                Some(f) => fields.push(f),
                None if p.len() > MAX_MASK_PATH => problems.push(Invalid::new(
                    "update_mask",
                    format!(
                        "a path is at most {MAX_MASK_PATH} bytes (changeable: {})",
                        ProfileField::paths()
                    ),
                )),
                None => problems.push(Invalid::new(
                    "update_mask",
                    format!(
                        "{p} cannot be changed here (changeable: {})",
                        ProfileField::paths()
                    ),
                )),
            }
        }
        problems.extend(update.profile.check(&fields));
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let profile = update.profile.into_profile();
        let m = self
            .access
            .require(caller, &id, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = begin_change(&self.store, &id).await?;
        if expected_version > 0 {
            let current = self.store.version(&mut tx, &id).await?;
            if current != expected_version {
                return Err(talentmesh_storage::Error::Conflict(
                    talentmesh_storage::outbox::Conflict {
                        table: "companies",
                        id: id.clone(),
                        expected: expected_version,
                        actual: Some(current),
                    },
                )
                .into());
            }
        }
        // A name the verification vouches for changes only through review: a verified (or
        // pending) company that renames itself goes (back) to pending, in this transaction.
        let review = if fields.contains(&ProfileField::DisplayName) {
            let (state, before) = self.store.vouched_name(&mut tx, &id).await?;
            state
                .rename_needs_review(&before, &profile.display_name)
                .then_some((state, before))
        } else {
            None
        };
        self.store
            .set_profile(&mut tx, &id, &profile, &fields)
            .await?;
        if let Some((from, before)) = review {
            self.store.reopen_verification(&mut tx, &id, now()).await?;
            AuditLog::record(
                &mut tx,
                Record {
                    company: &id,
                    action: "verification.reopened",
                    actor: &caller.user_id,
                    target: &update.name,
                    detail: serde_json::json!({
                        "from": from.as_str(),
                        "to": VerificationState::Pending.as_str(),
                        "because": "display_name changed",
                        "display_name": {"from": before, "to": profile.display_name},
                    }),
                },
            )
            .await?;
        }
        let aggregate = self.store.finish_change(tx, &id).await?;
        Ok(CompanyView {
            company: aggregate.company,
            role: m.role,
            private: true,
        })
    }

    /// Deletes a company (owners only): its credit code is freed and its memberships stop
    /// granting anything.
    pub async fn delete(&self, ctx: &CallContext, name: &str) -> Result<()> {
        let caller = caller(ctx)?;
        let id = company_id("name", name)?.to_string();
        self.access
            .require(caller, &id, Permission::CompanyDelete, Privacy::Public)
            .await?;
        let authz = self.access.authz();
        authz.before_change(&id).await?;
        let mut tx = begin_change(&self.store, &id).await?;
        self.store.mark_deleted(&mut tx, &id).await?;
        AuditLog::record(
            &mut tx,
            Record {
                company: &id,
                action: "company.deleted",
                actor: &caller.user_id,
                target: name,
                detail: serde_json::json!({}),
            },
        )
        .await?;
        let aggregate = self.store.finish_change(tx, &id).await?;
        authz
            .after_change(&id, aggregate.company.permission_version)
            .await;
        Ok(())
    }

    /// Submits the company's enterprise verification for review (unverified or rejected
    /// companies only; one credit code verifies one company).
    pub async fn submit_verification(
        &self,
        ctx: &CallContext,
        name: &str,
        input: VerificationInput,
    ) -> Result<CompanyView> {
        let caller = caller(ctx)?;
        let id = company_id("name", name)?.to_string();
        let submission = input.parse()?;
        let m = self
            .access
            .require(caller, &id, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = begin_change(&self.store, &id).await?;
        let current = self.store.verification_state(&mut tx, &id).await?;
        match current {
            VerificationState::Pending => return Err(Error::VerificationPending),
            VerificationState::Verified => return Err(Error::AlreadyVerified),
            VerificationState::Unverified | VerificationState::Rejected => {}
        }
        if self
            .store
            .verified_elsewhere(&mut tx, submission.uscc.as_str(), &id)
            .await?
        {
            return Err(Error::UsccTaken);
        }
        self.store
            .submit_verification(&mut tx, &id, &submission, now())
            .await?;
        AuditLog::record(
            &mut tx,
            Record {
                company: &id,
                action: "verification.submitted",
                actor: &caller.user_id,
                target: name,
                detail: serde_json::json!({
                    "from": current.as_str(),
                    "to": "pending",
                    "uscc": submission.uscc.as_str(),
                }),
            },
        )
        .await?;
        let aggregate = self.store.finish_change(tx, &id).await?;
        Ok(CompanyView {
            company: aggregate.company,
            role: m.role,
            private: true,
        })
    }

    /// Approves or rejects a pending verification (platform admins only; a rejection needs a
    /// reason).
    pub async fn review_verification(
        &self,
        ctx: &CallContext,
        name: &str,
        approve: bool,
        reason: &str,
    ) -> Result<CompanyView> {
        let caller: &Caller = caller(ctx)?;
        let id = company_id("name", name)?.to_string();
        if let Some(problem) =
            crate::domain::text_problem("reason", reason, talentmesh_text::Lines::Multi)
        {
            return Err(problem.into());
        }
        if !approve && reason.trim().is_empty() {
            return Err(Error::invalid("reason", "is required when rejecting"));
        }
        if reason.chars().count() > 1000 {
            return Err(Error::invalid("reason", "at most 1000 characters"));
        }
        if !caller.is_admin() {
            return Err(Error::AdminsOnly);
        }
        let mut tx = begin_change(&self.store, &id).await?;
        if self.store.verification_state(&mut tx, &id).await? != VerificationState::Pending {
            return Err(Error::VerificationNotPending);
        }
        let reason = reason.trim();
        if !self
            .store
            .review(&mut tx, &id, approve, reason, &caller.user_id, now())
            .await?
        {
            return Err(Error::UsccTaken);
        }
        let (action, to) = if approve {
            ("verification.approved", VerificationState::Verified)
        } else {
            ("verification.rejected", VerificationState::Rejected)
        };
        AuditLog::record(
            &mut tx,
            Record {
                company: &id,
                action,
                actor: &caller.user_id,
                target: name,
                detail: serde_json::json!({"from": "pending", "to": to.as_str(), "reason": reason}),
            },
        )
        .await?;
        let aggregate = self.store.finish_change(tx, &id).await?;
        self.view(ctx, aggregate).await
    }
}
