use super::*;
use crate::domain::profile::{Education, EducationItem, ExperienceItem, GeoPoint, SalaryRange};

fn ym(year: i32, month: u32) -> Option<YearMonth> {
    Some(YearMonth { year, month })
}

fn job() -> JobProfile {
    JobProfile::default()
}

fn candidate() -> CandidateProfile {
    CandidateProfile::default()
}

#[test]
fn years_come_from_the_analysis_or_from_merged_dates() {
    let mut c = candidate();
    assert_eq!(candidate_years(&c), None);
    c.experience = vec![
        ExperienceItem {
            start: ym(2018, 1),
            end: ym(2019, 12),
            ..ExperienceItem::default()
        },
        // Overlaps the first by a year: counted once.
        ExperienceItem {
            start: ym(2019, 1),
            end: ym(2020, 12),
            ..ExperienceItem::default()
        },
        // Current: ends at the resume's date.
        ExperienceItem {
            start: ym(2022, 1),
            end: None,
            ..ExperienceItem::default()
        },
    ];
    // Without a date the current position cannot be counted.
    assert_eq!(candidate_years(&c), Some(3.0));
    c.as_of = ym(2022, 12);
    assert_eq!(candidate_years(&c), Some(4.0));
    c.total_years = Some(6.5);
    assert_eq!(candidate_years(&c), Some(6.5));
}

#[test]
fn experience_is_graded_not_a_cliff() {
    let mut j = job();
    let mut c = candidate();
    assert_eq!(experience(&j, &c).0, None);
    j.experience_years = Some(5);
    let (v, d) = experience(&j, &c);
    assert_eq!(v, None);
    assert!(d.starts_with("unknown: "), "{d}");
    c.total_years = Some(3.0);
    assert_eq!(
        experience(&j, &c),
        (Some(0.6), "3 of 5 years of experience asked".into())
    );
    c.total_years = Some(4.5);
    assert_eq!(experience(&j, &c).0, Some(0.9));
    c.total_years = Some(20.0);
    assert_eq!(experience(&j, &c).0, Some(1.0));
    j.experience_years = Some(0);
    c.total_years = None;
    assert_eq!(experience(&j, &c).0, Some(1.0));
}

#[test]
fn education_halves_per_level_short() {
    let mut j = job();
    let mut c = candidate();
    assert_eq!(education(&j, &c).0, None);
    j.education = Some(Education::Master);
    assert_eq!(education(&j, &c).0, None);
    let with = |text: &str| {
        vec![EducationItem {
            degree_text: text.into(),
            ..EducationItem::default()
        }]
    };
    c.education = with("博士");
    assert_eq!(education(&j, &c).0, Some(1.0));
    c.education = with("本科");
    assert_eq!(
        education(&j, &c),
        (
            Some(0.5),
            "holds a bachelor's degree; a master's degree asked".into()
        )
    );
    c.education = with("大专");
    assert_eq!(education(&j, &c).0, Some(0.25));
    j.education = Some(Education::Any);
    c.education.clear();
    assert_eq!(education(&j, &c).0, Some(1.0));
}

#[test]
fn salary_fit_against_the_least_asked() {
    let mut j = job();
    let mut p = Preferences::default();
    assert_eq!(salary_fit(&j, &p).0, None);
    j.salary = Some(SalaryRange {
        min: 15000,
        max: 25000,
    });
    assert_eq!(salary_fit(&j, &p).0, None);
    p.salary_min = Some(20000);
    assert_eq!(salary_fit(&j, &p).0, Some(1.0));
    p.salary_min = Some(27777);
    let (v, d) = salary_fit(&j, &p);
    assert!((v.unwrap() - (1.0 - 2.0 * 2777.0 / 27777.0)).abs() < 1e-12);
    assert!(d.contains("10% below"), "{d}");
    p.salary_min = Some(60000);
    assert_eq!(salary_fit(&j, &p).0, Some(0.0));
    j.salary = Some(SalaryRange { min: 15000, max: 0 });
    assert_eq!(salary_fit(&j, &p).0, Some(1.0));
    j.salary = Some(SalaryRange { min: 0, max: 0 });
    assert_eq!(salary_fit(&j, &p).0, None);
}

#[test]
fn distance_by_request_point_or_region() {
    let mut j = job();
    let mut c = candidate();
    let mut p = Preferences::default();
    let (v, d) = distance(&j, &c, &p);
    assert_eq!(v, None);
    assert!(d.starts_with("unknown: "));
    // Points: about 11 km apart in Beijing.
    c.location = Some(GeoPoint {
        latitude: 39.9087,
        longitude: 116.3975,
    });
    j.location = Some(GeoPoint {
        latitude: 39.9900,
        longitude: 116.3200,
    });
    let (v, d) = distance(&j, &c, &p);
    let v = v.unwrap();
    assert!(v > 0.85 && v < 0.9, "{v} {d}");
    // Codes when a point is missing.
    j.location = None;
    c.city_code = Some("110105".into());
    j.city_code = Some("110108".into());
    assert_eq!(distance(&j, &c, &p).0, Some(0.8));
    j.city_code = Some("130100".into());
    assert_eq!(distance(&j, &c, &p).0, Some(0.0));
    // A city asked for decides alone.
    p.city_code = Some("130102".into());
    assert_eq!(distance(&j, &c, &p).0, Some(1.0));
    j.city_code = None;
    assert_eq!(distance(&j, &c, &p).0, None);
}

#[test]
fn recruit_type_asked_or_inferred_from_graduation() {
    let mut j = job();
    let mut c = candidate();
    let mut p = Preferences::default();
    assert_eq!(recruit_type(&j, &c, &p).0, None);
    j.recruit_type = Some(RecruitType::Campus);
    assert_eq!(recruit_type(&j, &c, &p).0, None);
    c.education = vec![EducationItem {
        end: ym(2026, 6),
        ..EducationItem::default()
    }];
    assert_eq!(recruit_type(&j, &c, &p).0, None, "no date to compare with");
    c.as_of = ym(2026, 3);
    assert_eq!(recruit_type(&j, &c, &p).0, Some(1.0));
    c.as_of = ym(2029, 3);
    assert_eq!(recruit_type(&j, &c, &p).0, Some(0.0));
    j.graduation_year = Some(2026);
    assert_eq!(recruit_type(&j, &c, &p).0, Some(1.0));
    j.graduation_year = Some(2027);
    assert_eq!(recruit_type(&j, &c, &p).0, Some(0.0));
    p.recruit_type = Some(RecruitType::Intern);
    assert_eq!(recruit_type(&j, &c, &p).0, Some(0.5));
    p.recruit_type = Some(RecruitType::Social);
    assert_eq!(recruit_type(&j, &c, &p).0, Some(0.0));
    j.recruit_type = Some(RecruitType::Social);
    assert_eq!(recruit_type(&j, &c, &p).0, Some(1.0));
    p.recruit_type = None;
    assert_eq!(recruit_type(&j, &c, &p).0, None);
}
