//! Entity tags and conditional requests (RFC 9110 §8.8.3 and §13): `ETag` on answers,
//! `If-None-Match` on reads, `If-Match` on writes.
//!
//! An answer's tag is strong and opaque to clients. For a resource whose contract carries an
//! int64 `version` (or a string `etag`, AIP-154) it is `"<version>-<digest>"`; otherwise it is
//! `"<digest>"`, where the digest is 16 hex digits of SHA-256 over the JSON body. The digest is
//! there even with a version because what a resource looks like depends on who asks (members
//! see fields others do not), and a strong tag must change whenever the bytes do.
//!
//! `If-Match` on `PUT`, `PATCH` and `DELETE` is checked by the service when the contract lets
//! the gateway say it: the version of the tag goes into the request's `expected_version` field,
//! and the service refuses a stale write atomically (ABORTED, which the gateway answers with
//! 412). When the contract has no such field, or the client lists several tags, the gateway
//! reads the resource through the `GET` route of the same path (as the caller) and compares;
//! with a version field it then still passes the version it read, so the write cannot land on a
//! newer one. Without one, a change between that read and the write goes unseen — the best a
//! contract without a version allows.

use http::header::{IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue};
use prost_reflect::{DynamicMessage, Value};
use sha2::{Digest as _, Sha256};

use crate::routes::{EntityVersion, Route};

/// The entity tag of an answer of `route` whose reply is `message`, rendered as `body`.
pub fn entity_tag(route: &Route, message: &DynamicMessage, body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let mut hex = String::with_capacity(16);
    for byte in &digest[..8] {
        hex.push_str(&format!("{byte:02x}"));
    }
    let tag = match route.entity.as_ref().and_then(|e| version_of(e, message)) {
        Some(Version::Number(n)) => format!("\"{n}-{hex}\""),
        Some(Version::Tag(text)) => format!("\"{text}\""),
        None => format!("\"{hex}\""),
    };
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

enum Version {
    Number(i64),
    /// A service's own `etag`, usable as is when it has only tag characters.
    Tag(String),
}

fn version_of(entity: &EntityVersion, message: &DynamicMessage) -> Option<Version> {
    let resource = match &entity.container {
        Some(field) => match message.get_field(field).into_owned() {
            Value::Message(inner) => inner,
            _ => return None,
        },
        None => message.clone(),
    };
    if !resource.has_field(&entity.field) {
        return None;
    }
    match resource.get_field(&entity.field).as_ref() {
        Value::I64(n) if *n > 0 => Some(Version::Number(*n)),
        Value::String(s) if !s.is_empty() && s.bytes().all(is_etagc) => {
            Some(Version::Tag(s.clone()))
        }
        _ => None,
    }
}

/// `etagc` of RFC 9110 §8.8.3, without obs-text.
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b)
}

/// One entity tag of a conditional header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub weak: bool,
    /// The text between the quotes.
    pub opaque: String,
}

impl Tag {
    /// The version a tag of this gateway (or a bare `"<version>"`) names.
    pub fn version(&self) -> Option<i64> {
        let number = match self.opaque.split_once('-') {
            Some((n, digest))
                if digest.len() == 16 && digest.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                n
            }
            Some(_) => return None,
            None => &self.opaque,
        };
        number.parse().ok().filter(|n| *n > 0)
    }
}

/// What a conditional header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`: any current representation.
    Any,
    Tags(Vec<Tag>),
}

/// Parses `If-Match` / `If-None-Match` values (several headers are one list). `Err` names what
/// is malformed.
fn condition(headers: &HeaderMap, name: &http::HeaderName) -> Result<Option<Condition>, String> {
    let mut tags = Vec::new();
    let mut any = false;
    for value in headers.get_all(name) {
        let text = value
            .to_str()
            .map_err(|_| format!("{name} is not visible ASCII"))?;
        if text.trim() == "*" {
            any = true;
            continue;
        }
        tags.extend(parse_list(text).ok_or_else(|| {
            format!("{name} must be `*` or a list of entity tags such as \"1-ab12\"")
        })?);
    }
    Ok(match (any, tags.is_empty()) {
        (true, _) => Some(Condition::Any),
        (false, true) => None,
        (false, false) => Some(Condition::Tags(tags)),
    })
}

/// `If-Match` of a request, if any.
pub fn if_match(headers: &HeaderMap) -> Result<Option<Condition>, String> {
    condition(headers, &IF_MATCH)
}

/// `If-None-Match` of a request, if any.
pub fn if_none_match(headers: &HeaderMap) -> Result<Option<Condition>, String> {
    condition(headers, &IF_NONE_MATCH)
}

/// `#entity-tag`: tags separated by commas and optional whitespace (commas may sit inside the
/// quotes, so the list is scanned, not split).
fn parse_list(text: &str) -> Option<Vec<Tag>> {
    let mut tags = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
            continue;
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let inner = quoted.strip_prefix('"')?;
        let end = inner.find('"')?;
        let opaque = &inner[..end];
        if !opaque.bytes().all(is_etagc) {
            return None;
        }
        tags.push(Tag {
            weak,
            opaque: opaque.to_string(),
        });
        rest = inner[end + 1..].trim_start();
        if !(rest.is_empty() || rest.starts_with(',')) {
            return None;
        }
    }
    Some(tags)
}

/// The opaque text of a tag this gateway made (`"…"`).
fn opaque(tag: &HeaderValue) -> &str {
    tag.to_str().unwrap_or_default().trim_matches('"')
}

/// `If-None-Match` against the current tag (weak comparison, §8.8.3.2): true when the client's
/// copy is current and the answer is 304.
pub fn none_match_hits(condition: &Condition, current: &HeaderValue) -> bool {
    match condition {
        Condition::Any => true,
        Condition::Tags(tags) => tags.iter().any(|t| t.opaque == opaque(current)),
    }
}

/// `If-Match` against the current tag (strong comparison): true when the write may go ahead.
/// Tags of versioned resources match on their version, so an answer rendered for another
/// caller (other fields visible) still names the same state.
pub fn match_hits(condition: &Condition, current: &HeaderValue) -> bool {
    let current = Tag {
        weak: false,
        opaque: opaque(current).to_string(),
    };
    match condition {
        Condition::Any => true,
        Condition::Tags(tags) => {
            tags.iter()
                .filter(|t| !t.weak)
                .any(|t| match (t.version(), current.version()) {
                    (Some(a), Some(b)) => a == b,
                    _ => t.opaque == current.opaque,
                })
        }
    }
}

/// The one version an `If-Match` names, when it names exactly one strong tag with a version.
pub fn single_version(condition: &Condition) -> Option<i64> {
    match condition {
        Condition::Tags(tags) if tags.len() == 1 && !tags[0].weak => tags[0].version(),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tags(text: &str) -> Vec<Tag> {
        parse_list(text).unwrap()
    }

    #[test]
    fn parses_lists_of_strong_and_weak_tags() {
        let list = tags(r#""3-0123456789abcdef", W/"x,y" ,"7""#);
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].version(), Some(3));
        assert!(list[1].weak);
        assert_eq!(list[1].opaque, "x,y");
        assert_eq!(list[2].version(), Some(7));
        assert!(parse_list("abc").is_none());
        assert!(parse_list(r#""a" "b""#).is_none());
        assert!(parse_list(r#""unterminated"#).is_none());
        // A digest that is not ours is not read as a version.
        assert_eq!(tags(r#""3-zz""#)[0].version(), None);
        assert_eq!(tags(r#""0""#)[0].version(), None);
    }

    #[test]
    fn if_match_compares_strongly_and_by_version() {
        let current = HeaderValue::from_static("\"4-00000000000000aa\"");
        let cond = |text: &str| Condition::Tags(tags(text));
        assert!(match_hits(&cond(r#""4-00000000000000bb""#), &current));
        assert!(match_hits(&cond(r#""4""#), &current));
        assert!(!match_hits(&cond(r#""3-00000000000000aa""#), &current));
        assert!(!match_hits(&cond(r#"W/"4-00000000000000aa""#), &current));
        assert!(match_hits(&Condition::Any, &current));
        let plain = HeaderValue::from_static("\"00000000000000aa\"");
        assert!(match_hits(&cond(r#""00000000000000aa""#), &plain));
        assert!(!match_hits(&cond(r#""00000000000000ab""#), &plain));
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let current = HeaderValue::from_static("\"abc\"");
        assert!(none_match_hits(
            &Condition::Tags(tags(r#"W/"abc""#)),
            &current
        ));
        assert!(!none_match_hits(
            &Condition::Tags(tags(r#""abd""#)),
            &current
        ));
        assert_eq!(
            single_version(&Condition::Tags(tags(r#""9-0123456789abcdef""#))),
            Some(9)
        );
        assert_eq!(single_version(&Condition::Tags(tags(r#""9", "10""#))), None);
    }
}
