//! The `company_members` and `company_invitations` tables, and the membership read that
//! permission decisions fall back to when the Redis cache has no answer.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::MySqlPool;
use talentmesh_storage::time::datetime;

use super::{is_duplicate, Tx};
use crate::domain::{Invitation, Member, Membership, Role};
use crate::error::{Error, Result};

fn role_of(stored: &str) -> Result<Role> {
    Role::from_str(stored).map_err(|e| Error::Internal(format!("stored member role: {e}")))
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    company_id: String,
    user_id: String,
    email: String,
    role: String,
    joined_at: DateTime<Utc>,
}

const MEMBER_COLUMNS: &str = "company_id, user_id, email, role, joined_at";

impl MemberRow {
    fn into_member(self) -> Result<Member> {
        Ok(Member {
            role: role_of(&self.role)?,
            company_id: self.company_id,
            user_id: self.user_id,
            email: self.email,
            joined_at: self.joined_at,
        })
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

const INVITATION_COLUMNS: &str =
    "id, company_id, email, role, inviter, accepted_by, created_at, expires_at";

impl InvitationRow {
    fn into_invitation(self) -> Result<Invitation> {
        Ok(Invitation {
            role: role_of(&self.role)?,
            id: self.id,
            company_id: self.company_id,
            email: self.email,
            inviter: self.inviter,
            accepted_by: self.accepted_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

/// Members and invitations.
#[derive(Clone)]
pub struct MemberStore {
    pool: MySqlPool,
}

impl MemberStore {
    /// Queries on `pool`.
    pub fn new(pool: MySqlPool) -> MemberStore {
        MemberStore { pool }
    }

    /// What `user` is in `company`, read from MySQL (an unreadable stored role counts as no
    /// membership).
    pub async fn membership(&self, user: &str, company: &str) -> Result<Membership> {
        let row: Option<(i64, bool, Option<String>)> = sqlx::query_as(
            "SELECT c.permission_version, c.deleted, m.role FROM companies c \
             LEFT JOIN company_members m ON m.company_id = c.id AND m.user_id = ? \
             WHERE c.id = ?",
        )
        .bind(user)
        .bind(company)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None | Some((_, true, _)) => Membership::NO_COMPANY,
            Some((version, false, role)) => Membership {
                exists: true,
                role: role.and_then(|r| Role::from_str(&r).ok()),
                version,
            },
        })
    }

    /// Adds a member; `Ok(false)` when the user already is one.
    pub async fn insert(&self, tx: &mut Tx, m: &Member) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO company_members (company_id, user_id, email, role, joined_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&m.company_id)
        .bind(&m.user_id)
        .bind(&m.email)
        .bind(m.role.as_str())
        .bind(datetime(m.joined_at))
        .execute(&mut **tx)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Member `user` of `company`.
    pub async fn get(&self, tx: &mut Tx, company: &str, user: &str) -> Result<Option<Member>> {
        let row: Option<MemberRow> = sqlx::query_as(&format!(
            "SELECT {MEMBER_COLUMNS} FROM company_members WHERE company_id = ? AND user_id = ?"
        ))
        .bind(company)
        .bind(user)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(MemberRow::into_member).transpose()
    }

    /// How many owners the company has.
    pub async fn owners(&self, tx: &mut Tx, company: &str) -> Result<usize> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM company_members WHERE company_id = ? AND role = 'owner'",
        )
        .bind(company)
        .fetch_one(&mut **tx)
        .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The company's members, by join time.
    pub async fn list(&self, company: &str) -> Result<Vec<Member>> {
        let rows: Vec<MemberRow> = sqlx::query_as(&format!(
            "SELECT {MEMBER_COLUMNS} FROM company_members WHERE company_id = ? ORDER BY joined_at, user_id"
        ))
        .bind(company)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MemberRow::into_member).collect()
    }

    /// Whether a member of the company joined with `email`.
    pub async fn has_email(&self, tx: &mut Tx, company: &str, email: &str) -> Result<bool> {
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM company_members WHERE company_id = ? AND email = ?",
        )
        .bind(company)
        .bind(email)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(existing.is_some())
    }

    /// Gives member `user` the role `role`.
    pub async fn set_role(&self, tx: &mut Tx, company: &str, user: &str, role: Role) -> Result<()> {
        sqlx::query("UPDATE company_members SET role = ? WHERE company_id = ? AND user_id = ?")
            .bind(role.as_str())
            .bind(company)
            .bind(user)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Removes member `user`.
    pub async fn delete(&self, tx: &mut Tx, company: &str, user: &str) -> Result<()> {
        sqlx::query("DELETE FROM company_members WHERE company_id = ? AND user_id = ?")
            .bind(company)
            .bind(user)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Stores a new invitation.
    pub async fn insert_invitation(&self, tx: &mut Tx, i: &Invitation) -> Result<()> {
        sqlx::query(
            "INSERT INTO company_invitations (id, company_id, email, role, inviter, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&i.id)
        .bind(&i.company_id)
        .bind(&i.email)
        .bind(i.role.as_str())
        .bind(&i.inviter)
        .bind(datetime(i.created_at))
        .bind(datetime(i.expires_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The company's invitations, newest first (at most 500).
    pub async fn invitations(&self, company: &str) -> Result<Vec<Invitation>> {
        let rows: Vec<InvitationRow> = sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM company_invitations WHERE company_id = ? \
             ORDER BY created_at DESC LIMIT 500"
        ))
        .bind(company)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(InvitationRow::into_invitation)
            .collect()
    }

    /// Invitation `id` of `company`, if there is one (no lock: a read).
    pub async fn invitation(&self, company: &str, id: &str) -> Result<Option<Invitation>> {
        let row: Option<InvitationRow> = sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM company_invitations WHERE id = ? AND company_id = ?"
        ))
        .bind(id)
        .bind(company)
        .fetch_optional(&self.pool)
        .await?;
        row.map(InvitationRow::into_invitation).transpose()
    }

    /// Invitation `id` of `company`, its row locked.
    pub async fn invitation_for_update(
        &self,
        tx: &mut Tx,
        company: &str,
        id: &str,
    ) -> Result<Option<Invitation>> {
        let row: Option<InvitationRow> = sqlx::query_as(&format!(
            "SELECT {INVITATION_COLUMNS} FROM company_invitations WHERE id = ? AND company_id = ? FOR UPDATE"
        ))
        .bind(id)
        .bind(company)
        .fetch_optional(&mut **tx)
        .await?;
        row.map(InvitationRow::into_invitation).transpose()
    }

    /// Marks invitation `id` accepted by `user` at `at`.
    pub async fn accept(&self, tx: &mut Tx, id: &str, user: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE company_invitations SET accepted_by = ?, accepted_at = ? WHERE id = ?")
            .bind(user)
            .bind(datetime(at))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
