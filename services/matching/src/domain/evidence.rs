//! Where a resume shows a skill: every field of a candidate is searched for the ways the
//! vocabulary writes the skill (`k8s`, `容器编排` for Kubernetes), and each find is reported as a
//! char span of the field as written, so a front end can highlight the very characters.
//! Protected attributes are masked out first (see [`super::scrub`]), so they can never count
//! as, or hide, a skill.

use talentmesh_embed::skills::{canonical, extract, is_known, vocabulary};

use super::normal::{char_slice, Normalised};
use super::profile::CandidateProfile;
use super::scrub::{mask, protected_spans_in};

/// At most this many pieces of evidence are kept per skill (the first in field order).
pub const MAX_EVIDENCE: usize = 8;

/// A span of a candidate's text that shows a skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The field as a path into the profile: `title`, `headline`, `summary`,
    /// `skills[2].name`, `experience[0].title`, `experience[0].description`,
    /// `experience[0].skills[1]`, `projects[1].name`, `projects[1].description`,
    /// `education[0].major`, `certificates[0]`.
    pub field: String,
    /// Unicode scalar (char) offsets into the field's text, end exclusive.
    pub start: usize,
    pub end: usize,
    /// The matched characters as written (`K8s` for Kubernetes).
    pub text: String,
}

/// The canonical name of a skill a job lists: a known alias maps to its skill (`K8S` →
/// `kubernetes`); a phrase naming exactly one known skill maps to it (`Go语言` → `go`);
/// anything else is its own skill in normal form. `None` for a blank name.
pub(crate) fn skill_key(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if !is_known(raw) {
        if let [one] = extract(raw).as_slice() {
            return Some(one.clone());
        }
    }
    Some(canonical(raw)).filter(|c| !c.is_empty())
}

/// The keys of `names` in order, each once.
pub(crate) fn skill_keys(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for key in names.iter().filter_map(|n| skill_key(n)) {
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

struct Field {
    name: String,
    original: String,
    /// `original` with protected attributes masked (declared skills only, else empty).
    masked: String,
    normal: Normalised,
    /// A declared skill (`skills[i].name`, `experience[i].skills[j]`): matches as a whole too.
    declared: bool,
}

/// The searchable text of one candidate, normalised once for all the skills searched.
pub(crate) struct ResumeText {
    fields: Vec<Field>,
}

impl ResumeText {
    pub fn of(c: &CandidateProfile) -> Self {
        let mut fields = Vec::new();
        let mut add = |name: String, text: &str, declared: bool| {
            if text.trim().is_empty() {
                return;
            }
            let normal = Normalised::new(text);
            let hidden = protected_spans_in(&normal);
            fields.push(Field {
                name,
                original: text.to_string(),
                // Short names only: the whole-name match of a declared skill reads it.
                masked: if declared { mask(text) } else { String::new() },
                normal: normal.masked(&hidden),
                declared,
            });
        };
        add("title".into(), &c.title, false);
        add("headline".into(), &c.headline, false);
        add("summary".into(), &c.summary, false);
        for (i, s) in c.skills.iter().enumerate() {
            add(format!("skills[{i}].name"), &s.name, true);
        }
        for (i, e) in c.experience.iter().enumerate() {
            add(format!("experience[{i}].title"), &e.title, false);
            add(
                format!("experience[{i}].description"),
                &e.description,
                false,
            );
            for (j, s) in e.skills.iter().enumerate() {
                add(format!("experience[{i}].skills[{j}]"), s, true);
            }
        }
        for (i, p) in c.projects.iter().enumerate() {
            add(format!("projects[{i}].name"), &p.name, false);
            add(format!("projects[{i}].description"), &p.description, false);
        }
        for (i, e) in c.education.iter().enumerate() {
            add(format!("education[{i}].major"), &e.major, false);
        }
        for (i, cert) in c.certificates.iter().enumerate() {
            add(format!("certificates[{i}]"), cert, false);
        }
        Self { fields }
    }

    /// Where the candidate shows `skill` (a canonical name), in field order, at most
    /// [`MAX_EVIDENCE`]; empty when nowhere.
    pub fn find(&self, skill: &str) -> Vec<Evidence> {
        let aliases: Vec<&str> = vocabulary()
            .find(|(canon, _)| *canon == skill)
            .map_or_else(|| vec![skill], |(_, aliases)| aliases.to_vec());
        let mut out = Vec::new();
        for field in &self.fields {
            let mut spans: Vec<(usize, usize)> = aliases
                .iter()
                .flat_map(|a| occurrences(&field.normal.text, a))
                .map(|(from, to)| field.normal.origin(from, to))
                .collect();
            // The longest find at a place wins (`spring boot`, not `spring` inside it).
            spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let mut last_end = 0;
            for (start, end) in spans {
                if start < last_end {
                    continue;
                }
                last_end = end;
                out.push(evidence(field, start, end));
            }
            if field.declared
                && !out.iter().any(|e| e.field == field.name)
                && skill_key(&field.masked).as_deref() == Some(skill)
            {
                // A declared skill written in a way the vocabulary has no alias for (`C`).
                let lead = field
                    .original
                    .chars()
                    .take_while(|c| c.is_whitespace())
                    .count();
                let len = field.original.trim().chars().count();
                out.push(evidence(field, lead, lead + len));
            }
            if out.len() >= MAX_EVIDENCE {
                break;
            }
        }
        out.truncate(MAX_EVIDENCE);
        out
    }
}

fn evidence(field: &Field, start: usize, end: usize) -> Evidence {
    Evidence {
        field: field.name.clone(),
        start,
        end,
        text: char_slice(&field.original, start, end),
    }
}

/// The rule of the shared vocabulary (`talentmesh_embed::skills`): ASCII aliases only as whole
/// words of letters, digits, `+`, `#` and `.` (a trailing `.` ends a sentence), others anywhere.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '.')
}

/// Byte spans of `alias` in `text` (both in normal form) under the vocabulary's rule.
fn occurrences(text: &str, alias: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if alias.is_empty() {
        return out;
    }
    let whole_word = alias.is_ascii();
    let mut from = 0;
    while let Some(pos) = text[from..].find(alias) {
        let start = from + pos;
        let end = start + alias.len();
        from = end;
        if whole_word {
            let before = text[..start].chars().next_back();
            let after_ok = match text[end..].chars().next() {
                None => true,
                Some('.') => text[end + 1..]
                    .chars()
                    .next()
                    .is_none_or(|c| !is_word_char(c)),
                Some(c) => !is_word_char(c),
            };
            if !(before.is_none_or(|c| !is_word_char(c)) && after_ok) {
                continue;
            }
        }
        out.push((start, end));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "evidence_tests.rs"]
pub(crate) mod tests;
