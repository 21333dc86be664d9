//! Identity's domain types. Each parses its raw input once and is valid from then on, so the
//! service never handles an unchecked email, password or role.

mod email;
mod password;
mod role;

pub use email::Email;
pub use password::Password;
pub use role::Role;

/// Why a value was refused, naming the request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub description: String,
}

impl Invalid {
    pub fn new(field: &'static str, description: impl Into<String>) -> Self {
        Invalid {
            field,
            description: description.into(),
        }
    }
}

/// A registered account as the service sees it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: Email,
    pub roles: Vec<Role>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
