use super::*;
use crate::domain::profile::{ExperienceItem, SkillItem};

/// The text of `field` in `c`, for checking spans.
pub(crate) fn field_text(c: &CandidateProfile, field: &str) -> String {
    let index = |s: &str| -> usize {
        let open = s.find('[').unwrap();
        s[open + 1..s.find(']').unwrap()].parse().unwrap()
    };
    let parts: Vec<&str> = field.split('.').collect();
    match parts.as_slice() {
        ["title"] => c.title.clone(),
        ["headline"] => c.headline.clone(),
        ["summary"] => c.summary.clone(),
        [s, "name"] if s.starts_with("skills[") => c.skills[index(s)].name.clone(),
        [e, "title"] if e.starts_with("experience[") => c.experience[index(e)].title.clone(),
        [e, "description"] if e.starts_with("experience[") => {
            c.experience[index(e)].description.clone()
        }
        [e, s] if e.starts_with("experience[") => c.experience[index(e)].skills[index(s)].clone(),
        [p, "name"] if p.starts_with("projects[") => c.projects[index(p)].name.clone(),
        [p, "description"] if p.starts_with("projects[") => {
            c.projects[index(p)].description.clone()
        }
        [e, "major"] if e.starts_with("education[") => c.education[index(e)].major.clone(),
        [cert] if cert.starts_with("certificates[") => c.certificates[index(cert)].clone(),
        _ => panic!("unknown field {field}"),
    }
}

pub(crate) fn assert_spans_point_at_text(c: &CandidateProfile, evidence: &[Evidence]) {
    for e in evidence {
        let text = field_text(c, &e.field);
        let got: String = text.chars().skip(e.start).take(e.end - e.start).collect();
        assert_eq!(got, e.text, "{e:?} in {text:?}");
        assert!(e.start < e.end, "{e:?}");
    }
}

fn candidate() -> CandidateProfile {
    CandidateProfile {
        title: "后端工程师".into(),
        summary: "性别：男。五年 Ｋ８Ｓ 运维，熟悉容器编排与 Spring Boot；Go, golang.".into(),
        skills: vec![
            SkillItem {
                name: "Kubernetes".into(),
                ..SkillItem::default()
            },
            SkillItem {
                name: " C ".into(),
                ..SkillItem::default()
            },
        ],
        experience: vec![ExperienceItem {
            description: "Built services in Go on k8s, not google or golangci".into(),
            skills: vec!["kafka".into()],
            ..ExperienceItem::default()
        }],
        ..CandidateProfile::default()
    }
}

#[test]
fn synonyms_are_found_with_their_own_spans() {
    let c = candidate();
    let text = ResumeText::of(&c);
    let found = text.find("kubernetes");
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|e| (e.field.as_str(), e.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("summary", "Ｋ８Ｓ"),
            ("summary", "容器编排"),
            ("skills[0].name", "Kubernetes"),
            ("experience[0].description", "k8s"),
        ]
    );
    assert_spans_point_at_text(&c, &found);
}

#[test]
fn ascii_aliases_match_whole_words_only() {
    let c = candidate();
    let found = ResumeText::of(&c).find("go");
    let texts: Vec<&str> = found.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["Go", "golang", "Go"]);
    assert_spans_point_at_text(&c, &found);
}

#[test]
fn the_longest_alias_at_a_place_wins() {
    let c = candidate();
    let found = ResumeText::of(&c).find("spring");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].text, "Spring Boot");
}

#[test]
fn a_declared_skill_matches_as_a_whole() {
    let c = candidate();
    let found = ResumeText::of(&c).find("c");
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].field.as_str(), found[0].text.as_str()),
        ("skills[1].name", "C")
    );
    assert_spans_point_at_text(&c, &found);
    let kafka = ResumeText::of(&c).find("kafka");
    assert_eq!(kafka[0].field, "experience[0].skills[0]");
}

#[test]
fn protected_text_never_counts() {
    let c = CandidateProfile {
        summary: "性别：男".into(),
        ..CandidateProfile::default()
    };
    // An unknown skill named like a protected word is still not found in protected text.
    assert!(ResumeText::of(&c).find("男").is_empty());
}

#[test]
fn job_skill_names_are_canonical_and_deduplicated() {
    let names: Vec<String> = ["K8S", "kubernetes", "Go语言", " ", "Elixir", "容器编排"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(skill_keys(&names), ["kubernetes", "go", "elixir"]);
}
