//! A job: the posting a company member writes, and the rules on the fields a client sets.

use chrono::{DateTime, Utc};
use talentmesh_mesh::FieldViolation;
use talentmesh_text::Lines;

use super::city::known_city;
use super::salary::job_range_violation;
use super::state::JobState;
use super::{capped_text, text_violation};

/// The longest title, in characters.
pub const MAX_TITLE: usize = 100;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 10_000;
/// The most skills a job names, required and preferred together.
pub const MAX_SKILLS: usize = 30;
/// The longest skill name, in characters.
pub const MAX_SKILL_LEN: usize = 40;

/// The longest office name, in characters (`companies/{uuid}/offices/{id}` with an id of at
/// most 64).
pub const MAX_OFFICE: usize = 200;
/// The most paths an update mask names (each mutable field once).
pub const MAX_MASK_PATHS: usize = MUTABLE.len();
/// The longest update-mask path echoed back in a refusal, in bytes.
pub const MAX_MASK_PATH: usize = 64;

/// A job as stored: who owns it, where it is in its life, and what it offers.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub company_id: String,
    /// Bumped by every change; the events and projections are ordered by it.
    pub version: i64,
    pub deleted: bool,
    pub state: JobState,
    pub fields: JobFields,
    /// The user id of the member who created it.
    pub creator: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was last published (`None` for a draft).
    pub published_at: Option<DateTime<Utc>>,
}

/// Everything a client may set on a job (the [`MUTABLE`] fields). Enumerations are the wire's
/// numbers, as sent: [`violations`] names those that are no known value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFields {
    pub title: String,
    pub description: String,
    pub required_skills: Vec<String>,
    pub preferred_skills: Vec<String>,
    /// CNY a month, 0 when not said.
    pub salary_min: i32,
    /// CNY a month, 0 when open.
    pub salary_max: i32,
    /// A GB/T 2260 division code, or empty.
    pub city_code: String,
    /// An office name `companies/{c}/offices/{o}` of the job's company, or empty.
    pub office: String,
    pub experience_years: i32,
    /// A `talentmesh.job.v1.Education` number.
    pub education: i32,
    /// A `talentmesh.job.v1.EmploymentType` number.
    pub employment_type: i32,
    /// A `talentmesh.job.v1.RecruitType` number.
    pub recruit_type: i32,
    /// The graduating class a campus job is for (0 for others).
    pub graduation_year: i32,
    pub headcount: i32,
}

impl JobFields {
    /// The office's id (the last segment of its name), empty when there is no office.
    pub fn office_id(&self) -> String {
        self.office
            .rsplit('/')
            .next()
            .filter(|_| !self.office.is_empty())
            .unwrap_or_default()
            .to_string()
    }

    /// Copies the fields named in `paths` from `patch` (names outside [`MUTABLE`] are ignored:
    /// the caller refuses them first).
    pub fn apply(&mut self, patch: &JobFields, paths: &[String]) {
        for p in paths {
            match p.as_str() {
                "title" => self.title = patch.title.clone(),
                "description" => self.description = patch.description.clone(),
                "required_skills" => self.required_skills = patch.required_skills.clone(),
                "preferred_skills" => self.preferred_skills = patch.preferred_skills.clone(),
                "salary_min" => self.salary_min = patch.salary_min,
                "salary_max" => self.salary_max = patch.salary_max,
                "city_code" => self.city_code = patch.city_code.clone(),
                "office" => self.office = patch.office.clone(),
                "experience_years" => self.experience_years = patch.experience_years,
                "education" => self.education = patch.education,
                "employment_type" => self.employment_type = patch.employment_type,
                "recruit_type" => self.recruit_type = patch.recruit_type,
                "graduation_year" => self.graduation_year = patch.graduation_year,
                "headcount" => self.headcount = patch.headcount,
                _ => {}
            }
        }
    }
}

/// A change to a job: the fields of `patch` named by `paths` (an update mask), applied only if
/// the job is still at `expected_version` (0: whatever version).
#[derive(Debug, Clone, Default)]
pub struct JobUpdate {
    /// The job's name, `companies/{c}/jobs/{j}`.
    pub name: String,
    pub patch: JobFields,
    pub paths: Vec<String>,
    pub expected_version: i64,
}

/// A job's minimum education (`talentmesh.job.v1.Education`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Education {
    Unspecified = 0,
    Any = 1,
    HighSchool = 2,
    Associate = 3,
    Bachelor = 4,
    Master = 5,
    Doctorate = 6,
}

impl Education {
    /// Whether `code` names an education.
    pub fn known(code: i32) -> bool {
        (Education::Unspecified as i32..=Education::Doctorate as i32).contains(&code)
    }
}

/// How a job employs (`talentmesh.job.v1.EmploymentType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmploymentType {
    Unspecified = 0,
    FullTime = 1,
    PartTime = 2,
    Contract = 3,
    Internship = 4,
}

impl EmploymentType {
    /// Whether `code` names an employment type.
    pub fn known(code: i32) -> bool {
        (EmploymentType::Unspecified as i32..=EmploymentType::Internship as i32).contains(&code)
    }
}

/// Whom a job recruits (`talentmesh.job.v1.RecruitType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecruitType {
    Unspecified = 0,
    Campus = 1,
    Intern = 2,
    Social = 3,
}

impl RecruitType {
    /// The recruit type numbered `code`, `None` for a number none has.
    pub fn from_code(code: i32) -> Option<RecruitType> {
        match code {
            0 => Some(RecruitType::Unspecified),
            1 => Some(RecruitType::Campus),
            2 => Some(RecruitType::Intern),
            3 => Some(RecruitType::Social),
            _ => None,
        }
    }
}

/// Every field a client may set.
pub const MUTABLE: [&str; 14] = [
    "title",
    "description",
    "required_skills",
    "preferred_skills",
    "salary_min",
    "salary_max",
    "city_code",
    "office",
    "experience_years",
    "education",
    "employment_type",
    "recruit_type",
    "graduation_year",
    "headcount",
];

/// The fields named in `paths` that break a rule (paths `job.<field>`). `job` carries the
/// values after the change.
pub fn violations(job: &JobFields, paths: &[&str]) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    let f = |p: &str| format!("job.{p}");
    let has = |p: &str| paths.contains(&p);
    // Characters first: what PostgreSQL or a search index cannot hold is refused here.
    for (path, value, lines) in [
        ("title", &job.title, Lines::Single),
        ("description", &job.description, Lines::Multi),
        ("city_code", &job.city_code, Lines::Single),
    ] {
        if has(path) {
            out.extend(text_violation(&f(path), value, lines));
        }
    }
    // The office is matched against the company's offices later: capped here first.
    if has("office") {
        out.extend(capped_text(
            &f("office"),
            &job.office,
            MAX_OFFICE,
            Lines::Single,
        ));
    }
    for (path, skills) in [
        ("required_skills", &job.required_skills),
        ("preferred_skills", &job.preferred_skills),
    ] {
        if has(path) {
            if let Some(v) = skills
                .iter()
                .find_map(|s| text_violation(&f(path), s, Lines::Single))
            {
                out.push(v);
            }
        }
    }
    if has("title") {
        let n = job.title.trim().chars().count();
        if n == 0 || n > MAX_TITLE {
            out.push(FieldViolation::new(
                f("title"),
                format!("required, at most {MAX_TITLE} characters"),
            ));
        }
    }
    if has("description") && job.description.chars().count() > MAX_DESCRIPTION {
        out.push(FieldViolation::new(
            f("description"),
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    if has("required_skills") || has("preferred_skills") {
        let all: Vec<&String> = job
            .required_skills
            .iter()
            .chain(&job.preferred_skills)
            .collect();
        if all.len() > MAX_SKILLS {
            out.push(FieldViolation::new(
                f("required_skills"),
                format!("at most {MAX_SKILLS} skills in all"),
            ));
        }
        if all
            .iter()
            .any(|s| s.trim().is_empty() || s.chars().count() > MAX_SKILL_LEN || s.contains('|'))
        {
            out.push(FieldViolation::new(
                f("required_skills"),
                format!("each skill 1 to {MAX_SKILL_LEN} characters, without '|'"),
            ));
        }
    }
    if has("salary_min") || has("salary_max") {
        out.extend(job_range_violation(job.salary_min, job.salary_max));
    }
    if has("city_code") && !job.city_code.is_empty() && !known_city(&job.city_code) {
        out.push(FieldViolation::new(
            f("city_code"),
            "not a known division code, e.g. 310000",
        ));
    }
    if has("experience_years") && !(0..=50).contains(&job.experience_years) {
        out.push(FieldViolation::new(
            f("experience_years"),
            "between 0 and 50",
        ));
    }
    if has("education") && !Education::known(job.education) {
        out.push(FieldViolation::new(f("education"), "unknown education"));
    }
    if has("employment_type") && !EmploymentType::known(job.employment_type) {
        out.push(FieldViolation::new(
            f("employment_type"),
            "unknown employment type",
        ));
    }
    if has("recruit_type") || has("graduation_year") {
        match RecruitType::from_code(job.recruit_type) {
            None => out.push(FieldViolation::new(
                f("recruit_type"),
                "unknown recruit type",
            )),
            Some(RecruitType::Campus) if !(2000..=2100).contains(&job.graduation_year) => {
                out.push(FieldViolation::new(
                    f("graduation_year"),
                    "campus jobs name the graduating class (2000–2100)",
                ));
            }
            Some(t) if t != RecruitType::Campus && job.graduation_year != 0 => {
                out.push(FieldViolation::new(
                    f("graduation_year"),
                    "only campus jobs have a graduation year",
                ));
            }
            _ => {}
        }
    }
    if has("headcount") && !(1..=10_000).contains(&job.headcount) {
        out.push(FieldViolation::new(f("headcount"), "between 1 and 10000"));
    }
    out
}

/// Skills as the store keeps them: a JSON array of trimmed names.
pub fn skills_json(skills: &[String]) -> String {
    serde_json::Value::from(
        skills
            .iter()
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>(),
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salary_and_campus_rules_name_their_fields() {
        let job = JobFields {
            title: "x".into(),
            salary_min: 30_000,
            salary_max: 20_000,
            recruit_type: RecruitType::Campus as i32,
            city_code: "999999".into(),
            headcount: 1,
            ..Default::default()
        };
        let fields: Vec<String> = violations(&job, &MUTABLE)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert!(fields.contains(&"job.salary_min".to_string()), "{fields:?}");
        assert!(
            fields.contains(&"job.graduation_year".to_string()),
            "{fields:?}"
        );
        assert!(fields.contains(&"job.city_code".to_string()), "{fields:?}");
    }

    #[test]
    fn enumerations_outside_the_wire_are_named() {
        let job = JobFields {
            title: "x".into(),
            education: 7,
            employment_type: 5,
            recruit_type: 4,
            headcount: 1,
            ..Default::default()
        };
        let fields: Vec<String> = violations(&job, &MUTABLE)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            ["job.education", "job.employment_type", "job.recruit_type"]
        );
    }

    #[test]
    fn a_patch_copies_only_the_named_fields() {
        let mut job = JobFields {
            title: "old".into(),
            headcount: 1,
            ..Default::default()
        };
        let patch = JobFields {
            title: "new".into(),
            headcount: 5,
            ..Default::default()
        };
        job.apply(&patch, &["headcount".to_string()]);
        assert_eq!((job.title.as_str(), job.headcount), ("old", 5));
        assert_eq!(
            JobFields {
                office: "companies/c/offices/o".into(),
                ..Default::default()
            }
            .office_id(),
            "o"
        );
    }
}
