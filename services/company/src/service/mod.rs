//! The company service's business logic, one service per aggregate: [`Companies`] (profiles
//! and verification), [`Members`] (members, invitations, permission checks for other
//! services, the audit log's reader), [`Offices`] (offices and the nearby search) and
//! [`Relations`] (declared relations and the network queries). Each takes the caller as a
//! [`CallContext`], API names and domain inputs, and returns domain types and the crate
//! [`Result`]; `grpc` adapts. This module holds the rule they share: who may see and change a
//! company's data ([`Access`]).

pub mod authz;
pub mod companies;
pub mod members;
pub mod offices;
pub mod relations;

use talentmesh_mesh::{CallContext, Caller};

pub use authz::Authz;
pub use companies::Companies;
pub use members::Members;
pub use offices::Offices;
pub use relations::Relations;

use crate::domain::{Membership, Permission};
use crate::error::{Error, Result};
use crate::store::{CompanyStore, Tx};

/// How a refusal reads: private data of a company the caller is not in looks like a company
/// that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// The company's existence is public (its profile); a non-member is simply refused.
    Public,
    /// Members, audit, verification documents, analytics: a non-member gets NOT_FOUND.
    Private,
}

/// The verified caller of `ctx`.
///
/// # Errors
/// [`Error::Unauthenticated`] for a request without a verified token.
pub fn caller(ctx: &CallContext) -> Result<&Caller> {
    ctx.caller.as_ref().ok_or(Error::Unauthenticated)
}

/// The access rule every service applies, over the permission decisions.
#[derive(Clone)]
pub struct Access {
    authz: Authz,
}

impl Access {
    /// The rule over `authz`'s decisions.
    pub fn new(authz: Authz) -> Access {
        Access { authz }
    }

    /// The decisions this rule reads (membership changes go through them too).
    pub fn authz(&self) -> &Authz {
        &self.authz
    }

    /// The caller's membership, if it grants `permission` (platform admins may read
    /// anything).
    ///
    /// # Errors
    /// [`Error::NotFound`] ("company") when the company does not exist, or is private to the
    /// caller; [`Error::MissingPermission`] otherwise when refused.
    pub async fn require(
        &self,
        caller: &Caller,
        company: &str,
        permission: Permission,
        privacy: Privacy,
    ) -> Result<Membership> {
        let m = self
            .authz
            .check(&caller.user_id, company, permission)
            .await?;
        if !m.exists {
            return Err(Error::not_found("company"));
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
            return Err(Error::not_found("company"));
        }
        Err(Error::MissingPermission(permission))
    }
}

/// Starts a change to `company`'s state (its row locked).
///
/// # Errors
/// [`Error::NotFound`] ("company") when it does not exist or was deleted.
async fn begin_change(store: &CompanyStore, company: &str) -> Result<Tx> {
    store
        .begin_change(company)
        .await?
        .ok_or_else(|| Error::not_found("company"))
}
