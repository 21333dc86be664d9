//! Career stage and years of experience, read from the structured fields first and from the
//! texts when the fields are empty: a posting titled `高级Go后端开发工程师` asking
//! `8年以上…经验` is a senior job asking 8 years even when its recruiter set neither field, and
//! a resume saying `大三在读` is a student's.
//!
//! Why it matters: the usual near miss of a match is the right role at the wrong level (an
//! intern's resume against the senior posting of the same stack), and a text embedding keeps
//! level badly, above all across languages. The stage and years read here feed the
//! experience component ([`super::components::experience_of`]), where they can be shown and
//! weighed, instead of being left to the embedding.
//!
//! Fairness: the candidate's texts are scrubbed of protected attributes before they are read
//! ([`super::scrub`]), and a candidate's stage never comes from years alone beyond the
//! student/graduate/experienced divide: many years without a senior title or a lead role are
//! `Experienced`, so long careers are not marked as over-qualified, which would stand in for
//! age.

use std::sync::LazyLock;

use regex::Regex;

use super::components::candidate_years;
use super::normal::Normalised;
use super::patterns::compile;
use super::profile::{CandidateProfile, JobProfile, RecruitType, YearMonth};
use super::scrub::scrub;

/// Where a person stands in a career, or the level a job hires at, in order:
/// `Student < NewGraduate < Experienced < Senior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CareerStage {
    /// In school, hired as an intern.
    Student,
    /// Graduating or just graduated, hired through campus recruiting (应届生).
    NewGraduate,
    /// Hired for experience (社招), not at a senior or lead level.
    Experienced,
    /// Senior, lead or principal level.
    Senior,
}

impl CareerStage {
    /// A short English name for sentences shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Self::Student => "student (intern)",
            Self::NewGraduate => "new graduate",
            Self::Experienced => "experienced",
            Self::Senior => "senior",
        }
    }
}

/// How well a candidate's stage fits the stage a job hires at, in 0..=1: the same stage 1;
/// neighbours on either side of the same hiring track 0.5 (student and new graduate are both
/// campus hiring; experienced and senior both experienced hiring); across the tracks 0.
pub fn stage_fit(job: CareerStage, candidate: CareerStage) -> f64 {
    use CareerStage::*;
    match (job, candidate) {
        (a, b) if a == b => 1.0,
        (Student, NewGraduate) | (NewGraduate, Student) => 0.5,
        (Experienced, Senior) | (Senior, Experienced) => 0.5,
        _ => 0.0,
    }
}

/// The level of a job: its stage with where it was read, and the least years of experience it
/// asks for (the field, else the text).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobLevel {
    pub stage: Option<(CareerStage, &'static str)>,
    pub years: Option<u32>,
}

/// The level of a candidate: their stage with where it was read, and their years of work
/// (the analysis, else the dated positions, else the text).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CandidateLevel {
    pub stage: Option<(CareerStage, &'static str)>,
    pub years: Option<f64>,
}

/// Where a job's stage was read when only its years say it ([`JobLevel::stage`]).
pub(crate) const YEARS_ASKED_WHY: &str = "the years it asks for";
/// Where a candidate's stage was read when only their years say it.
pub(crate) const YEARS_HELD_WHY: &str = "years of work";

// Patterns over the normal form (lower case, simplified Chinese). `\b` is an ASCII word
// boundary (see `patterns::compile`).

/// Intern titles and in-school wording.
const INTERN_TITLE: &str = r"实习|\binterns?(?:hips?)?\b|\bco-?op\b|\bplacement student\b";
/// Campus-hiring titles.
const GRADUATE_TITLE: &str = r"校招|校园招聘|应届|管培生|管理培训生|\bgraduate\b|\bnew grads?\b|\bcampus\b|\bentry[- ]level\b|\bjunior\b|初级";
/// Senior, lead and principal titles.
const SENIOR_TITLE: &str = r"高级|资深|首席|专家|主管|负责人|总监|\bsenior\b|\bsr\.?\s|\bprincipal\b|\b(?:team|tech|technical|engineering|project) lead\b|\blead (?:engineer|developer|designer|architect|scientist|analyst)\b|\bhead of\b|\bstaff (?:engineer|scientist|designer)\b|\bdirector\b";
/// A posting's campus-hiring requirement: a graduating class or graduates.
const GRADUATE_ASK: &str = r"应届|校招|校园招聘|\d{4}\s*届|\bgraduating\b|\bnew grads?\b|\bclass of \d{4}\b|\brecent graduates?\b|\bfresh graduates?\b";
/// A posting's or a resume's in-school wording.
const STUDENT_ASK: &str = r"在读|在校|大[一二三四]|研[一二三]|每周(?:可)?实习|\bcurrently (?:studying|enrolled)\b|\bstudent\b|\bundergraduate student\b|\(expected\)|\bexpected graduation\b|\b(?:first|second|third|fourth|final)[- ]year\b";
/// A resume's new-graduate wording (`graduate student` is a student, read first).
const GRADUATE_SELF: &str = r"应届|毕业生|校招|\d{4}\s*届|\bgraduate\b|\bnew grad\b|\bgraduated\b";
/// A resume's lead or senior wording.
const SENIOR_SELF: &str = r"高级|资深|首席|负责人|总监|带领\s*\d*\s*人?的?团队|带队|管理\s*\d+\s*人|\bsenior\b|\bprincipal\b|\bteam lead\b|\btech lead\b|\blead(?:ing)? (?:a|the) team\b|\bled (?:a|the) team\b|\bhead of\b|\bmanag(?:ing|ed) a team\b";

/// Years of experience a posting asks for, the number in group 1 (`3年以上…经验`, `3-5年经验`,
/// `5+ years`, `at least 4 years`, `3 years of experience`). Arabic digits only: Chinese
/// numerals are folded to digits first ([`normal_with_digits`]); a number that is the end of
/// a longer one (`2026年`) is not a count.
const YEARS_ASKED: &[&str] = &[
    r"(?:^|[^\d.\-~–至到])(\d{1,2})\s*[-~至到]\s*\d{1,2}\s*年[^\n，。；;]{0,12}经验",
    r"(?:^|[^\d.\-~–至到])(\d{1,2})\s*年[^\n，。；;]{0,16}经验",
    r"经验\s*(\d{1,2})\s*年",
    r"(?:^|[^\d.\-~–至到])(\d{1,2})\s*\+\s*(?:years?|yrs?)\b",
    r"\b(?:at least|minimum(?: of)?|min\.?|over|more than)\s+(\d{1,2})\s+(?:years?|yrs?)\b",
    r"(?:^|[^\d.\-~–至到])(\d{1,2})\s*(?:-|to|–)\s*\d{1,2}\s+(?:years?|yrs?)\b",
    r"(?:^|[^\d.\-~–至到])(\d{1,2})\s+(?:years?|yrs?)(?:'|’)?\s+(?:of\s+)?(?:[a-z0-9/+#.-]+\s+){0,4}?experience\b",
];
/// Years of work a resume states, the number in group 1 (`5年工作经验`, `9年Go后端开发经验`,
/// `4 years of experience`, `12 years in backend development`).
const YEARS_HELD: &[&str] = &[
    r"(?:^|[^\d.\-~–至到])(\d{1,2})\s*年[^\n，。；;]{0,16}经验",
    r"(?:^|[^\d.\-~–至到])(\d{1,2})\+?\s+(?:years?|yrs?)(?:'|’)?\s+(?:of\s+)?(?:[a-z0-9/+#.-]+\s+){0,4}?experience\b",
    r"(?:^|[^\d.\-~–至到])(\d{1,2})\+?\s+years?\s+(?:in|as|of)\b",
];

struct Patterns {
    intern_title: Regex,
    graduate_title: Regex,
    senior_title: Regex,
    graduate_ask: Regex,
    student: Regex,
    graduate_self: Regex,
    senior_self: Regex,
    years_asked: Vec<Regex>,
    years_held: Vec<Regex>,
}

static PATTERNS: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    let one = |s: &str| compile(&[s]).pop();
    let many = |s: &[&str]| {
        let v = compile(s);
        (v.len() == s.len()).then_some(v)
    };
    Some(Patterns {
        intern_title: one(INTERN_TITLE)?,
        graduate_title: one(GRADUATE_TITLE)?,
        senior_title: one(SENIOR_TITLE)?,
        graduate_ask: one(GRADUATE_ASK)?,
        student: one(STUDENT_ASK)?,
        graduate_self: one(GRADUATE_SELF)?,
        senior_self: one(SENIOR_SELF)?,
        years_asked: many(YEARS_ASKED)?,
        years_held: many(YEARS_HELD)?,
    })
});

/// `text` in normal form with the Chinese numerals one to twenty written as digits
/// (`三年以上` → `3年以上`, `十二年` → `12年`), so one set of patterns reads both.
fn normal_with_digits(text: &str) -> String {
    let normal = Normalised::new(text).text;
    if !normal.contains([
        '一', '二', '两', '三', '四', '五', '六', '七', '八', '九', '十',
    ]) {
        return normal;
    }
    let digit = |c: char| "零一二三四五六七八九".chars().position(|d| d == c);
    let chars: Vec<char> = normal.chars().collect();
    let mut out = String::with_capacity(normal.len());
    let mut i = 0;
    while i < chars.len() {
        // A numeral run directly before 年 is a count of years; elsewhere (一线, 十分) it is
        // left alone.
        let mut j = i;
        while j < chars.len() && (digit(chars[j]).is_some() || chars[j] == '十' || chars[j] == '两')
        {
            j += 1;
        }
        if j > i && chars.get(j) == Some(&'年') && chars.get(j + 1) != Some(&'级') {
            let run: Vec<char> = chars[i..j].to_vec();
            let value = match run.as_slice() {
                ['十'] => Some(10),
                ['十', d] => digit(*d).map(|d| 10 + d),
                [d, '十'] => digit(*d).map(|d| d * 10),
                [d, '十', e] => digit(*d).zip(digit(*e)).map(|(d, e)| d * 10 + e),
                ['两'] => Some(2),
                [d] => digit(*d),
                _ => None,
            };
            if let Some(v) = value.filter(|v| *v > 0) {
                out.push_str(&v.to_string());
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The largest count of years any of `patterns` finds in `normal` (a requirement such as
/// `8年以上…其中3年以上团队管理` asks for 8), at most 50.
fn years_in(patterns: &[Regex], normal: &str) -> Option<u32> {
    patterns
        .iter()
        .flat_map(|re| re.captures_iter(normal))
        .filter_map(|c| c.get(1)?.as_str().parse::<u32>().ok())
        .filter(|y| (1..=50).contains(y))
        .max()
}

/// The level of `job`. Stage, first that applies: the recruit type (intern → `Student`,
/// campus → `NewGraduate`); the title's words (intern, graduate or junior, senior or lead);
/// the description's campus or in-school requirement; any years asked (`Experienced`).
/// Years: `experience_years`, else the largest count the description asks for.
pub fn job_level(job: &JobProfile) -> JobLevel {
    let Some(p) = PATTERNS.as_ref() else {
        return JobLevel::default();
    };
    let description = normal_with_digits(&job.description);
    let years = job
        .experience_years
        .or_else(|| years_in(&p.years_asked, &description));
    let title = Normalised::new(&job.title).text;
    let stage = match job.recruit_type {
        Some(RecruitType::Intern) => Some((CareerStage::Student, "its recruit type")),
        Some(RecruitType::Campus) => Some((CareerStage::NewGraduate, "its recruit type")),
        _ => None,
    }
    .or_else(|| {
        if p.intern_title.is_match(&title) {
            Some((CareerStage::Student, "its title"))
        } else if p.graduate_title.is_match(&title) {
            Some((CareerStage::NewGraduate, "its title"))
        } else if p.senior_title.is_match(&title) {
            Some((CareerStage::Senior, "its title"))
        } else {
            None
        }
    })
    .or_else(|| {
        // Experienced hiring says so with years; otherwise a campus posting names the class
        // or graduates, an intern posting asks for students.
        if job.recruit_type == Some(RecruitType::Social) || years.is_some_and(|y| y > 0) {
            Some((CareerStage::Experienced, YEARS_ASKED_WHY))
        } else if p.graduate_ask.is_match(&description) {
            Some((CareerStage::NewGraduate, "its requirements"))
        } else if p.student.is_match(&description) {
            Some((CareerStage::Student, "its requirements"))
        } else {
            None
        }
    });
    JobLevel { stage, years }
}

/// The candidate's texts that say where they stand, scrubbed: title, headline, summary, and
/// each position's title and description.
fn candidate_texts(c: &CandidateProfile) -> String {
    let mut parts = vec![scrub(&c.title), scrub(&c.headline), scrub(&c.summary)];
    for e in &c.experience {
        parts.push(scrub(&e.title));
        parts.push(scrub(&e.description));
    }
    normal_with_digits(&parts.join("\n"))
}

/// Where the candidate's schooling puts them against the resume's date: a school ending more
/// than a year after it is a student's, one ending within a year either side a new
/// graduate's. `None` without both dates.
fn stage_from_schools(c: &CandidateProfile) -> Option<CareerStage> {
    let now = c.as_of.and_then(YearMonth::index)?;
    let last = c.education.iter().filter_map(|e| e.end?.index()).max()?;
    if last > now + 12 {
        Some(CareerStage::Student)
    } else if last >= now - 12 {
        Some(CareerStage::NewGraduate)
    } else {
        None
    }
}

/// The level of a candidate. Stage, first that applies: senior or lead wording in the
/// title, headline, summary or the latest position's title (`Senior`); two or more years of
/// work (`Experienced`); the school dates against the resume's date, else in-school wording
/// (`Student`) or graduate wording (`NewGraduate`); any year of work (`Experienced`).
/// Years: [`candidate_years`], else the largest count the texts state.
pub fn candidate_level(c: &CandidateProfile) -> CandidateLevel {
    let Some(p) = PATTERNS.as_ref() else {
        return CandidateLevel::default();
    };
    let texts = candidate_texts(c);
    let years = candidate_years(c).or_else(|| years_in(&p.years_held, &texts).map(f64::from));
    let own = normal_with_digits(
        &[
            scrub(&c.title),
            scrub(&c.headline),
            scrub(&c.summary),
            c.experience
                .first()
                .map(|e| scrub(&e.title))
                .unwrap_or_default(),
        ]
        .join("\n"),
    );
    let stage = if p.senior_self.is_match(&own) {
        Some((CareerStage::Senior, "a senior or lead role"))
    } else if years.is_some_and(|y| y >= 2.0) {
        Some((CareerStage::Experienced, YEARS_HELD_WHY))
    } else if let Some(s) = stage_from_schools(c) {
        Some((s, "the school dates"))
    } else if p.student.is_match(&texts) {
        Some((CareerStage::Student, "in-school wording"))
    } else if p.graduate_self.is_match(&texts) {
        Some((CareerStage::NewGraduate, "graduate wording"))
    } else if years.is_some_and(|y| y >= 1.0) {
        Some((CareerStage::Experienced, YEARS_HELD_WHY))
    } else {
        None
    };
    CandidateLevel { stage, years }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "stage_tests.rs"]
mod tests;
