//! Members, invitations, permission checks for other services, and the audit log's reader.
//!
//! Every membership change runs under the company row's lock, bumps the company's
//! `permission_version` and writes its audit entry in one transaction, between the permission
//! cache's `before_change` and `after_change` (see `authz`).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::{MySql, Transaction};
use talentmesh_mesh::auth::Caller;
use talentmesh_mesh::ApiError;
use talentmesh_proto::company::v1 as pb;

use crate::audit::AuditLog;
use crate::core::{
    already_exists, child_id, company_id, failed_precondition, invalid, is_duplicate, not_found,
    now, page_size, timestamp, user_id, Core, Privacy,
};
use crate::domain::permissions::{keeps_an_owner, Permission, Role};
use crate::state::db;

/// Checks per batch, at most.
pub const MAX_BATCH: usize = 100;

pub fn role_to_pb(role: Role) -> pb::MemberRole {
    match role {
        Role::Owner => pb::MemberRole::Owner,
        Role::Admin => pb::MemberRole::Admin,
        Role::Recruiter => pb::MemberRole::Recruiter,
        Role::Viewer => pb::MemberRole::Viewer,
    }
}

pub fn role_from_pb(field: &str, value: i32) -> Result<Role, ApiError> {
    match pb::MemberRole::try_from(value) {
        Ok(pb::MemberRole::Owner) => Ok(Role::Owner),
        Ok(pb::MemberRole::Admin) => Ok(Role::Admin),
        Ok(pb::MemberRole::Recruiter) => Ok(Role::Recruiter),
        Ok(pb::MemberRole::Viewer) => Ok(Role::Viewer),
        _ => Err(invalid(field, "one of owner, admin, recruiter, viewer")),
    }
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    company_id: String,
    user_id: String,
    email: String,
    role: String,
    joined_at: DateTime<Utc>,
}

fn member_pb(r: &MemberRow) -> pb::Member {
    pb::Member {
        name: format!("companies/{}/members/{}", r.company_id, r.user_id),
        user: format!("users/{}", r.user_id),
        email: r.email.clone(),
        role: Role::from_str(&r.role).map_or(0, |role| role_to_pb(role) as i32),
        join_time: Some(timestamp(r.joined_at)),
    }
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: String,
    company_id: String,
    email: String,
    role: String,
    inviter: String,
    accepted_by: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

fn invitation_pb(r: &InvitationRow) -> pb::Invitation {
    let state = if r.accepted_by.is_some() {
        pb::InvitationState::Accepted
    } else if r.expires_at <= Utc::now() {
        pb::InvitationState::Expired
    } else {
        pb::InvitationState::Pending
    };
    pb::Invitation {
        name: format!("companies/{}/invitations/{}", r.company_id, r.id),
        email: r.email.clone(),
        role: Role::from_str(&r.role).map_or(0, |role| role_to_pb(role) as i32),
        state: state as i32,
        inviter: format!("users/{}", r.inviter),
        create_time: Some(timestamp(r.created_at)),
        expire_time: Some(timestamp(r.expires_at)),
    }
}

fn normal_email(field: &str, email: &str) -> Result<String, ApiError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !e.contains(char::is_whitespace)
        });
    if ok {
        Ok(e)
    } else {
        Err(invalid(field, "not an email address"))
    }
}

const MEMBER_COLUMNS: &str = "company_id, user_id, email, role, joined_at";

impl Core {
    /// A membership change's transaction: the company row locked.
    async fn begin_membership(
        &self,
        company: &str,
    ) -> Result<Transaction<'static, MySql>, ApiError> {
        self.authz.before_change(company).await?;
        self.begin_change(company).await
    }

    /// Bumps the permission version and commits; then publishes the new version.
    async fn commit_membership(
        &self,
        mut tx: Transaction<'static, MySql>,
        company: &str,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE companies SET permission_version = permission_version + 1 WHERE id = ?",
        )
        .bind(company)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let version: i64 =
            sqlx::query_scalar("SELECT permission_version FROM companies WHERE id = ?")
                .bind(company)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.authz.after_change(company, version).await;
        Ok(())
    }

    async fn member(
        tx: &mut Transaction<'static, MySql>,
        company: &str,
        user: &str,
    ) -> Result<Option<MemberRow>, ApiError> {
        sqlx::query_as(&format!(
            "SELECT {MEMBER_COLUMNS} FROM company_members WHERE company_id = ? AND user_id = ?"
        ))
        .bind(company)
        .bind(user)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)
    }

    async fn owners(
        tx: &mut Transaction<'static, MySql>,
        company: &str,
    ) -> Result<usize, ApiError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM company_members WHERE company_id = ? AND role = 'owner'",
        )
        .bind(company)
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub async fn list_members(
        &self,
        caller: &Caller,
        parent: &str,
    ) -> Result<Vec<pb::Member>, ApiError> {
        let id = company_id("parent", parent)?;
        self.require(caller, id, Permission::CompanyRead, Privacy::Private)
            .await?;
        let rows: Vec<MemberRow> = sqlx::query_as(&format!(
            "SELECT {MEMBER_COLUMNS} FROM company_members WHERE company_id = ? ORDER BY joined_at, user_id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.iter().map(member_pb).collect())
    }

    pub async fn create_invitation(
        &self,
        caller: &Caller,
        parent: &str,
        invitation: Option<pb::Invitation>,
    ) -> Result<pb::Invitation, ApiError> {
        let company = company_id("parent", parent)?.to_string();
        let inv = invitation.ok_or_else(|| invalid("invitation", "is required"))?;
        let email = normal_email("invitation.email", &inv.email)?;
        let role = role_from_pb("invitation.role", inv.role)?;
        let m = self
            .require(
                caller,
                &company,
                Permission::ManageMembers,
                Privacy::Private,
            )
            .await?;
        if !m.role.is_some_and(|r| r.may_assign(role)) {
            return Err(ApiError::permission_denied(format!(
                "a {} cannot invite a {}",
                m.role.map_or("non-member", Role::as_str),
                role.as_str()
            ))
            .with_reason("ROLE_TOO_STRONG"));
        }
        let mut tx = self.begin_change(&company).await?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM company_members WHERE company_id = ? AND email = ?",
        )
        .bind(&company)
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if existing.is_some() {
            return Err(already_exists(
                "that address is already a member",
                "ALREADY_MEMBER",
            ));
        }
        let at = now();
        let expires = at
            + chrono::Duration::from_std(self.invitation_ttl)
                .unwrap_or_else(|_| chrono::Duration::days(7));
        let row = InvitationRow {
            id: uuid::Uuid::now_v7().to_string(),
            company_id: company.clone(),
            email,
            role: role.as_str().to_string(),
            inviter: caller.user_id.clone(),
            accepted_by: None,
            created_at: at,
            expires_at: expires,
        };
        sqlx::query(
            "INSERT INTO company_invitations (id, company_id, email, role, inviter, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.id)
        .bind(&row.company_id)
        .bind(&row.email)
        .bind(&row.role)
        .bind(&row.inviter)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        AuditLog::record(
            &mut tx,
            &company,
            "invitation.created",
            &caller.user_id,
            &format!("companies/{company}/invitations/{}", row.id),
            serde_json::json!({"email": row.email, "role": row.role}),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(invitation_pb(&row))
    }

    pub async fn list_invitations(
        &self,
        caller: &Caller,
        parent: &str,
    ) -> Result<Vec<pb::Invitation>, ApiError> {
        let company = company_id("parent", parent)?;
        self.require(caller, company, Permission::ManageMembers, Privacy::Private)
            .await?;
        let rows: Vec<InvitationRow> = sqlx::query_as(
            "SELECT id, company_id, email, role, inviter, accepted_by, created_at, expires_at \
             FROM company_invitations WHERE company_id = ? ORDER BY created_at DESC LIMIT 500",
        )
        .bind(company)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.iter().map(invitation_pb).collect())
    }

    pub async fn accept_invitation(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<pb::Member, ApiError> {
        let (company, invitation) = child_id("name", name, "invitations")?;
        let company = company.to_string();
        let mut tx = self.begin_membership(&company).await?;
        let row: Option<InvitationRow> = sqlx::query_as(
            "SELECT id, company_id, email, role, inviter, accepted_by, created_at, expires_at \
             FROM company_invitations WHERE id = ? AND company_id = ? FOR UPDATE",
        )
        .bind(invitation)
        .bind(&company)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        // Someone else's invitation looks like none at all.
        let row = row
            .filter(|r| r.email.eq_ignore_ascii_case(caller.email.trim()))
            .ok_or_else(|| not_found("invitation"))?;
        if row.accepted_by.is_some() {
            return Err(failed_precondition(
                "the invitation was already accepted",
                "INVITATION_USED",
            ));
        }
        if row.expires_at <= Utc::now() {
            return Err(failed_precondition(
                "the invitation has expired",
                "INVITATION_EXPIRED",
            ));
        }
        if Self::member(&mut tx, &company, &caller.user_id)
            .await?
            .is_some()
        {
            return Err(already_exists(
                "already a member of this company",
                "ALREADY_MEMBER",
            ));
        }
        let at = now();
        let member = MemberRow {
            company_id: company.clone(),
            user_id: caller.user_id.clone(),
            email: row.email.clone(),
            role: row.role.clone(),
            joined_at: at,
        };
        let inserted = sqlx::query(
            "INSERT INTO company_members (company_id, user_id, email, role, joined_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&member.company_id)
        .bind(&member.user_id)
        .bind(&member.email)
        .bind(&member.role)
        .bind(member.joined_at)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(if is_duplicate(&e) {
                already_exists("already a member of this company", "ALREADY_MEMBER")
            } else {
                db(e)
            });
        }
        sqlx::query("UPDATE company_invitations SET accepted_by = ?, accepted_at = ? WHERE id = ?")
            .bind(&caller.user_id)
            .bind(at)
            .bind(&row.id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        AuditLog::record(
            &mut tx,
            &company,
            "member.added",
            &caller.user_id,
            &format!("companies/{company}/members/{}", caller.user_id),
            serde_json::json!({"role": row.role, "via": "invitation", "invitation": row.id}),
        )
        .await?;
        self.commit_membership(tx, &company).await?;
        Ok(member_pb(&member))
    }

    pub async fn update_member_role(
        &self,
        caller: &Caller,
        name: &str,
        role: i32,
    ) -> Result<pb::Member, ApiError> {
        let (company, user) = child_id("name", name, "members")?;
        let (company, user) = (company.to_string(), user.to_string());
        let to = role_from_pb("role", role)?;
        let m = self
            .require(
                caller,
                &company,
                Permission::ManageMembers,
                Privacy::Private,
            )
            .await?;
        let mut tx = self.begin_membership(&company).await?;
        let mut target = Self::member(&mut tx, &company, &user)
            .await?
            .ok_or_else(|| not_found("member"))?;
        let from = Role::from_str(&target.role).map_err(|e| ApiError::internal(&e))?;
        let mine = m.role.unwrap_or(Role::Viewer);
        // Nobody changes someone stronger than themselves, or hands out more than they hold.
        if !(mine <= from && mine.may_assign(to)) {
            return Err(ApiError::permission_denied(format!(
                "a {} cannot change a {} to {}",
                mine.as_str(),
                from.as_str(),
                to.as_str()
            ))
            .with_reason("ROLE_TOO_STRONG"));
        }
        if from == Role::Owner
            && to != Role::Owner
            && !keeps_an_owner(Self::owners(&mut tx, &company).await?, true)
        {
            return Err(failed_precondition(
                "the last owner cannot be demoted",
                "LAST_OWNER",
            ));
        }
        sqlx::query("UPDATE company_members SET role = ? WHERE company_id = ? AND user_id = ?")
            .bind(to.as_str())
            .bind(&company)
            .bind(&user)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        AuditLog::record(
            &mut tx,
            &company,
            "member.role_changed",
            &caller.user_id,
            name,
            serde_json::json!({"from": from.as_str(), "to": to.as_str()}),
        )
        .await?;
        self.commit_membership(tx, &company).await?;
        target.role = to.as_str().to_string();
        Ok(member_pb(&target))
    }

    pub async fn delete_member(&self, caller: &Caller, name: &str) -> Result<(), ApiError> {
        let (company, user) = child_id("name", name, "members")?;
        let (company, user) = (company.to_string(), user.to_string());
        let leaving = user == caller.user_id;
        let m = if leaving {
            self.require(caller, &company, Permission::CompanyRead, Privacy::Private)
                .await?
        } else {
            self.require(
                caller,
                &company,
                Permission::ManageMembers,
                Privacy::Private,
            )
            .await?
        };
        let mut tx = self.begin_membership(&company).await?;
        let target = Self::member(&mut tx, &company, &user)
            .await?
            .ok_or_else(|| not_found("member"))?;
        let role = Role::from_str(&target.role).map_err(|e| ApiError::internal(&e))?;
        if !leaving && m.role.is_none_or(|mine| mine > role) {
            return Err(ApiError::permission_denied(format!(
                "cannot remove a {} as a {}",
                role.as_str(),
                m.role.map_or("non-member", Role::as_str)
            ))
            .with_reason("ROLE_TOO_STRONG"));
        }
        if role == Role::Owner && !keeps_an_owner(Self::owners(&mut tx, &company).await?, true) {
            return Err(failed_precondition(
                "the last owner cannot leave",
                "LAST_OWNER",
            ));
        }
        sqlx::query("DELETE FROM company_members WHERE company_id = ? AND user_id = ?")
            .bind(&company)
            .bind(&user)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        AuditLog::record(
            &mut tx,
            &company,
            if leaving {
                "member.left"
            } else {
                "member.removed"
            },
            &caller.user_id,
            name,
            serde_json::json!({"role": role.as_str()}),
        )
        .await?;
        self.commit_membership(tx, &company).await
    }

    /// One check for another service: the caller asks about itself, platform admins about
    /// anyone.
    pub async fn check_permission(
        &self,
        caller: &Caller,
        field: &str,
        check: &pb::PermissionCheck,
    ) -> Result<pb::PermissionDecision, ApiError> {
        let user = user_id(&format!("{field}.subject"), &check.subject)?;
        let company = company_id(&format!("{field}.company"), &check.company)?;
        let permission = Permission::from_str(&check.permission)
            .map_err(|e| invalid(&format!("{field}.permission"), e.to_string()))?;
        if user != caller.user_id && !caller.is_admin() {
            return Err(
                ApiError::permission_denied("callers check their own permissions")
                    .with_reason("SUBJECT_NOT_CALLER"),
            );
        }
        let m = self.authz.check(user, company, permission).await?;
        Ok(pb::PermissionDecision {
            allowed: m.allows(permission),
            role: m.role.map_or(0, |r| role_to_pb(r) as i32),
            permission_version: m.version,
        })
    }

    pub async fn batch_check(
        &self,
        caller: &Caller,
        checks: &[pb::PermissionCheck],
    ) -> Result<Vec<pb::PermissionDecision>, ApiError> {
        if checks.is_empty() || checks.len() > MAX_BATCH {
            return Err(invalid(
                "checks",
                format!("between 1 and {MAX_BATCH} checks"),
            ));
        }
        let decisions = futures::future::join_all(checks.iter().enumerate().map(|(i, c)| {
            let field = format!("checks[{i}]");
            async move { self.check_permission(caller, &field, c).await }
        }))
        .await;
        decisions.into_iter().collect()
    }

    pub async fn list_audit(
        &self,
        caller: &Caller,
        req: pb::ListAuditEventsRequest,
    ) -> Result<(Vec<pb::AuditEvent>, String), ApiError> {
        let company = company_id("parent", &req.parent)?.to_string();
        let before: i64 = if req.page_token.is_empty() {
            0
        } else {
            req.page_token
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid("page_token", "not a token from this list"))?
        };
        if req.action_prefix.len() > 64 {
            return Err(invalid("action_prefix", "at most 64 characters"));
        }
        let limit = page_size("page_size", req.page_size, 50, 500)?;
        self.require(caller, &company, Permission::AuditRead, Privacy::Private)
            .await?;
        let rows = self
            .audit
            .list(&company, &req.action_prefix, before, limit + 1)
            .await?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(0);
        let events: Vec<pb::AuditEvent> = rows
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|r| pb::AuditEvent {
                id: r.id,
                action: r.action,
                actor: format!("users/{}", r.actor),
                target: r.target,
                detail: r.detail,
                create_time: Some(timestamp(r.created_at)),
            })
            .collect();
        let next = if more {
            events.last().map(|e| e.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((events, next))
    }
}
