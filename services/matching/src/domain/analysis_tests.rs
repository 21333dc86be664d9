use super::*;
use crate::domain::evidence::tests::assert_spans_point_at_text;
use crate::domain::profile::{EducationItem, ExperienceItem, SkillItem};

fn job() -> JobProfile {
    JobProfile {
        title: "Rust backend engineer".into(),
        required_skills: vec!["Rust".into(), "Kubernetes".into(), "Kafka".into()],
        preferred_skills: vec!["gRPC".into(), "Rust".into(), "Terraform".into()],
        experience_years: Some(5),
        education: Some(Education::Master),
        ..JobProfile::default()
    }
}

fn candidate() -> CandidateProfile {
    CandidateProfile {
        headline: "Go 开发，熟悉 k8s".into(),
        skills: vec![SkillItem {
            name: "GRPC".into(),
            ..SkillItem::default()
        }],
        experience: vec![ExperienceItem {
            description: "用 golang 与 容器编排 搭建服务".into(),
            ..ExperienceItem::default()
        }],
        education: vec![EducationItem {
            degree_text: "本科".into(),
            ..EducationItem::default()
        }],
        total_years: Some(3.5),
        ..CandidateProfile::default()
    }
}

#[test]
fn skills_are_matched_partial_or_missing_with_evidence() {
    let mut related = RelatedSkills::new();
    related.insert("go", "rust", 0.6);
    let (j, c) = (job(), candidate());
    let a = analyse(&j, &c, &related);

    let matched: Vec<(&str, bool)> = a
        .matched
        .iter()
        .map(|m| (m.skill.as_str(), m.required))
        .collect();
    assert_eq!(matched, [("kubernetes", true), ("grpc", false)]);
    let k8s: Vec<&str> = a.matched[0]
        .evidence
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(k8s, ["k8s", "容器编排"]);

    assert_eq!(a.partial.len(), 1);
    let p = &a.partial[0];
    assert_eq!((p.skill.as_str(), p.related.as_str()), ("rust", "go"));
    assert!((p.credit - 0.3).abs() < 1e-12);
    let go: Vec<&str> = p.evidence.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(go, ["Go", "golang"]);

    assert_eq!(
        a.missing,
        [
            MissingSkill {
                skill: "kafka".into(),
                required: true
            },
            MissingSkill {
                skill: "terraform".into(),
                required: false
            },
        ]
    );
    for m in &a.matched {
        assert_spans_point_at_text(&c, &m.evidence);
    }
    assert_spans_point_at_text(&c, &p.evidence);
}

#[test]
fn gaps_say_how_far_short() {
    let a = analyse(&job(), &candidate(), &RelatedSkills::new());
    let e = a.experience_gap.unwrap();
    assert_eq!(
        (e.required, e.actual, e.shortfall),
        (5.0, Some(3.5), Some(1.5))
    );
    let d = a.education_gap.unwrap();
    assert_eq!(
        (d.required, d.actual, d.shortfall),
        (Education::Master, Some(Education::Bachelor), Some(1.0))
    );
}

#[test]
fn no_gap_when_met_and_an_unknown_gap_when_the_resume_is_silent() {
    let mut c = candidate();
    c.total_years = Some(8.0);
    c.education[0].degree_text = "MSc".into();
    let a = analyse(&job(), &c, &RelatedSkills::new());
    assert_eq!((a.experience_gap, a.education_gap), (None, None));

    c.total_years = None;
    c.education.clear();
    let a = analyse(&job(), &c, &RelatedSkills::new());
    let e = a.experience_gap.unwrap();
    assert_eq!((e.actual, e.shortfall), (None, None));
    assert_eq!(a.education_gap.unwrap().actual, None);
}
