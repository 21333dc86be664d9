//! What every save of a resume computes: completeness with the missing parts named, the skills
//! (declared ones merged with those found in the free text), years of experience in all and per
//! skill, and the seniority band.

use std::collections::BTreeMap;

use super::skills::{canonical, extract};

/// A month as `year * 12 + (month - 1)`, so spans are plain differences.
pub type Month = i32;

/// The [`Month`] of `year`-`month` (month 1–12).
pub fn month(year: i32, month: i32) -> Month {
    year * 12 + (month - 1)
}

/// One experience entry as the analysis sees it (entries without a start are left out).
#[derive(Debug, Clone, Default)]
pub struct Experience {
    pub start: Month,
    /// None while it lasts.
    pub end: Option<Month>,
    pub title: String,
    pub description: String,
    pub skills: Vec<String>,
}

/// A skill the candidate declared.
#[derive(Debug, Clone, Default)]
pub struct DeclaredSkill {
    pub name: String,
    /// 1–5.
    pub level: i32,
    pub years: f64,
}

/// The parts of a resume the analysis looks at.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub full_name: String,
    pub headline: String,
    pub has_contact: bool,
    pub has_location: bool,
    pub education: usize,
    pub experience: Vec<Experience>,
    pub projects: Vec<String>,
    pub skills: Vec<DeclaredSkill>,
    pub languages: usize,
    pub certificates: usize,
    pub summary: String,
}

/// One skill of the analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillFinding {
    pub name: String,
    /// Declared by the candidate (else only found in the text).
    pub declared: bool,
    pub level: i32,
    /// Years of the experience entries that use it, overlaps counted once; at least what was
    /// declared.
    pub years: f64,
}

/// What a save computed: stored with the version, never recomputed (it depends on the month).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// 0–100.
    pub completeness: i32,
    /// The parts that are missing, by name (`basics`, `contact`, … see `PARTS`).
    pub missing: Vec<String>,
    /// Declared and found skills, by canonical name.
    pub skills: Vec<SkillFinding>,
    /// Years of experience, overlaps counted once, one decimal.
    pub total_years: f64,
    pub seniority: Seniority,
}

/// The seniority band of a number of years of experience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seniority {
    /// Under a year.
    Entry,
    /// 1 to 3 years.
    Junior,
    /// 3 to 6 years.
    Mid,
    /// 6 to 10 years.
    Senior,
    /// 10 years or more.
    Principal,
}

impl Seniority {
    const ALL: [Seniority; 5] = [
        Seniority::Entry,
        Seniority::Junior,
        Seniority::Mid,
        Seniority::Senior,
        Seniority::Principal,
    ];

    /// The band's name on the wire and in projections (`entry` … `principal`).
    pub fn as_str(self) -> &'static str {
        match self {
            Seniority::Entry => "entry",
            Seniority::Junior => "junior",
            Seniority::Mid => "mid",
            Seniority::Senior => "senior",
            Seniority::Principal => "principal",
        }
    }

    /// The band named `name`, `None` for any other text.
    pub fn parse(name: &str) -> Option<Seniority> {
        Seniority::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Parts and their weight in the completeness score (they sum to 100).
const PARTS: [(&str, i32); 9] = [
    ("basics", 15),
    ("contact", 10),
    ("location", 5),
    ("education", 15),
    ("experience", 25),
    ("projects", 10),
    ("skills", 10),
    ("languages", 5),
    ("summary", 5),
];

/// Months covered by the spans, overlaps counted once.
fn covered(mut spans: Vec<(Month, Month)>) -> i32 {
    spans.retain(|(s, e)| e > s);
    spans.sort_unstable();
    let mut total = 0;
    let mut current: Option<(Month, Month)> = None;
    for (s, e) in spans {
        match current {
            Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                current = Some((s, e));
            }
            None => current = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

fn years(months: i32) -> f64 {
    (f64::from(months) / 12.0 * 10.0).round() / 10.0
}

/// The band of `total_years`.
pub fn seniority(total_years: f64) -> Seniority {
    match total_years {
        y if y < 1.0 => Seniority::Entry,
        y if y < 3.0 => Seniority::Junior,
        y if y < 6.0 => Seniority::Mid,
        y if y < 10.0 => Seniority::Senior,
        _ => Seniority::Principal,
    }
}

/// Analyses `r` as of `now` (open-ended experience runs to it).
pub fn analyse(r: &Input, now: Month) -> Analysis {
    let present = [
        !r.full_name.trim().is_empty() && !r.headline.trim().is_empty(),
        r.has_contact,
        r.has_location,
        r.education > 0,
        !r.experience.is_empty(),
        !r.projects.is_empty(),
        !r.skills.is_empty(),
        r.languages > 0,
        !r.summary.trim().is_empty(),
    ];
    let completeness = PARTS
        .iter()
        .zip(present)
        .filter(|(_, p)| *p)
        .map(|((_, w), _)| w)
        .sum();
    let missing = PARTS
        .iter()
        .zip(present)
        .filter(|(_, p)| !*p)
        .map(|((name, _), _)| (*name).to_string())
        .collect();

    let spans: Vec<(Month, Month)> = r
        .experience
        .iter()
        .map(|e| (e.start, e.end.unwrap_or(now).min(now)))
        .collect();
    let total_years = years(covered(spans.clone()));

    // Each experience entry lends its span to the skills it names or mentions.
    let mut per_skill: BTreeMap<String, Vec<(Month, Month)>> = BTreeMap::new();
    for (e, span) in r.experience.iter().zip(&spans) {
        let mut used: Vec<String> = e.skills.iter().map(|s| canonical(s)).collect();
        used.extend(extract(&format!("{} {}", e.title, e.description)));
        used.sort();
        used.dedup();
        for s in used {
            per_skill.entry(s).or_default().push(*span);
        }
    }
    let mut findings: BTreeMap<String, SkillFinding> = BTreeMap::new();
    for d in &r.skills {
        let name = canonical(&d.name);
        if name.is_empty() {
            continue;
        }
        let f = findings.entry(name.clone()).or_insert(SkillFinding {
            name,
            declared: true,
            level: 0,
            years: 0.0,
        });
        f.level = f.level.max(d.level);
        f.years = f.years.max(d.years);
    }
    let free_text = std::iter::once(r.summary.as_str())
        .chain(r.projects.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    for name in extract(&free_text)
        .into_iter()
        .chain(per_skill.keys().cloned())
    {
        findings.entry(name.clone()).or_insert(SkillFinding {
            name,
            declared: false,
            level: 0,
            years: 0.0,
        });
    }
    for (name, spans) in per_skill {
        if let Some(f) = findings.get_mut(&name) {
            f.years = f.years.max(years(covered(spans)));
        }
    }
    Analysis {
        completeness,
        missing,
        skills: findings.into_values().collect(),
        total_years,
        seniority: seniority(total_years),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume() -> Input {
        Input {
            full_name: "李雷".into(),
            headline: "后端工程师".into(),
            has_contact: true,
            experience: vec![
                Experience {
                    start: month(2018, 1),
                    end: Some(month(2021, 1)),
                    title: "Backend engineer".into(),
                    description: "用Golang和k8s搭建微服务".into(),
                    skills: vec![],
                },
                // Overlaps the first by a year: counted once.
                Experience {
                    start: month(2020, 1),
                    end: None,
                    title: "Senior engineer".into(),
                    description: "Rust services on Kubernetes".into(),
                    skills: vec!["JS".into()],
                },
            ],
            skills: vec![DeclaredSkill {
                name: "golang".into(),
                level: 4,
                years: 2.0,
            }],
            summary: "Loves PostgreSQL.".into(),
            ..Default::default()
        }
    }

    #[test]
    fn years_count_overlaps_once_and_lend_themselves_to_skills() {
        let a = analyse(&resume(), month(2026, 1));
        // 2018-01 .. 2026-01 with no gap: eight years.
        assert_eq!(a.total_years, 8.0);
        assert_eq!(a.seniority, Seniority::Senior);
        let by_name: BTreeMap<&str, &SkillFinding> =
            a.skills.iter().map(|s| (s.name.as_str(), s)).collect();
        assert_eq!(by_name["go"].years, 3.0, "declared 2, used 3");
        assert!(by_name["go"].declared && by_name["go"].level == 4);
        // k8s in the first job, Kubernetes in the second: one skill, 2018–2026.
        assert_eq!(by_name["kubernetes"].years, 8.0);
        assert_eq!(by_name["rust"].years, 6.0);
        assert_eq!(by_name["javascript"].years, 6.0);
        assert!(!by_name["postgresql"].declared && by_name["postgresql"].years == 0.0);
        assert!(by_name.contains_key("microservices"));
    }

    #[test]
    fn completeness_names_what_is_missing() {
        let a = analyse(&resume(), month(2026, 1));
        assert_eq!(
            a.missing,
            ["location", "education", "projects", "languages"]
        );
        assert_eq!(a.completeness, 100 - 5 - 15 - 10 - 5);
        let empty = analyse(&Input::default(), month(2026, 1));
        assert_eq!(empty.completeness, 0);
        assert_eq!(empty.missing.len(), 9);
        assert_eq!(empty.seniority, Seniority::Entry);
    }

    #[test]
    fn bands() {
        assert_eq!(seniority(0.5), Seniority::Entry);
        assert_eq!(seniority(2.0), Seniority::Junior);
        assert_eq!(seniority(5.9), Seniority::Mid);
        assert_eq!(seniority(12.0), Seniority::Principal);
        for s in Seniority::ALL {
            assert_eq!(Seniority::parse(s.as_str()), Some(s));
        }
        assert_eq!(Seniority::parse("guru"), None);
    }
}
