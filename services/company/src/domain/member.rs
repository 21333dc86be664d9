//! Members, invitations, permission decisions and audit entries: who belongs to a company, in
//! which role, and the record of what they did.

use chrono::{DateTime, Utc};

use super::permissions::{Permission, Role};
use super::Invalid;

/// A user's membership in a company.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub company_id: String,
    pub user_id: String,
    /// The address the invitation went to (the creator's token email for the first owner).
    pub email: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Accepted,
    Expired,
}

/// An invitation of an email address into a company, in a role.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub id: String,
    pub company_id: String,
    /// Normalised ([`normal_email`]).
    pub email: String,
    pub role: Role,
    /// The inviting user's id.
    pub inviter: String,
    /// The user who accepted it, once accepted.
    pub accepted_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Invitation {
    /// The state at `now`: accepted, else expired once `expires_at` has passed, else pending.
    pub fn state(&self, now: DateTime<Utc>) -> InvitationState {
        if self.accepted_by.is_some() {
            InvitationState::Accepted
        } else if self.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }

    /// Whether the invitation was sent to `email` (case-insensitive, spaces ignored).
    pub fn is_for(&self, email: &str) -> bool {
        self.email.eq_ignore_ascii_case(email.trim())
    }
}

/// An email address trimmed and lower-cased, refused unless it looks deliverable.
///
/// # Errors
/// [`Invalid`] on `field`.
pub fn normal_email(field: &str, email: &str) -> Result<String, Invalid> {
    if let Some(problem) = super::text_problem(field, email, talentmesh_text::Lines::Single) {
        return Err(problem);
    }
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
        Err(Invalid::new(field, "not an email address"))
    }
}

/// What one user is in one company, at one permission version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// The company exists and is not deleted.
    pub exists: bool,
    /// The user's role, `None` for a non-member.
    pub role: Option<Role>,
    /// The company's permission version the answer was read at.
    pub version: i64,
}

impl Membership {
    /// The answer for a company that does not exist (or was deleted).
    pub const NO_COMPANY: Membership = Membership {
        exists: false,
        role: None,
        version: 0,
    };

    /// Whether the membership grants `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        self.exists && self.role.is_some_and(|r| r.grants(permission))
    }
}

/// The answer to another service's permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub role: Option<Role>,
    pub permission_version: i64,
}

/// One entry of a company's audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Increasing; pages continue below the last id seen.
    pub id: i64,
    pub company_id: String,
    /// e.g. `member.added`, `verification.approved`, `permission.denied`.
    pub action: String,
    /// The acting user's id.
    pub actor: String,
    /// The resource name acted on.
    pub target: String,
    /// A JSON object with the details.
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            normal_email("e", " A@Example.COM "),
            Ok("a@example.com".into())
        );
        assert!(normal_email("e", "a@b").is_err());
        assert!(normal_email("e", "@b.c").is_err());
    }

    #[test]
    fn a_non_member_is_allowed_nothing() {
        let m = Membership {
            exists: true,
            role: None,
            version: 3,
        };
        assert!(!m.allows(Permission::CompanyRead));
        assert!(!Membership::NO_COMPANY.allows(Permission::CompanyRead));
    }
}
