//! A resume analysed against one job (the plan's `resume-analysis`): which of the job's skills
//! the resume shows and where, which a related skill stands in for, which are missing, and
//! how far the candidate falls short of the experience and education asked.

use super::components::candidate_years;
use super::coverage::assess;
use super::education::highest_degree;
use super::evidence::{Evidence, ResumeText};
use super::profile::{CandidateProfile, Education, JobProfile};
use super::related::{RelatedSkills, RELATED_CREDIT};

/// A job skill the resume shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillMatch {
    /// Canonical name.
    pub skill: String,
    /// Required (else preferred) by the job.
    pub required: bool,
    /// Where the resume shows it (at least one).
    pub evidence: Vec<Evidence>,
}

/// A job skill the resume does not show, but a related one it does.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialSkill {
    /// The job's skill, canonical.
    pub skill: String,
    pub required: bool,
    /// The related skill the resume shows, canonical.
    pub related: String,
    /// Strength of the relation, 0..=1.
    pub strength: f64,
    /// What it counts for in the score: `strength × RELATED_CREDIT`.
    pub credit: f64,
    /// Where the resume shows the related skill.
    pub evidence: Vec<Evidence>,
}

/// A job skill the resume neither shows nor stands in for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSkill {
    pub skill: String,
    pub required: bool,
}

/// A requirement of the job the candidate does not demonstrably meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap<T> {
    /// What the job asks for.
    pub required: T,
    /// What the resume shows; `None` when it does not say.
    pub actual: Option<T>,
    /// How far short: years for experience, degree levels for education; `None` when
    /// `actual` is unknown.
    pub shortfall: Option<f64>,
    /// One English sentence for a front end.
    pub detail: String,
}

/// A resume analysed against a job. Every skill of the job is in exactly one of `matched`,
/// `partial` and `missing` (required skills first, then preferred, each in the job's order).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub matched: Vec<SkillMatch>,
    pub partial: Vec<PartialSkill>,
    pub missing: Vec<MissingSkill>,
    /// Years: `None` when the job asks for none or the candidate has enough.
    pub experience_gap: Option<Gap<f64>>,
    /// Degree: `None` when the job asks for none (or any) or the candidate has it.
    pub education_gap: Option<Gap<Education>>,
}

/// Analyses `candidate` against `job`, with `related` for partial matches. It reads the same
/// assessment as [`super::score`], so the two always agree.
pub fn analyse(
    job: &JobProfile,
    candidate: &CandidateProfile,
    related: &RelatedSkills,
) -> Analysis {
    let resume = ResumeText::of(candidate);
    let mut out = Analysis {
        matched: Vec::new(),
        partial: Vec::new(),
        missing: Vec::new(),
        experience_gap: experience_gap(job, candidate),
        education_gap: education_gap(job, candidate),
    };
    for a in assess(job, &resume, related) {
        if !a.evidence.is_empty() {
            out.matched.push(SkillMatch {
                skill: a.skill,
                required: a.required,
                evidence: a.evidence,
            });
        } else if let Some(s) = a.stand_in {
            out.partial.push(PartialSkill {
                skill: a.skill,
                required: a.required,
                related: s.skill,
                strength: s.strength,
                credit: s.strength * RELATED_CREDIT,
                evidence: s.evidence,
            });
        } else {
            out.missing.push(MissingSkill {
                skill: a.skill,
                required: a.required,
            });
        }
    }
    out
}

fn experience_gap(job: &JobProfile, c: &CandidateProfile) -> Option<Gap<f64>> {
    let asked = f64::from(job.experience_years.filter(|y| *y > 0)?);
    match candidate_years(c) {
        Some(has) if has >= asked => None,
        Some(has) => Some(Gap {
            required: asked,
            actual: Some(has),
            shortfall: Some(asked - has),
            detail: format!("{:.1} years short of the {asked} years asked", asked - has),
        }),
        None => Some(Gap {
            required: asked,
            actual: None,
            shortfall: None,
            detail: format!("the resume does not say how many years; {asked} asked"),
        }),
    }
}

fn education_gap(job: &JobProfile, c: &CandidateProfile) -> Option<Gap<Education>> {
    let asked = job.education.filter(|e| *e != Education::Any)?;
    match highest_degree(c) {
        Some(has) if has >= asked => None,
        Some(has) => Some(Gap {
            required: asked,
            actual: Some(has),
            shortfall: Some(f64::from(asked.level() - has.level())),
            detail: format!("holds {}; {} asked", has.label(), asked.label()),
        }),
        None => Some(Gap {
            required: asked,
            actual: None,
            shortfall: None,
            detail: format!("the resume states no degree; {} asked", asked.label()),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "analysis_tests.rs"]
mod tests;
