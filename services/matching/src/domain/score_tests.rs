use super::*;
use crate::domain::profile::{
    Education, EducationItem, ExperienceItem, GeoPoint, ProjectItem, RecruitType, SalaryRange,
    SkillItem, YearMonth,
};
use crate::domain::text::candidate_text;

/// A fixed-seed generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// `Some` two times in three.
    fn maybe<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        (self.below(3) > 0).then(|| f(self))
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const SKILLS: &[&str] = &[
    "Rust",
    "Go",
    "golang",
    "k8s",
    "Kubernetes",
    "容器编排",
    "Kafka",
    "Java",
    "Spring Boot",
    "Python",
    "机器学习",
    "React",
    "Elixir",
    "SQL",
    "数据分析",
];
const CITIES: &[&str] = &["110105", "110108", "310101", "440305", "440106", "x"];
const DEGREES: &[&str] = &["本科", "硕士", "博士", "大专", "MSc", ""];

fn job(r: &mut Rng) -> JobProfile {
    let skills = |r: &mut Rng| {
        (0..r.below(4))
            .map(|_| r.pick(SKILLS).to_string())
            .collect()
    };
    JobProfile {
        title: "工程师".into(),
        required_skills: skills(r),
        preferred_skills: skills(r),
        salary: r.maybe(|r| SalaryRange {
            min: r.below(30_000) as u32,
            max: r.below(60_000) as u32,
        }),
        city_code: r.maybe(|r| r.pick(CITIES).to_string()),
        location: r.maybe(|r| GeoPoint {
            latitude: 30.0 + r.unit() * 10.0,
            longitude: 110.0 + r.unit() * 10.0,
        }),
        experience_years: r.maybe(|r| r.below(10) as u32),
        education: r.maybe(|r| match r.below(6) {
            0 => Education::Any,
            1 => Education::HighSchool,
            2 => Education::Associate,
            3 => Education::Bachelor,
            4 => Education::Master,
            _ => Education::Doctorate,
        }),
        recruit_type: r.maybe(|r| match r.below(3) {
            0 => RecruitType::Campus,
            1 => RecruitType::Intern,
            _ => RecruitType::Social,
        }),
        graduation_year: r.maybe(|r| 2020 + r.below(8) as i32),
        ..JobProfile::default()
    }
}

fn ym(r: &mut Rng) -> Option<YearMonth> {
    r.maybe(|r| YearMonth {
        year: 2010 + r.below(16) as i32,
        month: 1 + r.below(12) as u32,
    })
}

fn candidate(r: &mut Rng) -> CandidateProfile {
    let text = |r: &mut Rng| format!("熟悉 {} 与 {}", r.pick(SKILLS), r.pick(SKILLS));
    CandidateProfile {
        headline: text(r),
        summary: text(r),
        skills: (0..r.below(4))
            .map(|_| SkillItem {
                name: r.pick(SKILLS).into(),
                ..SkillItem::default()
            })
            .collect(),
        experience: (0..r.below(3))
            .map(|_| ExperienceItem {
                description: text(r),
                start: ym(r),
                end: ym(r),
                ..ExperienceItem::default()
            })
            .collect(),
        education: (0..r.below(3))
            .map(|_| EducationItem {
                degree_text: r.pick(DEGREES).into(),
                end: ym(r),
                ..EducationItem::default()
            })
            .collect(),
        projects: vec![ProjectItem {
            name: "p".into(),
            description: text(r),
        }],
        total_years: r.maybe(|r| r.unit() * 12.0),
        city_code: r.maybe(|r| r.pick(CITIES).to_string()),
        location: r.maybe(|r| GeoPoint {
            latitude: 30.0 + r.unit() * 10.0,
            longitude: 110.0 + r.unit() * 10.0,
        }),
        as_of: ym(r),
        ..CandidateProfile::default()
    }
}

fn related() -> RelatedSkills {
    let mut r = RelatedSkills::new();
    r.insert("go", "rust", 0.6);
    r.insert("java", "kafka", 0.3);
    r
}

#[test]
fn components_add_up_to_the_score_over_many_generated_pairs() {
    let mut r = Rng(20_26);
    let related = related();
    for round in 0..500 {
        let (j, c) = (job(&mut r), candidate(&mut r));
        let prefs = Preferences {
            salary_min: r.maybe(|r| r.below(40_000) as u32),
            city_code: r.maybe(|r| r.pick(CITIES).to_string()),
            recruit_type: r.maybe(|_| RecruitType::Campus),
        };
        let cosine = r.maybe(|r| r.unit() as f32 * 2.0 - 1.0);
        let weights = if round % 2 == 0 {
            Weights::default()
        } else {
            Weights::from_array(std::array::from_fn(|_| r.unit())).normalised()
        };
        let m = score(&j, &c, cosine, &related, &prefs, &weights);
        let kinds: Vec<ComponentKind> = m.components.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, ComponentKind::ALL);
        let sum: f64 = m.components.iter().map(|c| c.contribution).sum();
        assert_eq!(m.score, sum);
        assert!((0.0..=1.0 + 1e-12).contains(&m.score), "{m:?}");
        for comp in &m.components {
            assert_eq!(comp.weight, weights.get(comp.kind));
            match comp.value {
                None => {
                    assert_eq!(comp.contribution, 0.0);
                    assert!(comp.detail.starts_with("unknown: "), "{comp:?}");
                }
                Some(v) => {
                    assert!((0.0..=1.0).contains(&v), "{comp:?}");
                    assert_eq!(comp.contribution, comp.weight * v);
                    assert!(!comp.detail.starts_with("unknown"), "{comp:?}");
                }
            }
        }
    }
}

#[test]
fn a_candidate_prepared_once_scores_every_job_as_scoring_afresh_does() {
    let mut r = Rng(7);
    let related = related();
    let c = candidate(&mut r);
    let prepared = Prepared::new(&c);
    for _ in 0..100 {
        let j = job(&mut r);
        let cosine = r.maybe(|r| r.unit() as f32);
        let prefs = Preferences::default();
        let w = Weights::default();
        assert_eq!(
            score_prepared(&j, &prepared, cosine, &related, &prefs, &w),
            score(&j, &c, cosine, &related, &prefs, &w)
        );
    }
}

fn value(m: &Match, kind: ComponentKind) -> Option<f64> {
    m.components[kind.index()].value
}

fn detail(m: &Match, kind: ComponentKind) -> &str {
    &m.components[kind.index()].detail
}

#[test]
fn missing_data_is_unknown_and_scores_nothing() {
    let m = score(
        &JobProfile::default(),
        &CandidateProfile::default(),
        None,
        &RelatedSkills::new(),
        &Preferences::default(),
        &Weights::default(),
    );
    assert_eq!(m.score, 0.0);
    assert!(m.components.iter().all(|c| c.value.is_none()));
}

#[test]
fn the_semantic_value_is_the_cosine_clamped() {
    let s = |cos: Option<f32>| {
        let m = score(
            &JobProfile::default(),
            &CandidateProfile::default(),
            cos,
            &RelatedSkills::new(),
            &Preferences::default(),
            &Weights::default(),
        );
        value(&m, ComponentKind::Semantic)
    };
    assert_eq!(s(Some(0.5)), Some(0.5));
    assert_eq!(s(Some(-0.3)), Some(0.0));
    assert_eq!(s(Some(f32::NAN)), None);
    assert!((rescale_cosine(0.85, 0.7, 1.0) - 0.5).abs() < 1e-6);
    assert_eq!(rescale_cosine(0.6, 0.7, 1.0), 0.0);
}

#[test]
fn required_skills_count_synonyms_and_related_skills_in_part() {
    let j = JobProfile {
        required_skills: vec![
            "Kubernetes".into(),
            "Rust".into(),
            "Kafka".into(),
            "SQL".into(),
        ],
        preferred_skills: vec!["Terraform".into()],
        ..JobProfile::default()
    };
    let c = CandidateProfile {
        summary: "五年 k8s 与容器编排经验，主要写 Go，熟悉 SQL 和 Kafka".into(),
        ..CandidateProfile::default()
    };
    let m = score(
        &j,
        &c,
        None,
        &related(),
        &Preferences::default(),
        &Weights::default(),
    );
    let req = value(&m, ComponentKind::RequiredSkills).unwrap();
    assert!((req - (3.0 + 0.6 * 0.5) / 4.0).abs() < 1e-12, "{req}");
    assert_eq!(
        detail(&m, ComponentKind::RequiredSkills),
        "3 of 4 required skills (go ≈ rust counted 0.30)"
    );
    assert_eq!(value(&m, ComponentKind::PreferredSkills), Some(0.0));
    assert_eq!(
        detail(&m, ComponentKind::PreferredSkills),
        "0 of 1 preferred skills; missing: terraform"
    );
    // Without the relation, Rust is simply missing.
    let m = score(
        &j,
        &c,
        None,
        &RelatedSkills::new(),
        &Preferences::default(),
        &Weights::default(),
    );
    assert_eq!(value(&m, ComponentKind::RequiredSkills), Some(0.75));
}

/// Two resumes that differ only in name, gender, age, birth date and marital status.
fn twins() -> (CandidateProfile, CandidateProfile) {
    let base = CandidateProfile {
        name: "resumes/1".into(),
        owner: "users/1".into(),
        title: "后端工程师".into(),
        skills: vec![SkillItem {
            name: "Rust".into(),
            ..SkillItem::default()
        }],
        experience: vec![ExperienceItem {
            title: "Backend engineer".into(),
            description: "Kafka pipelines on k8s".into(),
            ..ExperienceItem::default()
        }],
        education: vec![EducationItem {
            degree_text: "硕士".into(),
            major: "计算机".into(),
            ..EducationItem::default()
        }],
        total_years: Some(5.0),
        city_code: Some("110105".into()),
        ..CandidateProfile::default()
    };
    let mut a = base.clone();
    a.headline = "Name: Ann Lee | Female | 29 years old".into();
    a.summary = "姓名：李娜，性别：女，年龄：29岁，1996年出生，未婚。五年 Rust 与 Go 开发。".into();
    let mut b = base;
    b.headline = "Name: Bob Wang | Male | 47 years old".into();
    b.summary =
        "姓名：王建国，性别：男，年龄：47岁，1978年出生，已婚已育。五年 Rust 与 Go 开发。".into();
    (a, b)
}

#[test]
fn name_gender_and_age_never_change_a_score_or_the_embedded_text() {
    let (a, b) = twins();
    assert_eq!(candidate_text(&a), candidate_text(&b));
    let j = JobProfile {
        title: "Rust engineer".into(),
        description: "限男性，35岁以下".into(),
        required_skills: vec!["Rust".into(), "Go".into(), "Kubernetes".into()],
        preferred_skills: vec!["Kafka".into()],
        experience_years: Some(3),
        education: Some(Education::Bachelor),
        city_code: Some("110108".into()),
        ..JobProfile::default()
    };
    let prefs = Preferences::default();
    let (ma, mb) = (
        score(&j, &a, Some(0.61), &related(), &prefs, &Weights::default()),
        score(&j, &b, Some(0.61), &related(), &prefs, &Weights::default()),
    );
    assert_eq!(ma, mb);
    assert_eq!(ma.score.to_bits(), mb.score.to_bits());
    assert!(ma.score > 0.5, "{ma:?}");
}
