//! Discriminatory requirements in a job's title and description, in Chinese and English:
//! gender (`限男性`, `male only`), age (`35岁以下`, `aged 25-35`), marital and family status
//! (`已婚已育`), ethnicity, household registration (`本地户口`), appearance (`身高160以上`) and
//! health (`乙肝`). Patterns generalise over numbers, wording and script (traditional and
//! full-width forms are normalised first), and statements of openness (`男女不限`, `年龄不限`,
//! `regardless of gender`) or benefits (`解决户口`) are not flagged. A flag is advice for a
//! reviewer, not a verdict.

mod en;
mod zh;

use std::sync::LazyLock;

use regex::Regex;

use super::normal::{char_slice, Normalised};
use super::patterns::{compile, overlaps, spans};
use super::profile::JobProfile;

/// The ground a requirement discriminates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagKind {
    Gender,
    Age,
    /// Marital status, children, pregnancy.
    MaritalStatus,
    Ethnicity,
    /// Household registration (户籍, hukou) or origin.
    Household,
    /// Height, weight, looks, photos.
    Appearance,
    /// Health conditions such as hepatitis B carriers.
    Health,
}

impl FlagKind {
    fn sentence(self) -> &'static str {
        match self {
            Self::Gender => "states a gender requirement or preference",
            Self::Age => "states an age limit or preference",
            Self::MaritalStatus => "asks about marriage, children or pregnancy",
            Self::Ethnicity => "states an ethnic requirement or preference",
            Self::Household => "asks for a household registration or origin",
            Self::Appearance => "asks for a height, weight, looks or a photo",
            Self::Health => "excludes people by a health condition",
        }
    }
}

/// A span of a job's text that states a discriminatory requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FairnessFlag {
    pub kind: FlagKind,
    /// `title` or `description`.
    pub field: String,
    /// Unicode scalar (char) offsets into that field, end exclusive.
    pub start: usize,
    pub end: usize,
    /// The flagged characters as written.
    pub text: String,
    /// One English sentence for a reviewer.
    pub detail: String,
}

struct Rules {
    flags: Vec<(FlagKind, Regex)>,
    allowed: Vec<Regex>,
}

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let sources: Vec<(FlagKind, &str)> = zh::FLAGS.iter().chain(en::FLAGS).copied().collect();
    let patterns = compile(&sources.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    Rules {
        flags: sources.iter().map(|(k, _)| *k).zip(patterns).collect(),
        allowed: compile(&[zh::ALLOWED, en::ALLOWED].concat()),
    }
});

/// The discriminatory requirements in `job`'s title and description, by field then position.
/// Overlapping finds of one kind are reported once, as their union; a find that overlaps an
/// allowed statement (`男女不限`, `年满18周岁`, `解决户口`) is not reported.
pub fn job_flags(job: &JobProfile) -> Vec<FairnessFlag> {
    let mut out = Vec::new();
    for (field, text) in [("title", &job.title), ("description", &job.description)] {
        if text.trim().is_empty() {
            continue;
        }
        let normal = Normalised::new(text);
        let allowed: Vec<(usize, usize)> = RULES
            .allowed
            .iter()
            .flat_map(|re| spans(re, &normal))
            .collect();
        let mut found: Vec<(FlagKind, (usize, usize))> = RULES
            .flags
            .iter()
            .flat_map(|(kind, re)| spans(re, &normal).into_iter().map(move |s| (*kind, s)))
            .filter(|(_, s)| !allowed.iter().any(|a| overlaps(*a, *s)))
            .collect();
        found.sort_by(|a, b| {
            (a.1 .0, std::cmp::Reverse(a.1 .1), a.0 as u8).cmp(&(
                b.1 .0,
                std::cmp::Reverse(b.1 .1),
                b.0 as u8,
            ))
        });
        let mut kept: Vec<(FlagKind, (usize, usize))> = Vec::new();
        for (kind, span) in found {
            match kept
                .iter_mut()
                .find(|(k, s)| *k == kind && overlaps(*s, span))
            {
                // Sorted by start, so the union only reaches further right.
                Some((_, s)) => s.1 = s.1.max(span.1),
                None => kept.push((kind, span)),
            }
        }
        for (kind, (start, end)) in kept {
            let flagged = char_slice(text, start, end);
            out.push(FairnessFlag {
                kind,
                field: field.to_string(),
                start,
                end,
                detail: format!("“{flagged}” {}", kind.sentence()),
                text: flagged,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
