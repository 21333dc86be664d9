use super::*;
use crate::domain::fairness::FlagKind::*;

fn flags(description: &str) -> Vec<(FlagKind, String)> {
    let job = JobProfile {
        description: description.into(),
        ..JobProfile::default()
    };
    job_flags(&job)
        .into_iter()
        .map(|f| (f.kind, f.text))
        .collect()
}

fn kinds(description: &str) -> Vec<FlagKind> {
    flags(description).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn every_pattern_compiles() {
    assert_eq!(RULES.flags.len(), zh::FLAGS.len() + en::FLAGS.len());
    assert_eq!(RULES.allowed.len(), zh::ALLOWED.len() + en::ALLOWED.len());
}

#[test]
fn chinese_requirements_are_flagged() {
    let cases: &[(&str, FlagKind, &str)] = &[
        ("销售代表，限男性，能出差", Gender, "限男性"),
        ("前台：仅限女性", Gender, "仅限女性"),
        ("男性优先，可接受加班", Gender, "男性优先"),
        ("只招男生", Gender, "只招男生"),
        ("性别：女", Gender, "性别：女"),
        ("女士勿扰", Gender, "女士勿扰"),
        ("35岁以下，本科", Age, "35岁以下"),
        ("年龄25-35岁", Age, "年龄25-35岁"),
        ("年龄不超过35周岁", Age, "年龄不超过35周岁"),
        ("28周岁以内", Age, "28周岁以内"),
        ("95后优先", Age, "95后"),
        ("已婚已育者优先", MaritalStatus, "已婚已育"),
        ("三年内无生育计划", MaritalStatus, "无生育计划"),
        ("需本地户口", Household, "需本地户口"),
        ("限上海户籍", Household, "限上海户籍"),
        ("本地人优先", Household, "本地人"),
        ("身高160以上", Appearance, "身高160"),
        ("女生165cm以上，形象气质佳", Appearance, "165cm以上"),
        ("五官端正", Appearance, "五官端正"),
        ("简历请附近期照片", Appearance, "附近期照片"),
        ("限汉族", Ethnicity, "汉族"),
        ("乙肝携带者勿扰", Health, "乙肝"),
        // Traditional and full-width forms are the same requirement.
        ("僅限男性，３５歲以下", Gender, "僅限男性"),
        ("僅限男性，３５歲以下", Age, "３５歲以下"),
    ];
    for (text, kind, want) in cases {
        let got = flags(text);
        assert!(
            got.iter().any(|(k, t)| k == kind && t == want),
            "{text}: want {kind:?} {want:?}, got {got:?}"
        );
    }
}

#[test]
fn english_requirements_are_flagged() {
    let cases: &[(&str, FlagKind, &str)] = &[
        ("Sales manager, male only.", Gender, "male only"),
        ("Women preferred for this role", Gender, "Women preferred"),
        ("Candidates must be female", Gender, "must be female"),
        ("Applicants under 35.", Age, "under 35"),
        ("Aged 25-35, fluent English", Age, "Aged 25-35"),
        (
            "We want young and energetic people",
            Age,
            "young and energetic people",
        ),
        ("Maximum age 40", Age, "Maximum age 40"),
        (
            "between 22 and 30 years old",
            Age,
            "between 22 and 30 years old",
        ),
        (
            "Married candidates preferred",
            MaritalStatus,
            "Married candidates",
        ),
        ("Local hukou required", Household, "Local hukou"),
        (
            "Height at least 170 cm",
            Appearance,
            "Height at least 170 cm",
        ),
        ("Good-looking receptionist", Appearance, "Good-looking"),
        (
            "Please attach a recent photo",
            Appearance,
            "attach a recent photo",
        ),
        ("Caucasian only", Ethnicity, "Caucasian only"),
        ("No hepatitis B carriers", Health, "hepatitis B"),
    ];
    for (text, kind, want) in cases {
        let got = flags(text);
        assert!(
            got.iter().any(|(k, t)| k == kind && t == want),
            "{text}: want {kind:?} {want:?}, got {got:?}"
        );
    }
}

#[test]
fn open_statements_benefits_and_work_facts_are_not_flagged() {
    for text in [
        "男女不限",
        "性别不限，年龄不限",
        "不限男女，3年以上经验",
        "5年以上Java开发经验，本科及以上学历",
        "年满18周岁",
        "公司可解决北京户口",
        "提供上海户口指标",
        "提升品牌形象，负责男装电商运营",
        "五险一金，生育保险，婚假产假",
        "宁夏回族自治区银川市",
        "员工子女优先入学",
        "中华民族伟大复兴",
        "本地人才市场调研",
        "Equal opportunity employer: we hire regardless of gender, age or marital status.",
        "Men and women are equally welcome",
        "Latency under 10 ms for 99% of requests",
        "Lead a team of over 20 engineers with 10 years of experience",
        "Our young company offers an attractive salary",
        "Single sign-on and single-page applications",
        "We help with hukou applications",
        "Build a photo editing app with React",
        "负责用户增长相关的数据分析",
        "提升客户口碑与用户口径统一",
        "负责4-12岁少儿英语小班课教学",
        "Teach English to kids under 12.",
    ] {
        assert_eq!(flags(text), vec![], "{text}");
    }
}

#[test]
fn spans_point_at_the_text_and_fields_are_named() {
    let job = JobProfile {
        title: "前台（限女性）".into(),
        description: "Requirements: under 30. 身高165以上。".into(),
        ..JobProfile::default()
    };
    let got = job_flags(&job);
    assert_eq!(got.len(), 3, "{got:?}");
    for f in &got {
        let text = if f.field == "title" {
            &job.title
        } else {
            &job.description
        };
        let span: String = text.chars().skip(f.start).take(f.end - f.start).collect();
        assert_eq!(span, f.text);
        assert!(f.detail.contains(&f.text));
    }
    assert_eq!(got[0].field, "title");
    assert_eq!(kinds(&job.description), [Age, Appearance]);
}
