//! The company domain: the aggregates' types (a company with its verification, members and
//! invitations, offices, relations) and the pure rules over them (credit codes, coordinates,
//! what a role grants, how resource names and profile fields are checked). Nothing here does
//! I/O; the service layer parses raw input through these types once and works with valid
//! values from then on.

pub mod company;
pub mod geo;
pub mod member;
pub mod names;
pub mod office;
pub mod permissions;
pub mod relation;
pub mod uscc;

pub use company::{
    Company, CompanyAggregate, CompanyFilter, CompanySize, CompanyView, Profile, ProfileField,
    ProfileInput, StateFilter, Verification, VerificationInput, VerificationState,
};
pub use member::{AuditEntry, Decision, Invitation, InvitationState, Member, Membership};
pub use office::{NearbyCompany, NearbyOffice, NearbyQuery, Office, OfficeInput};
pub use permissions::{Permission, Role};
pub use relation::{Competitor, Edge, Network, Node, Relation, RelationKind};

/// Why a value was refused: the request field (as the API names it, e.g. `company.website`)
/// and what is wrong with it, for a person to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub description: String,
}

impl Invalid {
    /// A refusal of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// The mesh's boundary rule for text (`talentmesh_text::check_text`: no control characters,
/// tab and line breaks only where `lines` is multi-line, no noncharacters) for one field, as a
/// refusal naming it.
pub fn text_problem(field: &str, value: &str, lines: talentmesh_text::Lines) -> Option<Invalid> {
    talentmesh_text::check_text(value, lines).map(|why| Invalid::new(field, why))
}

/// The longest page token this service accepts, in bytes: its own tokens are under 200, and
/// nothing longer is decoded (raw gRPC takes up to the message limit).
pub const MAX_PAGE_TOKEN: usize = 512;

/// A `page_token` longer than any this service hands out, as a refusal.
pub fn page_token_problem(token: &str) -> Option<Invalid> {
    (token.len() > MAX_PAGE_TOKEN).then(|| Invalid::new("page_token", "not a token from this list"))
}

/// A page size: `default` when 0 (unset), at most `max`; negative sizes are refused.
pub fn page_size(field: &str, asked: i32, default: i64, max: i64) -> Result<i64, Invalid> {
    match asked {
        0 => Ok(default),
        n if n < 0 => Err(Invalid::new(field, "must not be negative")),
        n => Ok(i64::from(n).min(max)),
    }
}
