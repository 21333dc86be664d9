//! Platform roles. Company-scoped roles (owner, recruiter, ...) belong to the company service.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Candidate,
    Employer,
    Admin,
}

impl Role {
    /// The name used in tokens and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::Employer => "employer",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "candidate" => Some(Role::Candidate),
            "employer" => Some(Role::Employer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}
