//! Domain results to the wire.

use talentmesh_proto::job::v1 as jpb;
use talentmesh_proto::matching::v1 as pb;

use crate::domain::{self, ComponentKind, FlagKind};
use crate::service::candidates::CandidateMatch;
use crate::service::explain::Pair;
use crate::service::jobs::{CompanyMatch, JobMatch};

fn kind(k: ComponentKind) -> pb::ComponentKind {
    match k {
        ComponentKind::Semantic => pb::ComponentKind::Semantic,
        ComponentKind::RequiredSkills => pb::ComponentKind::RequiredSkills,
        ComponentKind::PreferredSkills => pb::ComponentKind::PreferredSkills,
        ComponentKind::Experience => pb::ComponentKind::Experience,
        ComponentKind::Education => pb::ComponentKind::Education,
        ComponentKind::SalaryFit => pb::ComponentKind::SalaryFit,
        ComponentKind::Distance => pb::ComponentKind::Distance,
        ComponentKind::RecruitType => pb::ComponentKind::RecruitType,
    }
}

/// A score with its components.
pub fn score(m: &domain::Match) -> pb::Score {
    pb::Score {
        score: m.score,
        components: m
            .components
            .iter()
            .map(|c| pb::ScoreComponent {
                kind: kind(c.kind) as i32,
                value: c.value,
                weight: c.weight,
                contribution: c.contribution,
                detail: c.detail.clone(),
            })
            .collect(),
    }
}

fn recruit_type(r: Option<domain::RecruitType>) -> i32 {
    match r {
        Some(domain::RecruitType::Campus) => jpb::RecruitType::Campus as i32,
        Some(domain::RecruitType::Intern) => jpb::RecruitType::Intern as i32,
        Some(domain::RecruitType::Social) => jpb::RecruitType::Social as i32,
        None => jpb::RecruitType::Unspecified as i32,
    }
}

/// A job as matches show it.
pub fn job_summary(j: &domain::JobProfile) -> pb::JobSummary {
    let salary = j.salary.unwrap_or(domain::SalaryRange { min: 0, max: 0 });
    pb::JobSummary {
        name: j.name.clone(),
        title: j.title.clone(),
        company: j.company.clone(),
        company_display_name: j.company_name.clone().unwrap_or_default(),
        city_code: j.city_code.clone().unwrap_or_default(),
        salary_min: i32::try_from(salary.min).unwrap_or(i32::MAX),
        salary_max: i32::try_from(salary.max).unwrap_or(i32::MAX),
        recruit_type: recruit_type(j.recruit_type),
        version: j.version,
    }
}

/// A candidate as rankings show them: no name, no contact.
pub fn candidate_summary(c: &domain::CandidateProfile, applied: bool) -> pb::CandidateSummary {
    pb::CandidateSummary {
        resume: c.name.clone(),
        resume_version: c.version,
        title: c.title.clone(),
        headline: c.headline.clone(),
        total_years: c.total_years.unwrap_or(0.0),
        applied,
    }
}

pub fn job_match(m: &JobMatch) -> pb::JobMatch {
    pb::JobMatch {
        job: Some(job_summary(&m.job)),
        score: Some(score(&m.score)),
    }
}

pub fn candidate_match(m: &CandidateMatch) -> pb::CandidateMatch {
    pb::CandidateMatch {
        candidate: Some(candidate_summary(&m.candidate, m.applied)),
        score: Some(score(&m.score)),
    }
}

pub fn company_match(m: &CompanyMatch) -> pb::CompanyMatch {
    pb::CompanyMatch {
        company: m.company.clone(),
        display_name: m.display_name.clone().unwrap_or_default(),
        best_job: Some(job_match(&m.best)),
        matching_jobs: i32::try_from(m.matching_jobs).unwrap_or(i32::MAX),
    }
}

fn offset(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn evidence(e: &domain::Evidence) -> pb::Evidence {
    pb::Evidence {
        field: e.field.clone(),
        start: offset(e.start),
        end: offset(e.end),
        text: e.text.clone(),
    }
}

fn gap<T>(g: Option<&domain::Gap<T>>, show: impl Fn(&T) -> String) -> Option<pb::Gap> {
    g.map(|g| pb::Gap {
        required: show(&g.required),
        actual: g.actual.as_ref().map(&show).unwrap_or_default(),
        short: g.shortfall.is_some_and(|s| s > 0.0),
        detail: g.detail.clone(),
    })
}

/// A resume analysed against a job.
pub fn analysis(pair: &Pair, a: &domain::Analysis) -> pb::AnalyzeResumeResponse {
    let mut missing: Vec<pb::MissingSkill> = a
        .partial
        .iter()
        .map(|p| pb::MissingSkill {
            skill: p.skill.clone(),
            required: p.required,
            related_skill: p.related.clone(),
            related_strength: p.strength,
        })
        .collect();
    missing.extend(a.missing.iter().map(|m| pb::MissingSkill {
        skill: m.skill.clone(),
        required: m.required,
        related_skill: String::new(),
        related_strength: 0.0,
    }));
    pb::AnalyzeResumeResponse {
        matched: a
            .matched
            .iter()
            .map(|m| pb::SkillMatch {
                skill: m.skill.clone(),
                required: m.required,
                evidence: m.evidence.iter().map(evidence).collect(),
            })
            .collect(),
        missing,
        experience: gap(a.experience_gap.as_ref(), |y| format!("{y:.1} years")),
        education: gap(a.education_gap.as_ref(), |e| e.label().to_string()),
        resume_version: pair.resume_version,
        job: Some(job_summary(&pair.job)),
    }
}

/// A discriminating requirement of a job.
pub fn flag(f: &domain::FairnessFlag) -> pb::FairnessFlag {
    let kind = match f.kind {
        FlagKind::Gender => pb::FairnessFlagKind::Gender,
        FlagKind::Age => pb::FairnessFlagKind::Age,
        FlagKind::MaritalStatus => pb::FairnessFlagKind::MaritalStatus,
        FlagKind::Ethnicity => pb::FairnessFlagKind::Ethnicity,
        FlagKind::Household => pb::FairnessFlagKind::Household,
        FlagKind::Appearance => pb::FairnessFlagKind::Appearance,
        FlagKind::Health => pb::FairnessFlagKind::Health,
    };
    pb::FairnessFlag {
        kind: kind as i32,
        field: f.field.clone(),
        start: offset(f.start),
        end: offset(f.end),
        text: f.text.clone(),
        detail: f.detail.clone(),
    }
}

/// Weights as the wire shows them: by component name.
pub fn weights(w: &domain::Weights, origin: &str, samples: i64) -> pb::Weights {
    pb::Weights {
        weights: ComponentKind::ALL
            .into_iter()
            .map(|k| (k.name().to_string(), w.get(k)))
            .collect(),
        origin: origin.to_string(),
        feedback_samples: samples,
    }
}
