//! What every RPC of the service shares: the store handles, the access rule, resource names,
//! and the transaction shape of a change to a company's state.

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{MySql, MySqlPool, Transaction};
use talentmesh_mesh::auth::Caller;
use talentmesh_mesh::error::{ErrorCode, FieldViolation};
use talentmesh_mesh::ApiError;
use talentmesh_storage::outbox::Outbox;

use crate::audit::AuditLog;
use crate::authz::{Authz, Membership};
use crate::domain::permissions::Permission;
use crate::geo_index::GeoIndex;
use crate::network::Network;
use crate::state::{db, load_one, Aggregate};

pub struct Core {
    pub pool: MySqlPool,
    pub pg: sqlx::PgPool,
    pub outbox: Outbox,
    pub authz: Authz,
    pub audit: AuditLog,
    pub geo: GeoIndex,
    pub network: Network,
    pub invitation_ttl: std::time::Duration,
}

/// Now, at the precision MySQL keeps (so what is returned equals what is read back).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn invalid(field: &str, description: impl Into<String>) -> ApiError {
    ApiError::invalid(vec![FieldViolation::new(field, description)])
}

pub fn not_found(what: &str) -> ApiError {
    ApiError::not_found(format!("{what} not found"))
}

fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// `companies/{id}` → id.
pub fn company_id<'a>(field: &str, name: &'a str) -> Result<&'a str, ApiError> {
    match name.strip_prefix("companies/") {
        Some(id) if is_id(id) => Ok(id),
        _ => Err(invalid(
            field,
            "must be companies/{company} with a company id",
        )),
    }
}

/// `users/{id}` → id.
pub fn user_id<'a>(field: &str, name: &'a str) -> Result<&'a str, ApiError> {
    match name.strip_prefix("users/") {
        Some(id) if !id.is_empty() && id.len() <= 64 && !id.contains('/') => Ok(id),
        _ => Err(invalid(field, "must be users/{user}")),
    }
}

/// `companies/{id}/<collection>/{child}` → (id, child).
pub fn child_id<'a>(
    field: &str,
    name: &'a str,
    collection: &str,
) -> Result<(&'a str, &'a str), ApiError> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["companies", company, c, child]
            if *c == collection && is_id(company) && !child.is_empty() && child.len() <= 64 =>
        {
            Ok((company, child))
        }
        _ => Err(invalid(
            field,
            format!("must be companies/{{company}}/{collection}/{{id}}"),
        )),
    }
}

/// How a refusal reads: private data of a company the caller is not in looks like a company
/// that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// The company's existence is public (its profile); a non-member is simply refused.
    Public,
    /// Members, audit, verification documents, analytics: a non-member gets NOT_FOUND.
    Private,
}

impl Core {
    /// The caller's membership, if it grants `permission` (platform admins may read anything).
    pub async fn require(
        &self,
        caller: &Caller,
        company: &str,
        permission: Permission,
        privacy: Privacy,
    ) -> Result<Membership, ApiError> {
        let m = self
            .authz
            .check(&caller.user_id, company, permission)
            .await?;
        if !m.exists {
            return Err(not_found("company"));
        }
        if m.allows(permission) {
            return Ok(m);
        }
        let admin_read = caller.is_admin()
            && matches!(
                permission,
                Permission::CompanyRead | Permission::AuditRead | Permission::AnalyticsRead
            );
        if admin_read {
            return Ok(m);
        }
        if m.role.is_none() && privacy == Privacy::Private {
            return Err(not_found("company"));
        }
        Err(
            ApiError::permission_denied(format!("needs {permission} on this company"))
                .with_reason("MISSING_PERMISSION")
                .with_metadata("permission", permission.as_str()),
        )
    }

    /// Starts a change to a company's state: a transaction holding the company's row lock.
    pub async fn begin_change(
        &self,
        company: &str,
    ) -> Result<Transaction<'static, MySql>, ApiError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let found: Option<bool> =
            sqlx::query_scalar("SELECT deleted FROM companies WHERE id = ? FOR UPDATE")
                .bind(company)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        match found {
            Some(false) => Ok(tx),
            _ => Err(not_found("company")),
        }
    }

    /// Ends a change: bumps the version, records the new state's event, commits.
    pub async fn finish_change(
        &self,
        mut tx: Transaction<'static, MySql>,
        company: &str,
    ) -> Result<Aggregate, ApiError> {
        sqlx::query("UPDATE companies SET version = version + 1, updated_at = ? WHERE id = ?")
            .bind(now())
            .bind(company)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let aggregate = load_one(&mut tx, company)
            .await
            .map_err(db)?
            .ok_or_else(|| not_found("company"))?;
        self.outbox
            .record(&mut tx, aggregate.draft())
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(db)?;
        Ok(aggregate)
    }
}

/// A unique-key violation (MySQL error 1062).
pub fn is_duplicate(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23000"))
}

pub fn already_exists(message: &str, reason: &'static str) -> ApiError {
    ApiError::new(ErrorCode::AlreadyExists, message).with_reason(reason)
}

pub fn failed_precondition(message: &str, reason: &'static str) -> ApiError {
    ApiError::new(ErrorCode::FailedPrecondition, message).with_reason(reason)
}

/// Page sizes: `default` when unset, at most `max`.
pub fn page_size(field: &str, asked: i32, default: i64, max: i64) -> Result<i64, ApiError> {
    match asked {
        0 => Ok(default),
        n if n < 0 => Err(invalid(field, "must not be negative")),
        n => Ok(i64::from(n).min(max)),
    }
}
