//! The matching domain: pure rules with no I/O, no clock and no randomness, so every score
//! can be recomputed and explained.
//!
//! - [`profile`]: what is compared — [`JobProfile`], [`CandidateProfile`], [`Preferences`].
//! - [`job_text`], [`candidate_text`]: the texts that are embedded.
//! - [`score`]: a [`Match`] as a sum of eight named [`Component`]s under [`Weights`].
//! - [`analyse`]: a resume against a job — skills with evidence spans, gaps.
//! - [`job_flags`]: discriminatory requirements in a job; [`scrub`]: protected attributes out
//!   of a candidate's text.
//! - [`tune`], [`evaluate`], [`ndcg_at`]: weights learned from application outcomes.

mod analysis;
mod components;
mod coverage;
mod education;
mod evidence;
mod fairness;
mod geo;
mod normal;
mod patterns;
pub mod profile;
mod related;
mod score;
mod scrub;
mod similar;
mod stage;
mod text;
mod tuning;

pub use analysis::{analyse, Analysis, Gap, MissingSkill, PartialSkill, SkillMatch};
pub use components::HALF_VALUE_KM;
pub use evidence::{Evidence, MAX_EVIDENCE};
pub use fairness::{job_flags, FairnessFlag, FlagKind};
pub use geo::haversine_km;
pub use profile::*;
pub use related::{RelatedSkills, RELATED_CREDIT};
pub use score::{
    rescale_cosine, score, score_prepared, Component, ComponentKind, Match, Prepared, Weights,
};
pub use scrub::scrub;
pub use similar::job_similarity;
pub use stage::{candidate_level, job_level, stage_fit, CandidateLevel, CareerStage, JobLevel};
pub use text::{candidate_text, job_text, TEXT_BUDGET};
pub use tuning::{evaluate, ndcg_at, tune, FeedbackSample, NDCG_CUTOFF};
