//! How well a candidate covers a job's skills: each skill the job lists is shown (evidence),
//! stood in for by a related skill the candidate shows (partial credit), or missing. The score
//! and the analysis both read this one assessment, so they cannot disagree.

use std::collections::HashMap;

use super::evidence::{skill_keys, Evidence, ResumeText};
use super::profile::JobProfile;
use super::related::{RelatedSkills, RELATED_CREDIT};

/// A related skill that stands in for a missing one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StandIn {
    pub skill: String,
    pub strength: f64,
    pub evidence: Vec<Evidence>,
}

/// One skill of a job, assessed against one candidate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Assessed {
    /// Canonical name.
    pub skill: String,
    pub required: bool,
    /// Where the candidate shows the skill itself; empty when nowhere.
    pub evidence: Vec<Evidence>,
    /// The strongest related skill the candidate shows, when the skill itself is not shown.
    pub stand_in: Option<StandIn>,
}

impl Assessed {
    /// 1 when shown, `strength × RELATED_CREDIT` for a stand-in, else 0.
    pub fn credit(&self) -> f64 {
        if !self.evidence.is_empty() {
            1.0
        } else {
            self.stand_in
                .as_ref()
                .map_or(0.0, |s| s.strength * RELATED_CREDIT)
        }
    }
}

/// The job's required skills, then its preferred ones (a skill in both lists counts as
/// required only), each canonical and once.
pub(crate) fn assess(
    job: &JobProfile,
    resume: &ResumeText,
    related: &RelatedSkills,
) -> Vec<Assessed> {
    let required = skill_keys(&job.required_skills);
    let preferred: Vec<String> = skill_keys(&job.preferred_skills)
        .into_iter()
        .filter(|s| !required.contains(s))
        .collect();
    let mut cache: HashMap<String, Vec<Evidence>> = HashMap::new();
    let mut find = |skill: &str| -> Vec<Evidence> {
        cache
            .entry(skill.to_string())
            .or_insert_with(|| resume.find(skill))
            .clone()
    };
    let tagged = required
        .into_iter()
        .map(|s| (s, true))
        .chain(preferred.into_iter().map(|s| (s, false)));
    tagged
        .map(|(skill, required)| {
            let evidence = find(&skill);
            let stand_in = if evidence.is_empty() {
                related
                    .related(&skill)
                    .iter()
                    .find_map(|(other, strength)| {
                        let evidence = find(other);
                        (!evidence.is_empty()).then(|| StandIn {
                            skill: other.clone(),
                            strength: *strength,
                            evidence,
                        })
                    })
            } else {
                None
            };
            Assessed {
                skill,
                required,
                evidence,
                stand_in,
            }
        })
        .collect()
}

/// The value and sentence of one skills component over the assessed skills of one kind
/// (`required` or `preferred`); `None` value when the job lists none.
pub(crate) fn skills_component(assessed: &[Assessed], required: bool) -> (Option<f64>, String) {
    let kind = if required { "required" } else { "preferred" };
    let mine: Vec<&Assessed> = assessed.iter().filter(|a| a.required == required).collect();
    if mine.is_empty() {
        return (None, format!("unknown: the job lists no {kind} skills"));
    }
    let total: f64 = mine.iter().map(|a| a.credit()).sum();
    let shown = mine.iter().filter(|a| !a.evidence.is_empty()).count();
    let mut detail = format!("{shown} of {} {kind} skills", mine.len());
    let partial: Vec<String> = mine
        .iter()
        .filter_map(|a| {
            let s = a.stand_in.as_ref()?;
            Some(format!(
                "{} ≈ {} counted {:.2}",
                s.skill,
                a.skill,
                a.credit()
            ))
        })
        .collect();
    if !partial.is_empty() {
        detail.push_str(&format!(" ({})", list(&partial)));
    }
    let missing: Vec<String> = mine
        .iter()
        .filter(|a| a.credit() == 0.0)
        .map(|a| a.skill.clone())
        .collect();
    if !missing.is_empty() {
        detail.push_str(&format!("; missing: {}", list(&missing)));
    }
    (Some(total / mine.len() as f64), detail)
}

/// At most four items joined by ", ", then "and N more".
fn list(items: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut out = items[..items.len().min(SHOWN)].join(", ");
    if items.len() > SHOWN {
        out.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    out
}
