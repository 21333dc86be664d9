//! Rules of the job domain that need no store: what a valid job is, which state changes are
//! allowed, and the tokens the search index and queries are made of.

use talentmesh_mesh::error::FieldViolation;
use talentmesh_proto::job::v1 as pb;

pub const MAX_TITLE: usize = 100;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_SKILLS: usize = 30;
pub const MAX_SKILL_LEN: usize = 40;
pub const MAX_SALARY: i32 = 1_000_000;

/// Province-level prefixes of GB/T 2260 division codes (11 Beijing … 82 Macao).
const PROVINCES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// A six-digit division code under a known province.
pub fn known_city(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) && PROVINCES.contains(&&code[..2])
}

/// The fields named in `paths` that break a rule. `job` carries the values after the change.
pub fn violations(job: &pb::Job, paths: &[&str]) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    let f = |p: &str| format!("job.{p}");
    let has = |p: &str| paths.contains(&p);
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
        if job.salary_min < 0 || job.salary_max < 0 || job.salary_max > MAX_SALARY {
            out.push(FieldViolation::new(
                f("salary_max"),
                format!("between 0 and {MAX_SALARY} CNY a month"),
            ));
        } else if job.salary_max > 0 && job.salary_min > job.salary_max {
            out.push(FieldViolation::new(
                f("salary_min"),
                "must not exceed salary_max",
            ));
        }
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
    if has("education") && pb::Education::try_from(job.education).is_err() {
        out.push(FieldViolation::new(f("education"), "unknown education"));
    }
    if has("employment_type") && pb::EmploymentType::try_from(job.employment_type).is_err() {
        out.push(FieldViolation::new(
            f("employment_type"),
            "unknown employment type",
        ));
    }
    if has("recruit_type") || has("graduation_year") {
        match pb::RecruitType::try_from(job.recruit_type) {
            Err(_) => out.push(FieldViolation::new(
                f("recruit_type"),
                "unknown recruit type",
            )),
            Ok(pb::RecruitType::Campus) if !(2000..=2100).contains(&job.graduation_year) => {
                out.push(FieldViolation::new(
                    f("graduation_year"),
                    "campus jobs name the graduating class (2000–2100)",
                ));
            }
            Ok(t) if t != pb::RecruitType::Campus && job.graduation_year != 0 => {
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

/// Whether `from` may move to `to`.
pub fn may_move(from: pb::JobState, to: pb::JobState) -> bool {
    use pb::JobState::*;
    matches!(
        (from, to),
        (Draft, Published) | (Published, Closed) | (Closed, Published)
    )
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Search tokens of a text: lower-cased words of letters and digits (keeping `+`, `#` and `.`
/// inside, for C++, C#, Node.js), and overlapping character pairs of Chinese runs (a lone
/// character stands for itself). `Rust工程师` → rust, 工程, 程师 — all found in
/// `高级Rust后端工程师` (高级, rust, 后端, 端工, 工程, 程师), so "every query token in the
/// document" matches Chinese without a dictionary.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        let w = word.trim_end_matches(['.', '+', '#']).to_string();
        let keep = if word.ends_with('+') || word.ends_with('#') {
            word.clone()
        } else {
            w
        };
        if !keep.is_empty() {
            out.push(keep);
        }
        word.clear();
    };
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => out.push(run[0].to_string()),
            _ => out.extend(run.windows(2).map(|w| w.iter().collect::<String>())),
        }
        run.clear();
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() || (!word.is_empty() && matches!(c, '+' | '#' | '.')) {
            flush_run(&mut run, &mut out);
            word.push(c);
        } else {
            flush_word(&mut word, &mut out);
            flush_run(&mut run, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_run(&mut run, &mut out);
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_queries_find_longer_chinese_titles() {
        let doc = tokens("高级Rust后端工程师");
        assert_eq!(doc, ["高级", "rust", "后端", "端工", "工程", "程师"]);
        assert!(tokens("Rust工程师").iter().all(|t| doc.contains(t)));
        assert!(!tokens("Java工程师").iter().all(|t| doc.contains(t)));
        let en = tokens("Senior Rust Engineer");
        assert!(tokens("rust engineer").iter().all(|t| en.contains(t)));
    }

    #[test]
    fn programming_names_survive() {
        assert_eq!(
            tokens("C++ / C# / Node.js, k8s."),
            ["c++", "c#", "node.js", "k8s"]
        );
        assert_eq!(tokens("招"), ["招"]);
    }

    #[test]
    fn salary_and_campus_rules_name_their_fields() {
        let job = pb::Job {
            title: "x".into(),
            salary_min: 30_000,
            salary_max: 20_000,
            recruit_type: pb::RecruitType::Campus as i32,
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
        assert!(known_city("310000") && known_city("440300") && !known_city("990100"));
    }

    #[test]
    fn state_moves() {
        use pb::JobState::*;
        assert!(
            may_move(Draft, Published)
                && may_move(Published, Closed)
                && may_move(Closed, Published)
        );
        assert!(
            !may_move(Draft, Closed) && !may_move(Closed, Draft) && !may_move(Published, Published)
        );
    }
}
