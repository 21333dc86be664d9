//! Compiled pattern lists for the scrubber and the fairness checker: regular expressions over
//! the normal form of a text (lower case, simplified Chinese, see [`Normalised`]), reported as
//! char spans of the original.

use regex::Regex;

use super::normal::Normalised;

/// Compiles `sources`, dropping any that do not compile. The pattern lists are constants, and
/// each module's tests check that every one of its patterns compiles, so nothing is dropped in
/// a build that passed its tests (this keeps `expect` out of library code).
///
/// `\b` is made an ASCII word boundary: English words end where Chinese begins (`熟悉male`),
/// and the fast DFA engines can run over Chinese text, which Unicode boundaries prevent.
pub(crate) fn compile(sources: &[&str]) -> Vec<Regex> {
    sources
        .iter()
        .filter_map(|s| Regex::new(&s.replace(r"\b", r"(?-u:\b)")).ok())
        .collect()
}

/// Original char spans `[start, end)` of every match of `re` in `normal`. Two named groups
/// stand in for the look-around the `regex` crate lacks: when `span` took part the span is
/// that group's (a pattern can demand a delimiter without reporting it), and a match in which
/// `not` took part is dropped (`project name:` is not a person's name).
pub(crate) fn spans(re: &Regex, normal: &Normalised) -> Vec<(usize, usize)> {
    re.captures_iter(&normal.text)
        .filter_map(|caps| {
            if caps.name("not").is_some() {
                return None;
            }
            let m = caps.name("span").or_else(|| caps.get(0))?;
            (m.start() < m.end()).then(|| normal.origin(m.start(), m.end()))
        })
        .collect()
}

/// `spans` sorted by start, overlapping or touching ones merged.
pub(crate) fn merge(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Whether `[a0, a1)` and `[b0, b1)` share a character.
pub(crate) fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}
