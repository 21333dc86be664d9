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
pub use job::{Job, JobFields, MUTABLE};
pub use state::JobState;
