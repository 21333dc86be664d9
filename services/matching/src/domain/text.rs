//! The texts that are embedded for a job and for a candidate: the fields that say what the
//! work is, most informative first, bounded in length, with protected attributes scrubbed.
//!
//! School and company names are left out of a candidate's text: they carry prestige and
//! region rather than skills, and an embedding would match a job to the candidate's former
//! employer or university instead of to the work. Degrees and majors stay.

use super::profile::{CandidateProfile, JobProfile};
use super::scrub::scrub;

/// Most characters (Unicode scalars) of an embedded text; models read about 512 tokens.
pub const TEXT_BUDGET: usize = 2000;

/// Pieces joined by line breaks, each scrubbed and cut to its own cap, the whole cut to
/// [`TEXT_BUDGET`].
struct Builder {
    out: String,
    left: usize,
}

impl Builder {
    fn new() -> Self {
        Self {
            out: String::new(),
            left: TEXT_BUDGET,
        }
    }

    fn push(&mut self, piece: &str, cap: usize) {
        let clean = scrub(piece);
        let clean = clean.trim();
        if clean.is_empty() || self.left == 0 {
            return;
        }
        let sep = usize::from(!self.out.is_empty());
        if sep >= self.left {
            self.left = 0;
            return;
        }
        let take = cap.min(self.left - sep);
        if sep == 1 {
            self.out.push('\n');
        }
        let mut n = 0;
        for c in clean.chars().take(take) {
            self.out.push(c);
            n += 1;
        }
        self.left -= sep + n;
    }

    fn finish(self) -> String {
        self.out
    }
}

/// The embedded text of a job: title, required skills, preferred skills, then the
/// description; at most [`TEXT_BUDGET`] chars, scrubbed like a candidate's so a stated gender
/// or age requirement cannot pull a candidate closer.
pub fn job_text(job: &JobProfile) -> String {
    let mut b = Builder::new();
    b.push(&job.title, 200);
    b.push(&job.required_skills.join(", "), 400);
    b.push(&job.preferred_skills.join(", "), 300);
    b.push(&job.description, TEXT_BUDGET);
    b.finish()
}

/// The embedded text of a candidate: title, headline, declared skills, positions (latest
/// first: title and description, three at most), projects (three at most), summary, degrees
/// and majors, certificates; at most [`TEXT_BUDGET`] chars, protected attributes scrubbed.
pub fn candidate_text(c: &CandidateProfile) -> String {
    let mut b = Builder::new();
    b.push(&c.title, 200);
    b.push(&c.headline, 300);
    let skills: Vec<&str> = c.skills.iter().map(|s| s.name.as_str()).collect();
    b.push(&skills.join(", "), 400);
    let mut positions: Vec<_> = c.experience.iter().enumerate().collect();
    // Latest first: current positions, then by end and start, descending; ties by order.
    positions.sort_by(|(i, x), (j, y)| {
        let key = |e: &super::profile::ExperienceItem| (e.end.is_none(), e.end, e.start);
        key(y).cmp(&key(x)).then(i.cmp(j))
    });
    for (_, e) in positions.into_iter().take(3) {
        b.push(&e.title, 120);
        b.push(&e.description, 400);
    }
    for p in c.projects.iter().take(3) {
        b.push(&p.name, 80);
        b.push(&p.description, 250);
    }
    b.push(&c.summary, 400);
    for e in &c.education {
        b.push(&format!("{} {}", e.degree_text, e.major), 100);
    }
    b.push(&c.certificates.join(", "), 200);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::{EducationItem, ExperienceItem, SkillItem, YearMonth};

    fn ym(year: i32, month: u32) -> Option<YearMonth> {
        Some(YearMonth { year, month })
    }

    #[test]
    fn a_job_text_leads_with_title_and_skills() {
        let job = JobProfile {
            title: "Rust 后端工程师".into(),
            required_skills: vec!["Rust".into(), "k8s".into()],
            preferred_skills: vec!["Kafka".into()],
            description: "负责撮合服务。限男性，35岁以下。".into(),
            ..JobProfile::default()
        };
        let text = job_text(&job);
        assert!(
            text.starts_with("Rust 后端工程师\nRust, k8s\nKafka\n负责撮合服务"),
            "{text}"
        );
        assert!(!text.contains("35岁"), "{text}");
    }

    #[test]
    fn a_candidate_text_keeps_the_work_and_drops_schools_companies_and_protected_text() {
        let c = CandidateProfile {
            title: "数据工程师".into(),
            summary: "性别：女，1996年出生。擅长 Spark。".into(),
            skills: vec![SkillItem {
                name: "Flink".into(),
                ..SkillItem::default()
            }],
            experience: vec![
                ExperienceItem {
                    company: "甲公司".into(),
                    title: "实习生".into(),
                    start: ym(2018, 1),
                    end: ym(2018, 6),
                    ..ExperienceItem::default()
                },
                ExperienceItem {
                    company: "乙公司".into(),
                    title: "数据开发".into(),
                    start: ym(2019, 1),
                    end: None,
                    ..ExperienceItem::default()
                },
            ],
            education: vec![EducationItem {
                school: "某大学".into(),
                degree_text: "硕士".into(),
                major: "统计学".into(),
                ..EducationItem::default()
            }],
            ..CandidateProfile::default()
        };
        let text = candidate_text(&c);
        assert_eq!(
            text,
            "数据工程师\nFlink\n数据开发\n实习生\n擅长 Spark\n硕士 统计学"
        );
    }

    #[test]
    fn texts_are_bounded() {
        let long = "分布式系统设计与实现。".repeat(500);
        let c = CandidateProfile {
            title: "工程师".into(),
            summary: long.clone(),
            experience: vec![ExperienceItem {
                description: long.clone(),
                ..ExperienceItem::default()
            }],
            projects: vec![
                crate::domain::profile::ProjectItem {
                    name: "p".into(),
                    description: long.clone(),
                };
                5
            ],
            ..CandidateProfile::default()
        };
        let text = candidate_text(&c);
        assert!(text.chars().count() <= TEXT_BUDGET);
        assert!(text.starts_with("工程师\n分布式"), "{}", &text[..40]);
        let job = JobProfile {
            description: long,
            ..JobProfile::default()
        };
        assert_eq!(job_text(&job).chars().count(), TEXT_BUDGET);
    }
}
