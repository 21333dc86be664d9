//! The resume aggregate. A resume is a [`Record`] (owner, current version, who it is open to)
//! and an immutable [`Resume`] per version: the [`Content`] the owner wrote, stamped with the
//! server's fields and the [`Analysis`] computed when it was saved. Companies read what the
//! owner opened to them ([`Record::access_for`]), never the contact details unless an
//! application is past screening.

use chrono::{DateTime, Datelike, Utc};

use super::analysis::{self, month, Analysis, DeclaredSkill, Month};
use super::{CompanyId, ResumeId};

/// A calendar month as written (`year` 1950–2100 and `month` 1–12 once checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct YearMonth {
    pub year: i32,
    pub month: i32,
}

impl YearMonth {
    /// The month as the analysis counts it.
    pub fn month(self) -> Month {
        month(self.year, self.month)
    }
}

/// How to reach the candidate; shown to a company only past screening.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub email: String,
    pub phone: String,
}

/// Where the candidate is: a six-digit division code and a point (degrees).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location {
    pub city_code: String,
    pub latitude: f64,
    pub longitude: f64,
}

/// One school.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Education {
    pub school: String,
    pub degree: String,
    pub major: String,
    pub start: Option<YearMonth>,
    pub end: Option<YearMonth>,
}

/// One job; `end` is `None` while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Experience {
    pub company: String,
    pub title: String,
    pub start: Option<YearMonth>,
    pub end: Option<YearMonth>,
    pub description: String,
    /// Skills the candidate names for this job (any spelling).
    pub skills: Vec<String>,
}

/// One project.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Project {
    pub name: String,
    pub description: String,
}

/// A declared skill: `level` 0–5, `years` 0–60 once checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Skill {
    pub name: String,
    pub level: i32,
    pub years: f64,
}

/// A spoken language and how well (free text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Language {
    pub name: String,
    pub level: String,
}

/// Who may read a resume besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Not given; saved as [`Visibility::Private`].
    #[default]
    Unspecified,
    /// Only the owner and companies an application opened it to.
    Private,
    /// Every company.
    Public,
    /// The companies in `shared_with`.
    Shared,
    /// A value this version of the service does not know (refused by the limits).
    Unknown(i32),
}

impl Visibility {
    /// The visibility a save keeps: an unspecified one is private.
    pub fn saved(self) -> Visibility {
        match self {
            Visibility::Unspecified => Visibility::Private,
            v => v,
        }
    }
}

/// What the owner writes: everything of a resume but the server's fields. Unchecked until
/// [`super::limits::violations`] finds nothing wrong with it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Content {
    pub title: String,
    pub full_name: String,
    pub headline: String,
    pub contact: Option<Contact>,
    pub location: Option<Location>,
    pub education: Vec<Education>,
    pub experience: Vec<Experience>,
    pub projects: Vec<Project>,
    pub skills: Vec<Skill>,
    pub languages: Vec<Language>,
    pub certificates: Vec<String>,
    pub summary: String,
    pub visibility: Visibility,
    /// `companies/{company}` names (for [`Visibility::Shared`]).
    pub shared_with: Vec<String>,
}

impl Content {
    /// The ids of the companies in `shared_with` (names of another shape left out).
    pub fn shared_company_ids(&self) -> Vec<&str> {
        self.shared_with
            .iter()
            .filter_map(|c| c.strip_prefix("companies/"))
            .collect()
    }

    /// The parts of the content the analysis looks at.
    fn analysis_input(&self) -> analysis::Input {
        analysis::Input {
            full_name: self.full_name.clone(),
            headline: self.headline.clone(),
            has_contact: self
                .contact
                .as_ref()
                .is_some_and(|c| !c.email.is_empty() || !c.phone.is_empty()),
            has_location: self
                .location
                .as_ref()
                .is_some_and(|l| !l.city_code.is_empty()),
            education: self.education.len(),
            experience: self
                .experience
                .iter()
                .filter_map(|e| {
                    Some(analysis::Experience {
                        start: e.start?.month(),
                        end: e.end.map(YearMonth::month),
                        title: e.title.clone(),
                        description: e.description.clone(),
                        skills: e.skills.clone(),
                    })
                })
                .collect(),
            projects: self
                .projects
                .iter()
                .map(|p| format!("{} {}", p.name, p.description))
                .collect(),
            skills: self
                .skills
                .iter()
                .map(|s| DeclaredSkill {
                    name: s.name.clone(),
                    level: s.level,
                    years: s.years,
                })
                .collect(),
            languages: self.languages.len(),
            certificates: self.certificates.len(),
            summary: self.summary.clone(),
        }
    }

    /// The analysis of this content as of `now` (open-ended experience runs to its month).
    pub fn analyse(&self, now: DateTime<Utc>) -> Analysis {
        let this_month = month(now.year(), i32::try_from(now.month()).unwrap_or(1));
        analysis::analyse(&self.analysis_input(), this_month)
    }
}

/// One saved version of a resume: the content and what the server stamped on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub id: ResumeId,
    /// The owner's user id (without `users/`).
    pub owner: String,
    /// 1 for the first save, one more for every later save (restores and deletes included).
    pub version: i64,
    pub content: Content,
    pub analysis: Analysis,
    /// When the resume (not this version) was created.
    pub created_at: DateTime<Utc>,
    /// When this version was saved.
    pub updated_at: DateTime<Utc>,
}

impl Resume {
    /// Version `version` of resume `id` made of `content` as saved at `now`: the title trimmed,
    /// an unspecified visibility made private, and the analysis computed. Whatever server
    /// fields the client sent are not part of `content`, so they cannot leak in.
    pub fn stamped(
        id: ResumeId,
        owner: &str,
        version: i64,
        created_at: DateTime<Utc>,
        mut content: Content,
        now: DateTime<Utc>,
    ) -> Resume {
        content.title = content.title.trim().to_string();
        content.visibility = content.visibility.saved();
        let analysis = content.analyse(now);
        Resume {
            id,
            owner: owner.to_string(),
            version,
            content,
            analysis,
            created_at,
            updated_at: now,
        }
    }
}

/// An entry of a resume's history.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeVersion {
    pub version: i64,
    pub resume: Resume,
    /// When the version was written.
    pub created_at: DateTime<Utc>,
}

/// A resume's current state without its content: who owns it, its version, and who may read
/// it. Deleted resumes keep their record (with `deleted`) so versions stay ordered.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: ResumeId,
    pub owner: String,
    pub version: i64,
    pub deleted: bool,
    pub visibility: Visibility,
    /// Ids of the companies the current version is shared with.
    pub shared_with: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// What the applications of a company open to it of one resume (recorded from the job
/// service's events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The version applied with (the newest such, when there are several applications).
    pub version: i64,
    /// Past screening: contact details may be shown.
    pub contact: bool,
}

/// What a member of a company may read of a resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The version to show.
    pub version: i64,
    /// Whether the contact details are shown.
    pub contact: bool,
}

impl Record {
    /// What a member of `company` may read, given what its applications `opened`: the newest
    /// version when the owner made the resume public or shared it with the company, else the
    /// version an application was made with; the contact details only past screening. `None`:
    /// nothing (the resume looks missing).
    pub fn access_for(&self, company: &CompanyId, opened: Option<Opened>) -> Option<Access> {
        let open = match self.visibility {
            Visibility::Public => true,
            Visibility::Shared => self.shared_with.iter().any(|c| c == company.as_str()),
            Visibility::Private | Visibility::Unspecified | Visibility::Unknown(_) => false,
        };
        let version = match (open, opened) {
            (true, _) => self.version,
            (false, Some(a)) => a.version,
            (false, None) => return None,
        };
        Some(Access {
            version,
            contact: opened.is_some_and(|a| a.contact),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(visibility: Visibility, shared_with: &[&str]) -> Record {
        Record {
            id: ResumeId::generate(),
            owner: "u1".into(),
            version: 5,
            deleted: false,
            visibility,
            shared_with: shared_with.iter().map(|s| (*s).to_string()).collect(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn companies_read_what_was_opened_to_them() {
        let acme = CompanyId::from_name("companies/0190a5b2-7c3e-7d4f-8a1b-2c3d4e5f6a7b");
        let Some(acme) = acme else {
            panic!("a company name")
        };
        let applied = Opened {
            version: 2,
            contact: true,
        };
        let shared = record(Visibility::Shared, &[acme.as_str()]);
        assert_eq!(
            shared.access_for(&acme, None),
            Some(Access {
                version: 5,
                contact: false
            })
        );
        let private = record(Visibility::Private, &[]);
        assert_eq!(private.access_for(&acme, None), None);
        assert_eq!(
            private.access_for(&acme, Some(applied)),
            Some(Access {
                version: 2,
                contact: true
            })
        );
        assert_eq!(
            record(Visibility::Shared, &[]).access_for(&acme, None),
            None
        );
    }

    #[test]
    fn stamping_trims_defaults_and_analyses() {
        let now = Utc::now();
        let r = Resume::stamped(
            ResumeId::generate(),
            "u1",
            3,
            now,
            Content {
                title: "  后端  ".into(),
                summary: "Rust".into(),
                ..Default::default()
            },
            now,
        );
        assert_eq!(r.content.title, "后端");
        assert_eq!(r.content.visibility, Visibility::Private);
        assert_eq!(r.analysis.skills[0].name, "rust");
    }
}
