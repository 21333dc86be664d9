//! Members, invitations, permission checks for other services, and the audit log's reader.
//!
//! Every membership change runs under the company row's lock, bumps the company's
//! `permission_version` and writes its audit entry in one transaction, between the permission
//! cache's `before_change` and `after_change` (see `authz`).

use std::time::Duration;

use chrono::Utc;
use talentmesh_mesh::CallContext;
use talentmesh_ratelimit::{Limit, Limiter, Rate, WhenDown};
use talentmesh_storage::paging::Pages;

use super::{begin_change, caller, Access, Privacy};
use crate::domain::member::normal_email;
use crate::domain::names::{child_id, company_id, company_name, user_id};
use crate::domain::permissions::keeps_an_owner;
use crate::domain::{
    page_size, AuditEntry, Decision, Invitation, Member, Membership, Permission, Role,
};
use crate::error::{Error, Result};
use crate::store::audit::Record;
use crate::store::{now, AuditLog, CompanyStore, MemberStore, Tx};

/// Checks per batch, at most.
pub const MAX_BATCH: usize = 100;

/// The rate limit on invitations per inviter: the `limit` label of its
/// `talentmesh_ratelimit_*` series, made at 0 when the service starts.
pub const INVITE_PER_INVITER: &str = "invite_per_inviter";

/// The longest permission name a check may carry, in bytes (the longest known is 22).
const MAX_PERMISSION_NAME: usize = 64;

/// A new invitation as a client sent it.
#[derive(Debug, Clone)]
pub struct InvitationInput {
    pub email: String,
    /// `None`: no role, or one this server does not know.
    pub role: Option<Role>,
}

/// Another service's question: may `subject` (`users/{id}`) do `permission` (e.g.
/// `job.write`) to `company` (`companies/{id}`)?
#[derive(Debug, Clone, Default)]
pub struct PermissionQuery {
    pub subject: String,
    pub company: String,
    pub permission: String,
}

/// Members, invitations, decisions and the audit log.
pub struct Members {
    companies: CompanyStore,
    members: MemberStore,
    audit: AuditLog,
    access: Access,
    /// Invitations expire after this (wall-clock).
    invitation_ttl: Duration,
    /// Invitations per inviter (none until [`Members::with_invite_limit`]).
    invite_limit: Option<(Limiter, Rate)>,
}

impl Members {
    /// The service over its stores and the access rule; invitations live `invitation_ttl`.
    pub fn new(
        companies: CompanyStore,
        members: MemberStore,
        audit: AuditLog,
        access: Access,
        invitation_ttl: Duration,
    ) -> Members {
        Members {
            companies,
            members,
            audit,
            access,
            invitation_ttl,
            invite_limit: None,
        }
    }

    /// Limits each user to `rate` invitations, counted in `limiter`.
    pub fn with_invite_limit(mut self, limiter: Limiter, rate: Rate) -> Members {
        self.invite_limit = Some((limiter, rate));
        self
    }

    /// A membership change's transaction: the cached version forgotten, the company row
    /// locked.
    async fn begin_membership(&self, company: &str) -> Result<Tx> {
        self.access.authz().before_change(company).await?;
        begin_change(&self.companies, company).await
    }

    /// Bumps the permission version and commits; then publishes the new version.
    async fn commit_membership(&self, mut tx: Tx, company: &str) -> Result<()> {
        let version = self
            .companies
            .bump_permission_version(&mut tx, company)
            .await?;
        tx.commit().await?;
        self.access.authz().after_change(company, version).await;
        Ok(())
    }

    /// The members of company `parent` (members and admins only).
    pub async fn list(&self, ctx: &CallContext, parent: &str) -> Result<Vec<Member>> {
        let caller = caller(ctx)?;
        let id = company_id("parent", parent)?;
        self.access
            .require(caller, id, Permission::CompanyRead, Privacy::Private)
            .await?;
        self.members.list(id).await
    }

    /// Invites an address into company `parent` in a role no stronger than the inviter's.
    pub async fn invite(
        &self,
        ctx: &CallContext,
        parent: &str,
        invitation: Option<InvitationInput>,
    ) -> Result<Invitation> {
        let caller = caller(ctx)?;
        let company = company_id("parent", parent)?.to_string();
        let input = invitation.ok_or_else(|| Error::invalid("invitation", "is required"))?;
        let email = normal_email("invitation.email", &input.email)?;
        let role = input.role.ok_or_else(|| {
            Error::invalid("invitation.role", "one of owner, admin, recruiter, viewer")
        })?;
        let m = self
            .access
            .require(
                caller,
                &company,
                Permission::ManageMembers,
                Privacy::Private,
            )
            .await?;
        if !m.role.is_some_and(|r| r.may_assign(role)) {
            return Err(Error::RoleTooStrong(format!(
                "a {} cannot invite a {}",
                m.role.map_or("non-member", Role::as_str),
                role.as_str()
            )));
        }
        // After the checks, so only a permitted call spends the caller's own budget; refused
        // while Redis is down (an invitation can wait; an unlimited spell cannot be undone).
        if let Some((limiter, rate)) = &self.invite_limit {
            let limit = Limit::new(INVITE_PER_INVITER, &caller.user_id, *rate);
            limiter.check(&[limit], WhenDown::Refuse).await?;
        }
        let mut tx = begin_change(&self.companies, &company).await?;
        if self.members.has_email(&mut tx, &company, &email).await? {
            return Err(Error::AlreadyMember("that address is already a member"));
        }
        let at = now();
        let expires = at
            + chrono::Duration::from_std(self.invitation_ttl)
                .unwrap_or_else(|_| chrono::Duration::days(7));
        let invitation = Invitation {
            id: uuid::Uuid::now_v7().to_string(),
            company_id: company.clone(),
            email,
            role,
            inviter: caller.user_id.clone(),
            accepted_by: None,
            created_at: at,
            expires_at: expires,
        };
        self.members.insert_invitation(&mut tx, &invitation).await?;
        AuditLog::record(
            &mut tx,
            Record {
                company: &company,
                action: "invitation.created",
                actor: &caller.user_id,
                target: &format!("{}/invitations/{}", company_name(&company), invitation.id),
                detail: serde_json::json!({"email": invitation.email, "role": role.as_str()}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(invitation)
    }

    /// Invitation `name` (`companies/{company}/invitations/{invitation}`), for managers of
    /// the company only, as [`Members::invitations`]: what a replayed create answers.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the invitation is gone, or the company is gone or private to the
    /// caller; [`Error::MissingPermission`] for a member who may no longer manage members.
    pub async fn invitation(&self, ctx: &CallContext, name: &str) -> Result<Invitation> {
        let caller = caller(ctx)?;
        let (company, id) = child_id("name", name, "invitations")?;
        self.access
            .require(caller, company, Permission::ManageMembers, Privacy::Private)
            .await?;
        self.members
            .invitation(company, id)
            .await?
            .ok_or_else(|| Error::not_found("invitation"))
    }

    /// The invitations of company `parent`, newest first (managers only).
    pub async fn invitations(&self, ctx: &CallContext, parent: &str) -> Result<Vec<Invitation>> {
        let caller = caller(ctx)?;
        let company = company_id("parent", parent)?;
        self.access
            .require(caller, company, Permission::ManageMembers, Privacy::Private)
            .await?;
        self.members.invitations(company).await
    }

    /// The invited caller joins in the invitation's role.
    pub async fn accept(&self, ctx: &CallContext, name: &str) -> Result<Member> {
        let caller = caller(ctx)?;
        let (company, invitation) = child_id("name", name, "invitations")?;
        let company = company.to_string();
        let mut tx = self.begin_membership(&company).await?;
        // Someone else's invitation looks like none at all.
        let invitation = self
            .members
            .invitation_for_update(&mut tx, &company, invitation)
            .await?
            .filter(|i| i.is_for(&caller.email))
            .ok_or_else(|| Error::not_found("invitation"))?;
        if invitation.accepted_by.is_some() {
            return Err(Error::InvitationUsed);
        }
        if invitation.expires_at <= Utc::now() {
            return Err(Error::InvitationExpired);
        }
        const ALREADY: &str = "already a member of this company";
        if self
            .members
            .get(&mut tx, &company, &caller.user_id)
            .await?
            .is_some()
        {
            return Err(Error::AlreadyMember(ALREADY));
        }
        let at = now();
        let member = Member {
            company_id: company.clone(),
            user_id: caller.user_id.clone(),
            email: invitation.email.clone(),
            role: invitation.role,
            joined_at: at,
        };
        if !self.members.insert(&mut tx, &member).await? {
            return Err(Error::AlreadyMember(ALREADY));
        }
        self.members
            .accept(&mut tx, &invitation.id, &caller.user_id, at)
            .await?;
        AuditLog::record(
            &mut tx,
            Record {
                company: &company,
                action: "member.added",
                actor: &caller.user_id,
                target: &format!("{}/members/{}", company_name(&company), caller.user_id),
                detail: serde_json::json!({
                    "role": invitation.role.as_str(),
                    "via": "invitation",
                    "invitation": invitation.id,
                }),
            },
        )
        .await?;
        self.commit_membership(tx, &company).await?;
        Ok(member)
    }

    /// Changes a member's role. Nobody changes someone stronger than themselves, or hands out
    /// more than they hold; the last owner stays an owner.
    pub async fn set_role(
        &self,
        ctx: &CallContext,
        name: &str,
        role: Option<Role>,
    ) -> Result<Member> {
        let caller = caller(ctx)?;
        let (company, user) = child_id("name", name, "members")?;
        let (company, user) = (company.to_string(), user.to_string());
        let to =
            role.ok_or_else(|| Error::invalid("role", "one of owner, admin, recruiter, viewer"))?;
        let m = self
            .access
            .require(
                caller,
                &company,
                Permission::ManageMembers,
                Privacy::Private,
            )
            .await?;
        let mut tx = self.begin_membership(&company).await?;
        let mut target = self
            .members
            .get(&mut tx, &company, &user)
            .await?
            .ok_or_else(|| Error::not_found("member"))?;
        let from = target.role;
        let mine = m.role.unwrap_or(Role::Viewer);
        if !(mine <= from && mine.may_assign(to)) {
            return Err(Error::RoleTooStrong(format!(
                "a {} cannot change a {} to {}",
                mine.as_str(),
                from.as_str(),
                to.as_str()
            )));
        }
        if from == Role::Owner
            && to != Role::Owner
            && !keeps_an_owner(self.members.owners(&mut tx, &company).await?, true)
        {
            return Err(Error::LastOwner("the last owner cannot be demoted"));
        }
        self.members.set_role(&mut tx, &company, &user, to).await?;
        AuditLog::record(
            &mut tx,
            Record {
                company: &company,
                action: "member.role_changed",
                actor: &caller.user_id,
                target: name,
                detail: serde_json::json!({"from": from.as_str(), "to": to.as_str()}),
            },
        )
        .await?;
        self.commit_membership(tx, &company).await?;
        target.role = to;
        Ok(target)
    }

    /// Removes a member, or the caller leaves. Nobody removes someone stronger than
    /// themselves; the last owner cannot leave.
    pub async fn remove(&self, ctx: &CallContext, name: &str) -> Result<()> {
        let caller = caller(ctx)?;
        let (company, user) = child_id("name", name, "members")?;
        let (company, user) = (company.to_string(), user.to_string());
        let leaving = user == caller.user_id;
        let needs = if leaving {
            Permission::CompanyRead
        } else {
            Permission::ManageMembers
        };
        let m = self
            .access
            .require(caller, &company, needs, Privacy::Private)
            .await?;
        let mut tx = self.begin_membership(&company).await?;
        let target = self
            .members
            .get(&mut tx, &company, &user)
            .await?
            .ok_or_else(|| Error::not_found("member"))?;
        let role = target.role;
        if !leaving && m.role.is_none_or(|mine| mine > role) {
            return Err(Error::RoleTooStrong(format!(
                "cannot remove a {} as a {}",
                role.as_str(),
                m.role.map_or("non-member", Role::as_str)
            )));
        }
        if role == Role::Owner
            && !keeps_an_owner(self.members.owners(&mut tx, &company).await?, true)
        {
            return Err(Error::LastOwner("the last owner cannot leave"));
        }
        self.members.delete(&mut tx, &company, &user).await?;
        AuditLog::record(
            &mut tx,
            Record {
                company: &company,
                action: if leaving {
                    "member.left"
                } else {
                    "member.removed"
                },
                actor: &caller.user_id,
                target: name,
                detail: serde_json::json!({"role": role.as_str()}),
            },
        )
        .await?;
        self.commit_membership(tx, &company).await
    }

    /// One check for another service, its fields reported under `field`: the caller asks
    /// about itself, platform admins about anyone.
    async fn check_one(
        &self,
        ctx: &CallContext,
        field: &str,
        query: &PermissionQuery,
    ) -> Result<Decision> {
        let caller = caller(ctx)?;
        let user = user_id(&format!("{field}.subject"), &query.subject)?;
        let company = company_id(&format!("{field}.company"), &query.company)?;
        if query.permission.len() > MAX_PERMISSION_NAME {
            // Checked before parsing: the refusal of an unknown name echoes it.
            return Err(Error::invalid(
                format!("{field}.permission"),
                format!("at most {MAX_PERMISSION_NAME} bytes, e.g. job.write"),
            ));
        }
        let permission: Permission =
            query
                .permission
                .parse()
                .map_err(|e: crate::domain::permissions::UnknownName| {
                    Error::invalid(format!("{field}.permission"), e.to_string())
                })?;
        if user != caller.user_id && !caller.is_admin() {
            return Err(Error::SubjectNotCaller);
        }
        let m = self.access.authz().check(user, company, permission).await?;
        // A non-member learns nothing from a check: the answer about an existing company is the
        // answer about a missing one. (Its permission version would say the company exists and
        // how often its membership changes.) Platform admins see the version as it is.
        let permission_version = if m.role.is_some() || caller.is_admin() {
            m.version
        } else {
            Membership::NO_COMPANY.version
        };
        Ok(Decision {
            allowed: m.allows(permission),
            role: m.role,
            permission_version,
        })
    }

    /// One check (reported under `check`).
    pub async fn check(
        &self,
        ctx: &CallContext,
        query: Option<PermissionQuery>,
    ) -> Result<Decision> {
        caller(ctx)?;
        let query = query.ok_or_else(|| Error::invalid("check", "is required"))?;
        self.check_one(ctx, "check", &query).await
    }

    /// 1–[`MAX_BATCH`] checks at once (each reported under `checks[i]`), answered in order;
    /// the first failing check fails the batch.
    pub async fn check_batch(
        &self,
        ctx: &CallContext,
        queries: &[PermissionQuery],
    ) -> Result<Vec<Decision>> {
        caller(ctx)?;
        if queries.is_empty() || queries.len() > MAX_BATCH {
            return Err(Error::invalid(
                "checks",
                format!("between 1 and {MAX_BATCH} checks"),
            ));
        }
        let decisions = futures::future::join_all(queries.iter().enumerate().map(|(i, q)| {
            let field = format!("checks[{i}]");
            async move { self.check_one(ctx, &field, q).await }
        }))
        .await;
        decisions.into_iter().collect()
    }

    /// One page of company `parent`'s audit log, newest first, actions starting with
    /// `action_prefix`; and the token of the next page ("" at the end).
    pub async fn audit(
        &self,
        ctx: &CallContext,
        parent: &str,
        action_prefix: &str,
        page_token: &str,
        page_size_asked: i32,
    ) -> Result<(Vec<AuditEntry>, String)> {
        let caller = caller(ctx)?;
        let company = company_id("parent", parent)?.to_string();
        // A keyset on the row id, newest first; tokens bound to the company and the prefix.
        let pages = Pages::of("company.audit")
            .bind(&company)
            .bind(action_prefix);
        if let Some(problem) = crate::domain::page_token_problem(page_token) {
            return Err(problem.into());
        }
        let before: i64 = match pages.parse::<i64>(page_token) {
            Ok(None) => 0,
            Ok(Some(n)) if n > 0 => n,
            Ok(Some(_)) => return Err(Error::invalid("page_token", "not a token from this list")),
            Err(v) => return Err(Error::invalid(v.field, v.description)),
        };
        if let Some(problem) = crate::domain::text_problem(
            "action_prefix",
            action_prefix,
            talentmesh_text::Lines::Single,
        ) {
            return Err(problem.into());
        }
        if action_prefix.len() > 64 {
            return Err(Error::invalid("action_prefix", "at most 64 characters"));
        }
        let limit = page_size("page_size", page_size_asked, 50, 500)?;
        self.access
            .require(caller, &company, Permission::AuditRead, Privacy::Private)
            .await?;
        let mut entries = self
            .audit
            .list(&company, action_prefix, before, limit + 1)
            .await?;
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next = if more {
            entries
                .last()
                .map(|e| pages.token(&e.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((entries, next))
    }
}
