//! A match score as a weighted sum of named components, each of which says its value, weight
//! and why, so a front end can show the reasons and the numbers add up.

use serde::{Deserialize, Serialize};

use super::components::{distance, education, experience_of, recruit_type, salary_fit};
use super::coverage::{assess, skills_component};
use super::evidence::ResumeText;
use super::profile::{CandidateProfile, JobProfile, Preferences};
use super::related::RelatedSkills;
use super::stage::{candidate_level, job_level, CandidateLevel};

/// The parts of a match score, in the fixed order of [`Match::components`] and
/// [`Weights::to_array`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// Cosine of the two texts' embeddings.
    Semantic,
    /// Share of the job's required skills the candidate shows (synonyms and related skills in part).
    RequiredSkills,
    /// The same over preferred skills.
    PreferredSkills,
    /// Years of work against the years asked, and career stage against the job's level.
    Experience,
    /// Highest degree against the degree asked.
    Education,
    /// The job's salary against the least the candidate asked for.
    SalaryFit,
    /// Commute distance, or city and province.
    Distance,
    /// Campus, intern or experienced hiring, asked for or inferred.
    RecruitType,
}

impl ComponentKind {
    /// Every kind in the fixed order.
    pub const ALL: [ComponentKind; 8] = [
        Self::Semantic,
        Self::RequiredSkills,
        Self::PreferredSkills,
        Self::Experience,
        Self::Education,
        Self::SalaryFit,
        Self::Distance,
        Self::RecruitType,
    ];

    /// Position in [`Self::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name (`required_skills`), as in the JSON of [`Weights`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Semantic => "semantic",
            Self::RequiredSkills => "required_skills",
            Self::PreferredSkills => "preferred_skills",
            Self::Experience => "experience",
            Self::Education => "education",
            Self::SalaryFit => "salary_fit",
            Self::Distance => "distance",
            Self::RecruitType => "recruit_type",
        }
    }
}

/// One weight per component. Stored as JSON with these field names; a missing field takes its
/// default. Weights are meant to be ≥ 0 and sum to 1 (so a score is in 0..=1);
/// [`score`] counts a negative or non-finite weight as 0.
///
/// Defaults (sum 1): semantic 0.28, required skills 0.20, preferred skills 0.07, experience
/// 0.20, education 0.07, salary fit 0.07, distance 0.06, recruit type 0.05 — the text, the
/// required skills and the level (years and career stage) carry most of a match, the other
/// conditions of the job the rest; tuning on outcomes ([`super::tune`]) replaces them. The
/// evaluation set's results with these and with tuned weights are in `tests/eval/RESULTS.md`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Weights {
    pub semantic: f64,
    pub required_skills: f64,
    pub preferred_skills: f64,
    pub experience: f64,
    pub education: f64,
    pub salary_fit: f64,
    pub distance: f64,
    pub recruit_type: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self::from_array([0.28, 0.20, 0.07, 0.20, 0.07, 0.07, 0.06, 0.05])
    }
}

impl Weights {
    /// From values in [`ComponentKind::ALL`] order.
    pub fn from_array(w: [f64; 8]) -> Self {
        Self {
            semantic: w[0],
            required_skills: w[1],
            preferred_skills: w[2],
            experience: w[3],
            education: w[4],
            salary_fit: w[5],
            distance: w[6],
            recruit_type: w[7],
        }
    }

    /// Values in [`ComponentKind::ALL`] order.
    pub fn to_array(&self) -> [f64; 8] {
        [
            self.semantic,
            self.required_skills,
            self.preferred_skills,
            self.experience,
            self.education,
            self.salary_fit,
            self.distance,
            self.recruit_type,
        ]
    }

    /// The weight of `kind`.
    pub fn get(&self, kind: ComponentKind) -> f64 {
        self.to_array()[kind.index()]
    }

    /// Negative and non-finite weights as 0, the rest scaled to sum 1; all zero becomes equal
    /// weights.
    pub fn normalised(&self) -> Self {
        let w = self
            .to_array()
            .map(|x| if x.is_finite() { x.max(0.0) } else { 0.0 });
        let sum: f64 = w.iter().sum();
        if sum > 0.0 && sum.is_finite() {
            Self::from_array(w.map(|x| x / sum))
        } else {
            Self::from_array([1.0 / 8.0; 8])
        }
    }
}

/// One part of a match score.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub kind: ComponentKind,
    pub weight: f64,
    /// 0..=1; `None`: unknown because a side lacks the data.
    pub value: Option<f64>,
    /// `weight × value`, 0 when unknown.
    pub contribution: f64,
    /// One English sentence for a front end; starts with `unknown: ` when the value is.
    pub detail: String,
}

/// A scored (job, candidate) pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The sum of the contributions, in component order (exactly: the same additions).
    pub score: f64,
    /// Always all eight, in [`ComponentKind::ALL`] order.
    pub components: Vec<Component>,
}

/// The semantic value of an embedding cosine: the cosine clamped to 0..=1 (texts pointing
/// away from each other are as unrelated as orthogonal ones); NaN is unknown. Models whose
/// unrelated texts still score high (E5 sits near 0.7) can be spread with
/// [`rescale_cosine`] before the cosine is passed in.
fn semantic(cosine: Option<f32>) -> (Option<f64>, String) {
    match cosine.map(f64::from).filter(|c| !c.is_nan()) {
        None => (None, "unknown: no embedding for one of the texts".into()),
        Some(c) => {
            let v = c.clamp(0.0, 1.0);
            (Some(v), format!("text similarity {v:.2}"))
        }
    }
}

/// `(cosine - floor) / (ceiling - floor)` clamped to 0..=1: spreads the narrow band of cosines
/// a model gives (floor: a typical unrelated pair, ceiling: a typical good match) over the
/// whole scale. Returns `cosine` itself when `ceiling <= floor`.
pub fn rescale_cosine(cosine: f32, floor: f32, ceiling: f32) -> f32 {
    if ceiling > floor {
        ((cosine - floor) / (ceiling - floor)).clamp(0.0, 1.0)
    } else {
        cosine
    }
}

/// Scores `candidate` for `job`. `semantic` is the cosine of their embeddings (`None` when
/// either has none), `related` the learned skill relations, `prefs` what the candidate asked
/// for in the request (may be empty). Pure and deterministic: the same inputs give a
/// bit-identical [`Match`]. Protected attributes in the candidate's text are masked before
/// skills are searched, so they cannot change a score.
pub fn score(
    job: &JobProfile,
    candidate: &CandidateProfile,
    semantic_cosine: Option<f32>,
    related: &RelatedSkills,
    prefs: &Preferences,
    weights: &Weights,
) -> Match {
    score_prepared(
        job,
        &Prepared::new(candidate),
        semantic_cosine,
        related,
        prefs,
        weights,
    )
}

/// A candidate with their resume text normalised and masked once, to be scored against many
/// jobs ([`score_prepared`]): preparing is most of the cost of a score.
pub struct Prepared<'a> {
    candidate: &'a CandidateProfile,
    resume: ResumeText,
    level: CandidateLevel,
}

impl<'a> Prepared<'a> {
    pub fn new(candidate: &'a CandidateProfile) -> Prepared<'a> {
        Prepared {
            candidate,
            resume: ResumeText::of(candidate),
            level: candidate_level(candidate),
        }
    }
}

/// [`score`] of a prepared candidate: the same result, bit for bit.
pub fn score_prepared(
    job: &JobProfile,
    prepared: &Prepared<'_>,
    semantic_cosine: Option<f32>,
    related: &RelatedSkills,
    prefs: &Preferences,
    weights: &Weights,
) -> Match {
    let (candidate, resume) = (prepared.candidate, &prepared.resume);
    let assessed = assess(job, resume, related);
    let outcomes = [
        semantic(semantic_cosine),
        skills_component(&assessed, true),
        skills_component(&assessed, false),
        experience_of(&job_level(job), &prepared.level),
        education(job, candidate),
        salary_fit(job, prefs),
        distance(job, candidate, prefs),
        recruit_type(job, candidate, prefs),
    ];
    Match::of(outcomes, weights)
}

impl Match {
    /// The match made of each component's (value, detail), in [`ComponentKind::ALL`] order:
    /// values clamped to 0..=1, weights taken as they are (not finite or negative → 0), each
    /// contribution `weight × value` (0 when the value is unknown), the score their sum.
    pub fn of(outcomes: [(Option<f64>, String); 8], weights: &Weights) -> Match {
        let components: Vec<Component> = ComponentKind::ALL
            .into_iter()
            .zip(outcomes)
            .map(|(kind, (value, detail))| {
                let w = weights.get(kind);
                let weight = if w.is_finite() { w.max(0.0) } else { 0.0 };
                let value = value.map(|v| v.clamp(0.0, 1.0));
                Component {
                    kind,
                    weight,
                    value,
                    contribution: value.map_or(0.0, |v| weight * v),
                    detail,
                }
            })
            .collect();
        let score = components.iter().map(|c| c.contribution).sum();
        Match { score, components }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "score_tests.rs"]
mod tests;
