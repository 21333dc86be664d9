use super::*;
use crate::domain::profile::{EducationItem, ExperienceItem};

fn job(title: &str, description: &str) -> JobProfile {
    JobProfile {
        title: title.into(),
        description: description.into(),
        ..JobProfile::default()
    }
}

fn resume(summary: &str) -> CandidateProfile {
    CandidateProfile {
        summary: summary.into(),
        ..CandidateProfile::default()
    }
}

fn stage(level: &JobLevel) -> Option<CareerStage> {
    level.stage.map(|(s, _)| s)
}

#[test]
fn every_pattern_compiles() {
    assert!(PATTERNS.is_some());
}

#[test]
fn a_jobs_stage_is_read_from_its_title_in_either_language() {
    use CareerStage::*;
    let cases = [
        ("Go后端开发实习生", Student),
        ("质量工程师（实习）", Student),
        ("Backend Engineer Intern (Go)", Student),
        ("Java后端开发工程师（2026届校招）", NewGraduate),
        ("Graduate Backend Engineer (Go)", NewGraduate),
        ("高级Go后端开发工程师", Senior),
        ("資深產品經理", Senior),
        ("Senior Backend Engineer (Go)", Senior),
        ("Tech Lead, Payments", Senior),
    ];
    for (title, want) in cases {
        assert_eq!(stage(&job_level(&job(title, ""))), Some(want), "{title}");
    }
    // A title without a level word and a description without a requirement say nothing.
    assert_eq!(
        job_level(&job("Backend Engineer (Go)", "Build services.")),
        JobLevel::default()
    );
    // `lead` as a verb or in another trade is not a level.
    assert_eq!(
        stage(&job_level(&job("Lead Generation Specialist", ""))),
        None
    );
}

#[test]
fn a_jobs_years_come_from_the_field_else_the_largest_count_asked() {
    let zh = "任职要求：\n1. 8年以上Go后端开发相关经验，其中3年以上团队管理经验；";
    let level = job_level(&job("Go后端开发工程师", zh));
    assert_eq!(level.years, Some(8));
    assert_eq!(stage(&level), Some(CareerStage::Experienced));
    let en = "- 8+ years in Go backend development, including 3+ years leading a team.";
    assert_eq!(job_level(&job("Backend Engineer", en)).years, Some(8));
    let cases = [
        ("3-5年工作经验", Some(3)),
        ("三年以上相关工作经验", Some(3)),
        ("工作经验5年以上", Some(5)),
        ("At least 4 years of professional experience.", Some(4)),
        ("3 to 5 years", Some(3)),
        ("2 years of React experience", Some(2)),
        // Dates and founding years are not requirements.
        ("公司成立于2016年，团队经验丰富", None),
        ("2026年毕业，有实习经验者优先", None),
        ("Founded 12 years ago.", None),
    ];
    for (text, want) in cases {
        assert_eq!(job_level(&job("", text)).years, want, "{text}");
    }
    let mut j = job("", "5年以上经验");
    j.experience_years = Some(2);
    assert_eq!(job_level(&j).years, Some(2), "the field wins");
}

#[test]
fn a_description_tells_campus_from_intern_hiring() {
    let campus = "2026届本科及以上学历应届毕业生，有相关实习经历者优先；";
    assert_eq!(
        stage(&job_level(&job("会计", campus))),
        Some(CareerStage::NewGraduate)
    );
    let campus_en = "Graduating in 2026 with a bachelor's degree or above; internships a plus.";
    assert_eq!(
        stage(&job_level(&job("Accountant", campus_en))),
        Some(CareerStage::NewGraduate)
    );
    let intern = "计算机相关专业在读，每周可实习4天及以上，实习期不少于3个月；";
    assert_eq!(
        stage(&job_level(&job("开发", intern))),
        Some(CareerStage::Student)
    );
    let intern_en = "Currently studying Computer Science, available 4+ days a week.";
    assert_eq!(
        stage(&job_level(&job("Developer", intern_en))),
        Some(CareerStage::Student)
    );
    // The recruit type field comes before any text.
    let mut j = job("Senior Engineer", "");
    j.recruit_type = Some(RecruitType::Campus);
    assert_eq!(stage(&job_level(&j)), Some(CareerStage::NewGraduate));
}

#[test]
fn a_candidates_stage_is_read_from_their_resume() {
    use CareerStage::*;
    let cases = [
        (
            "山东大学计算机专业大三在读，希望找一份实习。",
            Some(Student),
        ),
        (
            "Third-year Computer Science student, looking for an internship.",
            Some(Student),
        ),
        (
            "华中科技大学2026届应届毕业生，有两段实习。",
            Some(NewGraduate),
        ),
        (
            "2026 Computer Science graduate with two internships.",
            Some(NewGraduate),
        ),
        ("5年医疗器械销售工作经验，熟悉医院渠道。", Some(Experienced)),
        (
            "Sales professional with 4 years of experience.",
            Some(Experienced),
        ),
        ("9年Go后端开发经验，近4年带领5人团队。", Some(Senior)),
        (
            "12 years in backend development, leading a team of 6.",
            Some(Senior),
        ),
        ("Likes hiking.", None),
    ];
    for (summary, want) in cases {
        let level = candidate_level(&resume(summary));
        assert_eq!(level.stage.map(|(s, _)| s), want, "{summary}");
    }
    assert_eq!(
        candidate_level(&resume("9年Go后端开发经验")).years,
        Some(9.0)
    );
    assert_eq!(candidate_level(&resume("十二年销售经验")).years, Some(12.0));
}

#[test]
fn many_years_alone_never_make_a_candidate_senior() {
    // Long careers without a senior title or a lead role are experienced, so that a job's
    // level cannot mark them down for their years (which would stand in for age).
    let mut c = resume("Accountant.");
    c.total_years = Some(30.0);
    let level = candidate_level(&c);
    assert_eq!(
        level.stage,
        Some((CareerStage::Experienced, YEARS_HELD_WHY))
    );
    // A senior title in the latest position does.
    c.experience = vec![ExperienceItem {
        title: "Senior Accountant".into(),
        ..ExperienceItem::default()
    }];
    assert_eq!(
        candidate_level(&c).stage.map(|(s, _)| s),
        Some(CareerStage::Senior)
    );
}

#[test]
fn school_dates_against_the_resume_date_tell_students_from_graduates() {
    let ym = |year, month| Some(YearMonth { year, month });
    let mut c = resume("");
    c.education = vec![EducationItem {
        end: ym(2027, 6),
        ..EducationItem::default()
    }];
    assert_eq!(
        candidate_level(&c).stage,
        None,
        "no resume date to compare with"
    );
    c.as_of = ym(2026, 3);
    assert_eq!(
        candidate_level(&c).stage.map(|(s, _)| s),
        Some(CareerStage::Student)
    );
    c.education[0].end = ym(2026, 6);
    assert_eq!(
        candidate_level(&c).stage.map(|(s, _)| s),
        Some(CareerStage::NewGraduate)
    );
    c.education[0].end = ym(2020, 6);
    assert_eq!(candidate_level(&c).stage, None);
}

#[test]
fn the_stage_fit_is_symmetric_and_tracks_the_hiring_tracks() {
    use CareerStage::*;
    let all = [Student, NewGraduate, Experienced, Senior];
    for a in all {
        assert_eq!(stage_fit(a, a), 1.0);
        for b in all {
            assert_eq!(stage_fit(a, b), stage_fit(b, a));
        }
    }
    assert_eq!(stage_fit(Student, NewGraduate), 0.5);
    assert_eq!(stage_fit(Experienced, Senior), 0.5);
    assert_eq!(stage_fit(Student, Senior), 0.0);
    assert_eq!(stage_fit(NewGraduate, Experienced), 0.0);
}

#[test]
fn protected_attributes_do_not_change_a_stage() {
    let plain = candidate_level(&resume("5年销售工作经验，熟悉渠道。"));
    let with = candidate_level(&resume("男，35岁，已婚。5年销售工作经验，熟悉渠道。"));
    assert_eq!(plain, with);
}
