use super::*;

#[test]
fn every_pattern_compiles() {
    assert_eq!(PATTERNS.len(), SOURCES.len());
}

#[test]
fn chinese_protected_attributes_are_removed() {
    let cases = [
        ("姓名：张三，性别：男，28岁，五年Rust经验", "五年Rust经验"),
        (
            "张三 | 女 | 年龄：35 | 汉族 | 已婚已育 | 后端开发",
            "张三 | 后端开发",
        ),
        (
            "1995年出生，中共党员，身高175cm，期望从事数据分析",
            "期望从事数据分析",
        ),
        (
            "出生日期：1990-05-01\n民族：回族\n熟悉Kubernetes",
            "熟悉Kubernetes",
        ),
        ("95后，离异，有两个孩子；擅长Go", "擅长Go"),
        ("張三（男）擅長後端", "張三擅長後端"),
        ("婚姻状况：未婚\n籍贯：河南\n体重：60kg\n照片", ""),
    ];
    for (text, want) in cases {
        assert_eq!(scrub(text), want, "{text}");
    }
}

#[test]
fn english_protected_attributes_are_removed() {
    let cases = [
        (
            "Name: Ann Lee | Female | born 1996 | Rust engineer",
            "Rust engineer",
        ),
        (
            "Age: 29, married, she/her. Backend developer",
            "Backend developer",
        ),
        ("Date of birth: 12 March 1990\nGo developer", "Go developer"),
        ("A 45-year-old male engineer", "A engineer"),
        (
            "Ethnicity: Han; Height: 180 cm; Kafka expert",
            "Kafka expert",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(scrub(text), want, "{text}");
    }
}

#[test]
fn work_facts_are_kept() {
    for text in [
        "5年以上后端开发经验，熟悉k8s与微服务",
        "Project name: TalentMesh, a 3-year project serving 200 ms p99",
        "负责男装电商平台的推荐系统",
        "Led a team of 12 engineers for 3 years; .NET and C#",
        "Single sign-on with OAuth; under 10 ms latency",
        "2019年生产环境迁移到Kubernetes",
        "负责4-12岁少儿英语小班课教学",
        "Taught children aged 6 to 12",
    ] {
        assert_eq!(scrub(text), text, "{text}");
    }
}

#[test]
fn a_mask_keeps_the_length_and_hides_only_protected_text() {
    let text = "性别：女，熟悉 K8s，28岁";
    let masked = mask(text);
    assert_eq!(masked.chars().count(), text.chars().count());
    assert!(!masked.contains('女') && !masked.contains("28"));
    assert_eq!(
        masked.chars().skip(8).take(3).collect::<String>(),
        "K8s",
        "{masked}"
    );
}

#[test]
fn texts_that_differ_only_in_protected_attributes_scrub_alike() {
    let a = "姓名：李明\n性别：男\n年龄：24岁\n1999年出生\n未婚\n3年Java开发，熟悉Spring";
    let b = "姓名：王芳芳\n性别：女\n年龄：41岁\n1982年出生\n已婚已育\n3年Java开发，熟悉Spring";
    assert_eq!(scrub(a), scrub(b));
    assert_eq!(scrub(a), "3年Java开发，熟悉Spring");
}
