//! The job service's domain: what a job and an application are, the rules they obey and the
//! search question, with no store, wire or peer in sight. Everything here is pure and tested
//! without servers; `service` applies it, `store` persists it, `grpc` translates it.
//!
//! - [`job`] — a job, the fields a client sets and their rules.
//! - [`salary`] — monthly salaries in CNY and their ranges.
//! - [`city`] — GB/T 2260 division codes.
//! - [`state`] — a job's lifecycle (draft, published, closed).
//! - [`search`] — search tokens (Chinese and English) and the validated search question.
//! - [`application`] — applications, the hiring pipeline and interviews.
//! - [`names`] — resource names (`companies/{c}/jobs/{j}/…`) parsed into ids.

pub mod application;
pub mod city;
pub mod job;
pub mod names;
pub mod salary;
pub mod search;
pub mod state;

pub use application::{Application, Interview, Stage, StageChange};

use talentmesh_mesh::FieldViolation;
use talentmesh_text::Lines;

/// The mesh's boundary rule for text (`talentmesh_text::check_text`: no control characters,
/// tab and line breaks only where `lines` is multi-line, no noncharacters) for one field, as a
/// violation naming it.
pub fn text_violation(field: &str, value: &str, lines: Lines) -> Option<FieldViolation> {
    talentmesh_text::check_text(value, lines).map(|why| FieldViolation::new(field, why))
}
/// The longest page token this service accepts, in bytes: its own tokens are under 200, and
/// nothing longer is decoded.
pub const MAX_PAGE_TOKEN: usize = 512;

/// [`text_violation`] with a length cap: at most `max` characters. The cap is checked first,
/// and past `4 × max` bytes without counting, so an oversized value sent on raw gRPC (up to
/// the message limit) costs nothing to refuse.
pub fn capped_text(field: &str, value: &str, max: usize, lines: Lines) -> Option<FieldViolation> {
    if value.len() > max.saturating_mul(4) || value.chars().count() > max {
        return Some(FieldViolation::new(
            field,
            format!("at most {max} characters"),
        ));
    }
    text_violation(field, value, lines)
}

/// A `page_token` longer than any this service hands out, as a violation.
pub fn page_token_violation(token: &str) -> Option<FieldViolation> {
    (token.len() > MAX_PAGE_TOKEN)
        .then(|| FieldViolation::new("page_token", "not a token from this list"))
}

pub use job::{Job, JobFields, MUTABLE};
pub use state::JobState;
