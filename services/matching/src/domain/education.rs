//! Reading degrees as people write them (`本科`, `MSc`, `博士研究生`) and a candidate's highest.

use std::sync::LazyLock;

use regex::Regex;

use super::normal::Normalised;
use super::patterns::compile;
use super::profile::{CandidateProfile, Education};

/// Per level, highest first (so `博士研究生` is a doctorate before `研究生` makes it a
/// master's), a pattern over the normal form.
const SOURCES: &[(Education, &str)] = &[
    (
        Education::Doctorate,
        r"博士|\bph\.?\s?d\b|\bdoctor(?:ate)?\b|\bd\.?phil\b",
    ),
    (
        Education::Master,
        r"硕士|研究生|\bmasters?\b|\bm\.?sc\b|\bm\.s\.|\bms\b|\bmba\b|\bm\.?eng\b|\bm\.?phil\b|\bma\b",
    ),
    (
        Education::Bachelor,
        r"本科|学士|专升本|\bbachelors?\b|\bb\.?sc\b|\bb\.s\.|\bbs\b|\bb\.?eng\b|\bba\b|\bundergraduate\b",
    ),
    (Education::Associate, r"大专|专科|高职|\bassociate(?:'s)?\b"),
    (
        Education::HighSchool,
        r"高中|中专|职高|技校|\bhigh school\b|\bsecondary school\b|\bged\b",
    ),
];

static PATTERNS: LazyLock<Vec<(Education, Regex)>> = LazyLock::new(|| {
    let compiled = compile(&SOURCES.iter().map(|(_, s)| *s).collect::<Vec<_>>());
    SOURCES
        .iter()
        .map(|(level, _)| *level)
        .zip(compiled)
        .collect()
});

impl Education {
    /// The level a degree text names, in Chinese or English: 博士/PhD → `Doctorate`,
    /// 硕士/研究生/Master/MSc/MBA → `Master`, 本科/学士/Bachelor/BSc → `Bachelor`,
    /// 大专/专科/Associate → `Associate`, 高中/中专/High school → `HighSchool`; the highest
    /// named wins. `None` when the text names no level.
    pub fn parse(text: &str) -> Option<Education> {
        let normal = Normalised::new(text);
        PATTERNS
            .iter()
            .find(|(_, re)| re.is_match(&normal.text))
            .map(|(level, _)| *level)
    }
}

/// The highest degree a candidate holds: each school's `degree`, or what its `degree_text`
/// names. `None` when no school says.
pub(crate) fn highest_degree(candidate: &CandidateProfile) -> Option<Education> {
    candidate
        .education
        .iter()
        .filter_map(|e| e.degree.or_else(|| Education::parse(&e.degree_text)))
        .filter(|&d| d != Education::Any)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::EducationItem;

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(PATTERNS.len(), SOURCES.len());
    }

    #[test]
    fn degrees_are_read_in_both_languages() {
        let cases = [
            ("本科", Education::Bachelor),
            ("学士学位", Education::Bachelor),
            ("Bachelor of Science", Education::Bachelor),
            ("BSc Computer Science", Education::Bachelor),
            ("硕士", Education::Master),
            ("研究生", Education::Master),
            ("碩士研究生", Education::Master),
            ("M.Sc.", Education::Master),
            ("MBA", Education::Master),
            ("博士研究生", Education::Doctorate),
            ("Ph.D. in Physics", Education::Doctorate),
            ("大专", Education::Associate),
            ("专科", Education::Associate),
            ("Associate degree", Education::Associate),
            ("高中", Education::HighSchool),
            ("High school diploma", Education::HighSchool),
        ];
        for (text, want) in cases {
            assert_eq!(Education::parse(text), Some(want), "{text}");
        }
        for text in ["", "计算机科学", "Mathematics", "mass spectrometry"] {
            assert_eq!(Education::parse(text), None, "{text}");
        }
    }

    #[test]
    fn the_highest_degree_wins_and_a_set_degree_beats_its_text() {
        let school = |degree: Option<Education>, text: &str| EducationItem {
            degree,
            degree_text: text.into(),
            ..EducationItem::default()
        };
        let mut c = CandidateProfile::default();
        assert_eq!(highest_degree(&c), None);
        c.education = vec![
            school(None, "本科"),
            school(None, "硕士"),
            school(Some(Education::Associate), "博士"),
        ];
        assert_eq!(highest_degree(&c), Some(Education::Master));
        assert!(
            Education::HighSchool < Education::Doctorate && Education::Any < Education::HighSchool
        );
    }
}
