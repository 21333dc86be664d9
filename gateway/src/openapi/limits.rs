//! Limits the contracts state in prose, read into the schema so the document refuses what the
//! services refuse. The proto comments follow two conventions, which this module reads:
//!
//! - A numeric field's comment states its range at the start of a sentence: `1 to 100; 0 for
//!   20.`, `1–200; 0 means 50.`, `Between 1 and 50.`, `At most 200; 20 when unset.`, or
//!   `0 < radius_km ≤ 200.`. The first three give `maximum` (with `minimum: 0`, 0 being "unset"
//!   in proto3), `At most N` gives `maximum` (and `maxItems` for a repeated field), the last
//!   `exclusiveMinimum` and `maximum`.
//! - A string field that refers to a resource (not a resource's own `name`) starts its comment with the name's pattern in
//!   quotes, `"companies/{company}/jobs/{job}".` (AIP-122 style): the schema gets the pattern,
//!   each variable after a collection of UUID ids (see [`super::ids`]) being a UUID. An empty
//!   value stays allowed unless the field is REQUIRED, since an unset reference reads as "".
//!
//! - A string field whose comment says it is `a UUID` (AIP-155's `request_id`) gets the UUID
//!   pattern, "" allowed (no id).
//!
//! A comment in none of these forms adds nothing: the document then promises no more than before.

use serde_json::{json, Value as Json};

use super::ids;

/// Applies the limits `comment` states to `schema`, the schema of a field that is `numeric`, a
/// string `reference` to a resource, or a `list` (a repeated field, limited in its length).
pub(super) fn apply(comment: &str, numeric: bool, reference: bool, list: bool, schema: &mut Json) {
    if list {
        if let Some(max) = at_most(comment) {
            schema["maxItems"] = json!(max);
        }
        return;
    }
    if numeric {
        if let Some((low, high)) = range(comment) {
            // 0 is an unset field in proto3 and means "the default" wherever a range is given.
            schema["minimum"] = json!(low.min(0));
            schema["maximum"] = json!(high);
        } else if let Some(high) = at_most(comment) {
            schema["minimum"] = json!(0);
            schema["maximum"] = json!(high);
        } else if let Some(high) = above_zero_at_most(comment) {
            schema["exclusiveMinimum"] = json!(0);
            schema["maximum"] = json!(high);
        }
    }
    if reference {
        if let Some(pattern) = name_pattern(comment) {
            schema["pattern"] = Json::String(pattern);
        } else if says_uuid(comment) {
            // AIP-155 request ids ("a UUID" in the comment); "" is no id.
            schema["pattern"] = Json::String(format!("^$|{}", ids::UUID_PATTERN));
        }
    }
}

/// Whether a string field's comment says it holds a UUID (`…; a UUID, kept 24 h.`).
fn says_uuid(comment: &str) -> bool {
    comment
        .split([',', '.', ';', '\n'])
        .any(|s| s.trim() == "a UUID")
}

/// The sentences of a comment, trimmed, each without a leading `Label: ` (`Resumes per page:
/// 1–100`).
fn sentences(comment: &str) -> impl Iterator<Item = &str> {
    comment
        .split(['.', ';', '\n'])
        .map(|s| s.split_once(": ").map_or(s, |(_, rest)| rest).trim())
        .filter(|s| !s.is_empty())
}

fn number(text: &str) -> Option<i64> {
    let digits: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// `A to B`, `A–B` or `Between A and B` opening a sentence; the words after B must not be
/// more numbers (`1 to 3` but not `1 to 3.5`).
fn range(comment: &str) -> Option<(i64, i64)> {
    sentences(comment).find_map(|s| {
        let lower = s.to_ascii_lowercase();
        let body = lower.strip_prefix("between ").unwrap_or(&lower);
        let (a, b) = body
            .split_once(" to ")
            .or_else(|| body.split_once(" and "))
            .or_else(|| body.split_once('–'))?;
        let low = number(a).filter(|_| a.trim().chars().all(|c| c.is_ascii_digit()))?;
        let high = number(b)?;
        (low <= high).then_some((low, high))
    })
}

/// `At most N` opening a sentence.
fn at_most(comment: &str) -> Option<i64> {
    sentences(comment).find_map(|s| number(s.strip_prefix("At most ")?))
}

/// `0 < field ≤ N` opening a sentence.
fn above_zero_at_most(comment: &str) -> Option<i64> {
    sentences(comment).find_map(|s| {
        let rest = s.strip_prefix("0 < ")?;
        let (_, high) = rest.split_once(" ≤ ")?;
        number(high)
    })
}

/// The pattern of a resource name quoted at the start of a comment (`"users/{user}"`), as an
/// anchored regular expression that also admits "" (an unset reference). `None` when the
/// comment does not start that way or names more than one pattern (`"a/{a}" or "b/{b}"`).
fn name_pattern(comment: &str) -> Option<String> {
    let rest = comment.trim_start().strip_prefix('"')?;
    let (quoted, after) = rest.split_once('"')?;
    if after.contains('"') || !quoted.contains('/') || !quoted.contains('{') {
        return None;
    }
    let mut regex = String::new();
    let mut previous: Option<&str> = None;
    for (i, segment) in quoted.split('/').enumerate() {
        if i > 0 {
            regex.push('/');
        }
        if segment.starts_with('{') && segment.ends_with('}') {
            let id = match previous {
                Some(collection) if ids::is_uuid_collection(collection) => ids::UUID_PATTERN
                    .trim_start_matches('^')
                    .trim_end_matches('$'),
                _ => "[^/]+",
            };
            regex.push_str(id);
            previous = None;
        } else if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric()) {
            regex.push_str(segment);
            previous = Some(segment);
        } else {
            return None;
        }
    }
    Some(format!("^(|{regex})$"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn limits(comment: &str, numeric: bool, string: bool, list: bool) -> Json {
        let mut schema = json!({});
        apply(comment, numeric, string, list, &mut schema);
        schema
    }

    #[test]
    fn ranges_in_the_forms_the_contracts_write_them() {
        for (comment, max) in [
            ("1 to 100; 0 for 20.", 100),
            ("1–200; 0 means 50.", 200),
            ("Resumes per page: 1–100; 0 means 100.", 100),
            ("At most 50; 10 when unset.", 50),
            ("1 to 3; 1 when unset.", 3),
        ] {
            let schema = limits(comment, true, false, false);
            assert_eq!(schema["maximum"], max, "{comment}");
            assert_eq!(schema["minimum"], 0, "{comment}");
        }
        let radius = limits("0 < radius_km ≤ 200.", true, false, false);
        assert_eq!(radius["exclusiveMinimum"], 0);
        assert_eq!(radius["maximum"], 200);
        assert_eq!(limits("At most 100.", false, false, true)["maxItems"], 100);
        // Prose without a stated range adds nothing.
        assert_eq!(
            limits("Monthly, CNY; min ≤ max.", true, false, false),
            json!({})
        );
        assert_eq!(
            limits("At most this many entries", true, false, false),
            json!({})
        );
    }

    #[test]
    fn resource_names_become_patterns() {
        let pattern = |c: &str| limits(c, false, true, false)["pattern"].clone();
        let job = pattern("\"companies/{company}/jobs/{job}\", a published job.");
        let job = job.as_str().unwrap();
        assert!(job.starts_with("^(|companies/[0-9a-fA-F]{8}-"), "{job}");
        assert!(job.contains("/jobs/[0-9a-fA-F]{8}-"), "{job}");
        assert_eq!(pattern("\"services/{service}\"."), "^(|services/[^/]+)$");
        assert_eq!(
            pattern("\"companies/{company}/jobs/{job}\" or \"resumes/{resume}\"."),
            Json::Null
        );
        assert_eq!(pattern("\"up\", \"down\" or \"not_used\"."), Json::Null);
    }
}
