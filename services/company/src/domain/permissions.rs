//! Who in a company may do what: the roles, the permissions, and the one table that joins them.
//! Every service asks the company service `Check(subject, company, permission)`; this module is
//! the single place that decides what a role grants.

use std::fmt;
use std::str::FromStr;

/// A member's role in one company, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Owner,
    Admin,
    Recruiter,
    Viewer,
}

/// What a member may be allowed to do with the company's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    CompanyRead,
    CompanyUpdate,
    CompanyDelete,
    ManageMembers,
    JobWrite,
    ApplicationRead,
    ApplicationUpdate,
    AnalyticsRead,
    AuditRead,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 9] = [
        Permission::CompanyRead,
        Permission::CompanyUpdate,
        Permission::CompanyDelete,
        Permission::ManageMembers,
        Permission::JobWrite,
        Permission::ApplicationRead,
        Permission::ApplicationUpdate,
        Permission::AnalyticsRead,
        Permission::AuditRead,
    ];

    /// The name other services use, e.g. `job.write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CompanyRead => "company.read",
            Permission::CompanyUpdate => "company.update",
            Permission::CompanyDelete => "company.delete",
            Permission::ManageMembers => "company.manage_members",
            Permission::JobWrite => "job.write",
            Permission::ApplicationRead => "application.read",
            Permission::ApplicationUpdate => "application.update",
            Permission::AnalyticsRead => "analytics.read",
            Permission::AuditRead => "audit.read",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role or permission name this server does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

impl FromStr for Permission {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "permission",
                name: s.to_string(),
            })
    }
}

impl Role {
    /// Every role, strongest first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Recruiter, Role::Viewer];

    /// The stored name, e.g. `owner`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Recruiter => "recruiter",
            Role::Viewer => "viewer",
        }
    }

    /// The table: what each role grants.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            // Admins run the company but cannot delete it.
            Role::Admin => permission != CompanyDelete,
            Role::Recruiter => matches!(
                permission,
                CompanyRead | JobWrite | ApplicationRead | ApplicationUpdate | AnalyticsRead
            ),
            Role::Viewer => matches!(permission, CompanyRead | ApplicationRead | AnalyticsRead),
        }
    }

    /// Whether a member with this role may give `target` to someone (nobody hands out a role
    /// stronger than their own; only owners make owners).
    pub fn may_assign(self, target: Role) -> bool {
        self.grants(Permission::ManageMembers) && self <= target
    }
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "role",
                name: s.to_string(),
            })
    }
}

/// Refuses a change that would leave the company without an owner: `owners` is how many owners
/// there are now, `removes_an_owner` whether the change demotes or removes one of them.
pub fn keeps_an_owner(owners: usize, removes_an_owner: bool) -> bool {
    !removes_an_owner || owners > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_grants_what_each_role_needs_and_nothing_more() {
        use Permission::*;
        assert!(Permission::ALL.iter().all(|p| Role::Owner.grants(*p)));
        assert!(!Role::Admin.grants(CompanyDelete));
        assert!(Role::Admin.grants(ManageMembers) && Role::Admin.grants(AuditRead));
        assert!(Role::Recruiter.grants(JobWrite) && Role::Recruiter.grants(ApplicationUpdate));
        assert!(!Role::Recruiter.grants(ManageMembers) && !Role::Recruiter.grants(CompanyUpdate));
        assert!(Role::Viewer.grants(CompanyRead));
        assert!(!Role::Viewer.grants(JobWrite) && !Role::Viewer.grants(ApplicationUpdate));
        // A stronger role grants everything a weaker one does.
        for p in Permission::ALL {
            for pair in Role::ALL.windows(2) {
                assert!(
                    !pair[1].grants(p) || pair[0].grants(p),
                    "{:?} > {:?} on {p}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("job.delete".parse::<Permission>().is_err());
        assert!("superuser".parse::<Role>().is_err());
    }

    #[test]
    fn nobody_hands_out_more_than_they_have_and_the_last_owner_stays() {
        assert!(Role::Owner.may_assign(Role::Owner));
        assert!(Role::Admin.may_assign(Role::Recruiter));
        assert!(!Role::Admin.may_assign(Role::Owner));
        assert!(!Role::Recruiter.may_assign(Role::Viewer));
        assert!(!keeps_an_owner(1, true));
        assert!(keeps_an_owner(2, true));
        assert!(keeps_an_owner(1, false));
    }
}
