//! What a match compares: a published job, a candidate built from a resume, and what the
//! candidate asked for in a request. The service fills these from its stores; every rule in
//! this module tree reads them and nothing else.

/// A level of formal education, ordered by level: `Any < HighSchool < … < Doctorate`. On a job
/// it is the least level asked for (`Any`: no requirement); on a candidate, a degree held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Education {
    Any,
    HighSchool,
    Associate,
    Bachelor,
    Master,
    Doctorate,
}

impl Education {
    /// The level as a number: `Any` 0, `HighSchool` 1 … `Doctorate` 5.
    pub fn level(self) -> u32 {
        match self {
            Self::Any => 0,
            Self::HighSchool => 1,
            Self::Associate => 2,
            Self::Bachelor => 3,
            Self::Master => 4,
            Self::Doctorate => 5,
        }
    }

    /// A short English name for sentences shown to users ("a master's degree").
    pub fn label(self) -> &'static str {
        match self {
            Self::Any => "any education",
            Self::HighSchool => "high school",
            Self::Associate => "an associate degree",
            Self::Bachelor => "a bachelor's degree",
            Self::Master => "a master's degree",
            Self::Doctorate => "a doctorate",
        }
    }
}

/// How a job recruits: new graduates, interns, or experienced hires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecruitType {
    Campus,
    Intern,
    Social,
}

/// The contract a job offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmploymentType {
    FullTime,
    PartTime,
    Contract,
    Internship,
}

/// A point on the earth in WGS-84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
}

impl GeoPoint {
    /// Whether both coordinates are finite and in range (latitude ±90, longitude ±180).
    pub fn is_valid(self) -> bool {
        self.latitude.is_finite()
            && self.longitude.is_finite()
            && self.latitude.abs() <= 90.0
            && self.longitude.abs() <= 180.0
    }
}

/// A calendar month (`month` 1–12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    /// Months since year 0, for differences; `None` when `month` is not 1–12.
    pub fn index(self) -> Option<i64> {
        (1..=12)
            .contains(&self.month)
            .then(|| i64::from(self.year) * 12 + i64::from(self.month) - 1)
    }
}

/// A monthly salary range in CNY; `max` 0 means open-ended ("20k and up").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SalaryRange {
    pub min: u32,
    pub max: u32,
}

/// A job as matching sees it (a published version of the job service's job).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobProfile {
    /// `companies/{company}/jobs/{job}`.
    pub name: String,
    /// `companies/{company}`.
    pub company: String,
    /// The company's display name when known.
    pub company_name: Option<String>,
    pub version: i64,
    pub published: bool,
    pub title: String,
    pub description: String,
    /// As the recruiter wrote them; matching canonicalises them (`k8s` → `kubernetes`).
    pub required_skills: Vec<String>,
    pub preferred_skills: Vec<String>,
    pub salary: Option<SalaryRange>,
    /// GB/T 2260 code, six digits.
    pub city_code: Option<String>,
    /// The office's point when known.
    pub location: Option<GeoPoint>,
    pub experience_years: Option<u32>,
    pub education: Option<Education>,
    pub employment_type: Option<EmploymentType>,
    pub recruit_type: Option<RecruitType>,
    pub graduation_year: Option<i32>,
}

/// One position of a resume's work history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperienceItem {
    pub company: String,
    pub title: String,
    pub description: String,
    pub skills: Vec<String>,
    pub start: Option<YearMonth>,
    /// `None`: the candidate still holds the position (it ends at [`CandidateProfile::as_of`]).
    pub end: Option<YearMonth>,
}

/// One school of a resume.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EducationItem {
    pub school: String,
    pub degree: Option<Education>,
    /// The degree as written (`本科`, `MSc`); read when `degree` is `None`.
    pub degree_text: String,
    pub major: String,
    pub end: Option<YearMonth>,
}

/// One project of a resume.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProjectItem {
    pub name: String,
    pub description: String,
}

/// A skill the candidate declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SkillItem {
    pub name: String,
    pub years: Option<f64>,
    pub level: Option<u32>,
}

/// A candidate as matching sees it, built from a resume. It deliberately has no name, contact,
/// gender or age; free text may still mention them, and [`super::scrub`] removes them before
/// any text is embedded or searched for skills.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CandidateProfile {
    /// `resumes/{id}`.
    pub name: String,
    /// `users/{id}`.
    pub owner: String,
    pub version: i64,
    pub title: String,
    pub headline: String,
    pub summary: String,
    pub experience: Vec<ExperienceItem>,
    pub education: Vec<EducationItem>,
    pub projects: Vec<ProjectItem>,
    pub skills: Vec<SkillItem>,
    pub certificates: Vec<String>,
    /// Years of work from the resume service's analysis; when `None` they are counted from
    /// the experience dates.
    pub total_years: Option<f64>,
    pub city_code: Option<String>,
    pub location: Option<GeoPoint>,
    /// The month the resume was last updated: where current positions end and what
    /// "graduating" is measured against. Rules never read a clock, so scores are repeatable.
    pub as_of: Option<YearMonth>,
}

/// What a candidate asked for in a request (filters double as preferences).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Preferences {
    /// Least acceptable monthly salary, CNY.
    pub salary_min: Option<u32>,
    /// GB/T 2260 code of the city wanted.
    pub city_code: Option<String>,
    pub recruit_type: Option<RecruitType>,
}
