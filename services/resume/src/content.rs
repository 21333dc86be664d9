//! A resume's content: the limits it must keep (checked whole, every problem named), and the
//! analysis of it that every save stores.

use talentmesh_mesh::error::FieldViolation;
use talentmesh_proto::resume::v1 as pb;

use crate::domain::analysis::{self, month, DeclaredSkill, Experience, Month};

pub const MAX_TEXT: usize = 5_000;
pub const MAX_SHORT: usize = 200;

/// (field, limit) for the repeated parts.
const MAX_ITEMS: [(&str, usize); 7] = [
    ("education", 20),
    ("experience", 50),
    ("projects", 50),
    ("skills", 100),
    ("languages", 20),
    ("certificates", 50),
    ("shared_with", 50),
];

fn ym(v: &Option<pb::YearMonth>) -> Option<Month> {
    v.as_ref().map(|d| month(d.year, d.month))
}

fn valid_ym(v: &pb::YearMonth) -> bool {
    (1950..=2100).contains(&v.year) && (1..=12).contains(&v.month)
}

/// Every rule `r` breaks, with the field path (e.g. `resume.experience[2].end`).
pub fn violations(r: &pb::Resume) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    let mut push = |field: String, why: &str| out.push(FieldViolation::new(field, why));
    let title = r.title.trim().chars().count();
    if title == 0 || title > 100 {
        push("resume.title".into(), "required, at most 100 characters");
    }
    for (field, value) in [("full_name", &r.full_name), ("headline", &r.headline)] {
        if value.chars().count() > MAX_SHORT {
            push(format!("resume.{field}"), "at most 200 characters");
        }
    }
    if r.summary.chars().count() > MAX_TEXT {
        push("resume.summary".into(), "at most 5000 characters");
    }
    let counts = [
        r.education.len(),
        r.experience.len(),
        r.projects.len(),
        r.skills.len(),
        r.languages.len(),
        r.certificates.len(),
        r.shared_with.len(),
    ];
    for ((field, max), n) in MAX_ITEMS.iter().zip(counts) {
        if n > *max {
            push(format!("resume.{field}"), &format!("at most {max} entries"));
        }
    }
    if let Some(c) = &r.contact {
        if !c.email.is_empty() && (c.email.len() > 254 || !c.email.contains('@')) {
            push("resume.contact.email".into(), "not an email address");
        }
        if c.phone.chars().count() > 32 {
            push("resume.contact.phone".into(), "at most 32 characters");
        }
    }
    if let Some(l) = &r.location {
        let six_digits = l.city_code.len() == 6 && l.city_code.bytes().all(|b| b.is_ascii_digit());
        if !(l.city_code.is_empty() || six_digits) {
            push(
                "resume.location.city_code".into(),
                "a six-digit division code",
            );
        }
        if !(-90.0..=90.0).contains(&l.latitude) || !(-180.0..=180.0).contains(&l.longitude) {
            push(
                "resume.location".into(),
                "latitude in [-90, 90], longitude in [-180, 180]",
            );
        }
    }
    for (i, e) in r.education.iter().enumerate() {
        if e.school.trim().is_empty() || e.school.chars().count() > MAX_SHORT {
            push(
                format!("resume.education[{i}].school"),
                "required, at most 200 characters",
            );
        }
        span_rules(
            &format!("resume.education[{i}]"),
            &e.start,
            &e.end,
            &mut push,
        );
    }
    for (i, e) in r.experience.iter().enumerate() {
        if e.company.trim().is_empty() || e.company.chars().count() > MAX_SHORT {
            push(
                format!("resume.experience[{i}].company"),
                "required, at most 200 characters",
            );
        }
        if e.description.chars().count() > MAX_TEXT {
            push(
                format!("resume.experience[{i}].description"),
                "at most 5000 characters",
            );
        }
        if e.start.is_none() {
            push(format!("resume.experience[{i}].start"), "is required");
        }
        span_rules(
            &format!("resume.experience[{i}]"),
            &e.start,
            &e.end,
            &mut push,
        );
    }
    for (i, p) in r.projects.iter().enumerate() {
        if p.name.trim().is_empty() || p.description.chars().count() > MAX_TEXT {
            push(
                format!("resume.projects[{i}]"),
                "a name, and at most 5000 characters",
            );
        }
    }
    for (i, s) in r.skills.iter().enumerate() {
        if s.name.trim().is_empty() || s.name.chars().count() > 40 {
            push(format!("resume.skills[{i}].name"), "1 to 40 characters");
        }
        if !(0..=5).contains(&s.level) || !(0.0..=60.0).contains(&s.years) {
            push(format!("resume.skills[{i}]"), "level 0–5, years 0–60");
        }
    }
    if pb::Visibility::try_from(r.visibility).is_err() {
        push("resume.visibility".into(), "unknown visibility");
    }
    for (i, c) in r.shared_with.iter().enumerate() {
        let ok = c
            .strip_prefix("companies/")
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok());
        if !ok {
            push(
                format!("resume.shared_with[{i}]"),
                "must be companies/{company}",
            );
        }
    }
    out
}

fn span_rules(
    at: &str,
    start: &Option<pb::YearMonth>,
    end: &Option<pb::YearMonth>,
    push: &mut impl FnMut(String, &str),
) {
    for (name, v) in [("start", start), ("end", end)] {
        if v.as_ref().is_some_and(|d| !valid_ym(d)) {
            push(format!("{at}.{name}"), "year 1950–2100, month 1–12");
        }
    }
    if let (Some(s), Some(e)) = (ym(start), ym(end)) {
        if e < s {
            push(format!("{at}.end"), "before the start");
        }
    }
}

/// The analysis of `r` as of `now`.
pub fn analyse(r: &pb::Resume, now: Month) -> pb::Analysis {
    let input = analysis::Resume {
        full_name: r.full_name.clone(),
        headline: r.headline.clone(),
        has_contact: r
            .contact
            .as_ref()
            .is_some_and(|c| !c.email.is_empty() || !c.phone.is_empty()),
        has_location: r.location.as_ref().is_some_and(|l| !l.city_code.is_empty()),
        education: r.education.len(),
        experience: r
            .experience
            .iter()
            .filter_map(|e| {
                Some(Experience {
                    start: ym(&e.start)?,
                    end: ym(&e.end),
                    title: e.title.clone(),
                    description: e.description.clone(),
                    skills: e.skills.clone(),
                })
            })
            .collect(),
        projects: r
            .projects
            .iter()
            .map(|p| format!("{} {}", p.name, p.description))
            .collect(),
        skills: r
            .skills
            .iter()
            .map(|s| DeclaredSkill {
                name: s.name.clone(),
                level: s.level,
                years: s.years,
            })
            .collect(),
        languages: r.languages.len(),
        certificates: r.certificates.len(),
        summary: r.summary.clone(),
    };
    let a = analysis::analyse(&input, now);
    pb::Analysis {
        completeness: a.completeness,
        missing: a.missing.iter().map(|m| (*m).to_string()).collect(),
        skills: a
            .skills
            .into_iter()
            .map(|s| pb::AnalysedSkill {
                name: s.name,
                declared: s.declared,
                level: s.level,
                years: s.years,
            })
            .collect(),
        total_years: a.total_years,
        seniority: a.seniority.to_string(),
    }
}
