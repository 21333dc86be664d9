//! The limits a resume's content must keep, checked whole so every problem is named at once
//! with its field path as the client wrote it (`resume.experience[2].end`; in an import,
//! `document.resumes[0].versions[1].title`).

use talentmesh_mesh::FieldViolation;
use talentmesh_text::Lines;

use super::resume::{Content, Visibility, YearMonth};

/// Longest free text (summary, descriptions), in characters.
pub const MAX_TEXT: usize = 5_000;
/// Longest short text (names, headline, schools, companies), in characters.
pub const MAX_SHORT: usize = 200;

/// Largest saved resume, encoded (`talentmesh.resume.v1.Resume`, analysis included), in bytes:
/// 4 MiB. The limits above admit at most about 2.1 MB (every text at its limit in 4-byte
/// characters); the rest is room for the parts without a length limit. It bounds every
/// document the service gives out: a page of versions or resumes is cut to the mesh's message
/// limit (`TALENTMESH_GRPC_MAX_MESSAGE`, 32 MiB by default), which always holds one resume, and
/// an import document (`grpc::portable::MAX_DOCUMENT`, 16 MiB) holds several.
pub const MAX_RESUME_BYTES: usize = 4 * 1024 * 1024;

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

fn valid_ym(v: &YearMonth) -> bool {
    (1950..=2100).contains(&v.year) && (1..=12).contains(&v.month)
}

/// Every rule `r` breaks, with the field path under `resume.` (e.g. `resume.experience[2].end`),
/// in a fixed order: title, texts, counts, contact, location, each list entry, then every text
/// field holding characters the mesh refuses ([`text_violations`]).
pub fn violations(r: &Content) -> Vec<FieldViolation> {
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
        span_rules(&format!("resume.education[{i}]"), e.start, e.end, &mut push);
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
            e.start,
            e.end,
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
    if matches!(r.visibility, Visibility::Unknown(_)) {
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
    out.extend(text_violations(r));
    out
}

/// The text fields of `r` that break the mesh's boundary rule for text
/// (`talentmesh_text::check_text`): summaries and descriptions are multi-line (tab and line
/// breaks allowed), every other field single-line.
pub fn text_violations(r: &Content) -> Vec<FieldViolation> {
    let mut fields: Vec<(String, &str, Lines)> = vec![
        ("resume.title".into(), &r.title, Lines::Single),
        ("resume.full_name".into(), &r.full_name, Lines::Single),
        ("resume.headline".into(), &r.headline, Lines::Single),
        ("resume.summary".into(), &r.summary, Lines::Multi),
    ];
    if let Some(c) = &r.contact {
        fields.push(("resume.contact.email".into(), &c.email, Lines::Single));
        fields.push(("resume.contact.phone".into(), &c.phone, Lines::Single));
    }
    if let Some(l) = &r.location {
        fields.push((
            "resume.location.city_code".into(),
            &l.city_code,
            Lines::Single,
        ));
    }
    for (i, e) in r.education.iter().enumerate() {
        for (name, value) in [
            ("school", &e.school),
            ("degree", &e.degree),
            ("major", &e.major),
        ] {
            fields.push((
                format!("resume.education[{i}].{name}"),
                value,
                Lines::Single,
            ));
        }
    }
    for (i, e) in r.experience.iter().enumerate() {
        let at = format!("resume.experience[{i}]");
        fields.push((format!("{at}.company"), &e.company, Lines::Single));
        fields.push((format!("{at}.title"), &e.title, Lines::Single));
        fields.push((format!("{at}.description"), &e.description, Lines::Multi));
        for (j, s) in e.skills.iter().enumerate() {
            fields.push((format!("{at}.skills[{j}]"), s, Lines::Single));
        }
    }
    for (i, p) in r.projects.iter().enumerate() {
        fields.push((format!("resume.projects[{i}].name"), &p.name, Lines::Single));
        fields.push((
            format!("resume.projects[{i}].description"),
            &p.description,
            Lines::Multi,
        ));
    }
    for (i, s) in r.skills.iter().enumerate() {
        fields.push((format!("resume.skills[{i}].name"), &s.name, Lines::Single));
    }
    for (i, l) in r.languages.iter().enumerate() {
        fields.push((
            format!("resume.languages[{i}].name"),
            &l.name,
            Lines::Single,
        ));
        fields.push((
            format!("resume.languages[{i}].level"),
            &l.level,
            Lines::Single,
        ));
    }
    for (i, c) in r.certificates.iter().enumerate() {
        fields.push((format!("resume.certificates[{i}]"), c, Lines::Single));
    }
    fields
        .into_iter()
        .filter_map(|(field, value, lines)| {
            talentmesh_text::check_text(value, lines).map(|why| FieldViolation::new(field, why))
        })
        .collect()
}

fn span_rules(
    at: &str,
    start: Option<YearMonth>,
    end: Option<YearMonth>,
    push: &mut impl FnMut(String, &str),
) {
    for (name, v) in [("start", start), ("end", end)] {
        if v.is_some_and(|d| !valid_ym(&d)) {
            push(format!("{at}.{name}"), "year 1950–2100, month 1–12");
        }
    }
    if let (Some(s), Some(e)) = (start, end) {
        if e.month() < s.month() {
            push(format!("{at}.end"), "before the start");
        }
    }
}

/// Every rule the resumes of an import break, named in the document
/// (`document.resumes[{i}].versions[{j}].<field>`). Only the newest version of each resume is
/// checked: it is the one an import saves (see [`ImportBudget`]); the older ones are history
/// the document carries and the import does not replay. A resume without versions is a problem
/// too.
pub fn import_violations(resumes: &[Vec<Content>]) -> Vec<FieldViolation> {
    let mut problems = Vec::new();
    for (i, versions) in resumes.iter().enumerate() {
        let Some((j, newest)) = versions.iter().enumerate().next_back() else {
            problems.push(FieldViolation::new(
                format!("document.resumes[{i}].versions"),
                "at least one version",
            ));
            continue;
        };
        for p in violations(newest) {
            problems.push(FieldViolation::new(
                format!(
                    "document.resumes[{i}].versions[{j}].{}",
                    p.field.trim_start_matches("resume.")
                ),
                p.description,
            ));
        }
    }
    problems
}

/// What imports may cost an owner over time: an import is refused when it would take the
/// owner's resumes created within the last `window` (by any means: creates count too) past
/// `resumes`. An import saves one version, and records one event, per resume it carries, so
/// this bounds the versions and events an owner's imports write per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportBudget {
    /// Resumes an owner may have created within `window`, at least 1.
    pub resumes: i64,
    /// The rolling window.
    pub window: std::time::Duration,
}

impl ImportBudget {
    /// Whether `adding` more resumes fit beside `used` ones created within the window.
    pub fn allows(&self, used: i64, adding: i64) -> bool {
        used.saturating_add(adding) <= self.resumes
    }

    /// How many of the oldest resumes in the window must age out of it before `adding` more
    /// fit beside `used`: the 1-based rank, oldest first, of the one whose creation time plus
    /// the window is when to retry; `None` when `adding` alone is over the budget (waiting
    /// for the whole window is the most that helps).
    pub fn must_age_out(&self, used: i64, adding: i64) -> Option<i64> {
        let over = used.saturating_add(adding) - self.resumes;
        (adding <= self.resumes && over > 0).then_some(over)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resume::Experience;

    #[test]
    fn every_problem_is_named_in_order() {
        let bad = Content {
            title: " ".into(),
            summary: "字".repeat(5001),
            experience: vec![Experience {
                company: "Acme".into(),
                start: Some(YearMonth {
                    year: 2020,
                    month: 1,
                }),
                // Out of range, and before the start.
                end: Some(YearMonth {
                    year: 2018,
                    month: 13,
                }),
                ..Default::default()
            }],
            visibility: Visibility::Unknown(9),
            ..Default::default()
        };
        let fields: Vec<String> = violations(&bad).into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            [
                "resume.title",
                "resume.summary",
                "resume.experience[0].end",
                "resume.experience[0].end",
                "resume.visibility"
            ]
        );
        let good = Content {
            title: "fine".into(),
            ..Default::default()
        };
        // Only the newest version of a resume is saved, so only it is checked.
        let named = import_violations(&[vec![], vec![good.clone(), bad.clone()], vec![bad, good]]);
        let fields: Vec<&str> = named.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields[0], "document.resumes[0].versions");
        assert_eq!(fields[1], "document.resumes[1].versions[1].title");
        assert!(
            fields.iter().all(|f| !f.starts_with("document.resumes[2]")),
            "{fields:?}"
        );
    }

    #[test]
    fn the_import_budget_says_what_fits_and_what_must_age_out() {
        let budget = ImportBudget {
            resumes: 5,
            window: std::time::Duration::from_secs(60),
        };
        assert!(budget.allows(3, 2));
        assert!(!budget.allows(4, 2));
        assert_eq!(budget.must_age_out(3, 2), None);
        // Six would be one too many: the oldest must leave the window first.
        assert_eq!(budget.must_age_out(4, 2), Some(1));
        assert_eq!(budget.must_age_out(5, 3), Some(3));
        assert_eq!(budget.must_age_out(0, 6), None);
    }

    #[test]
    fn control_characters_are_refused_by_field_and_line_breaks_only_in_long_texts() {
        let content = Content {
            title: "Rust\tengineer".into(),
            summary: "line one\n\tline two".into(),
            experience: vec![Experience {
                company: "Acme\u{0}".into(),
                description: "built\r\nthings".into(),
                start: Some(YearMonth {
                    year: 2020,
                    month: 1,
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let fields: Vec<String> = violations(&content).into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["resume.title", "resume.experience[0].company"]);
    }
}
