//! The shape of the labelled set: enough pairs, enough cross-language pairs each way, unique
//! ids, no empty texts, every job with skills.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use talentmesh_eval::dataset::{self, Direction, Lang};

#[test]
fn labelled_set_has_the_promised_shape() {
    let pairs = dataset::load_dir(&dataset::data_dir()).unwrap();
    assert!(pairs.len() >= 200, "only {} pairs", pairs.len());

    let count = |d: Direction| pairs.iter().filter(|p| p.direction() == d).count();
    let zh_en = count(Direction {
        resume: Lang::Zh,
        job: Lang::En,
    });
    let en_zh = count(Direction {
        resume: Lang::En,
        job: Lang::Zh,
    });
    assert!(zh_en >= 40, "only {zh_en} Chinese resumes for English jobs");
    assert!(en_zh >= 40, "only {en_zh} English resumes for Chinese jobs");
    for d in Direction::ALL {
        assert!(count(d) > 0, "no {d} pairs");
    }

    let mut ids = HashSet::new();
    for p in &pairs {
        for id in [&p.id, &p.job.id, &p.resume.id] {
            assert!(!id.trim().is_empty(), "empty id in {}", p.id);
            assert!(ids.insert(id.clone()), "duplicate id {id}");
        }
        let texts = [
            &p.job.title,
            &p.job.description,
            &p.job.city,
            &p.resume.summary,
        ];
        assert!(
            texts.iter().all(|t| !t.trim().is_empty()),
            "empty text in {}",
            p.id
        );
        assert!(!p.resume.experience.is_empty(), "{}: no experience", p.id);
        assert!(
            p.resume.experience.iter().all(|e| !e.trim().is_empty()),
            "{}: empty line",
            p.id
        );
        assert!(!p.job.skills.is_empty(), "{}: job without skills", p.id);
        assert!(
            p.job.skills.iter().all(|s| !s.trim().is_empty()),
            "{}: empty skill",
            p.id
        );
        assert!(
            !p.resume.skills.is_empty(),
            "{}: resume without skills",
            p.id
        );
    }

    // No two jobs are the same posting: a duplicate would make the label ambiguous.
    let mut postings = HashSet::new();
    for p in &pairs {
        let text = dataset::job_text(&p.job);
        assert!(postings.insert(text), "{}: duplicate job text", p.id);
    }
}

#[test]
fn language_tags_match_the_text() {
    // A resume or job tagged zh contains Chinese; one tagged en contains none.
    let has_han = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    for p in dataset::load_dir(&dataset::data_dir()).unwrap() {
        let job = dataset::job_text(&p.job);
        let resume = dataset::resume_text(&p.resume);
        assert_eq!(
            has_han(&job),
            p.job.lang == Lang::Zh,
            "{}: job language tag",
            p.id
        );
        assert_eq!(
            has_han(&resume),
            p.resume.lang == Lang::Zh,
            "{}: resume language tag",
            p.id
        );
    }
}
