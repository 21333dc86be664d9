//! The segment trie that finds the route for a request path.
//!
//! Every compiled template is inserted once; a request walks the trie segment by segment, trying
//! literal children before `*` children before `**` endings. That order is the precedence rule:
//! `GET /v1/users/me` beats `GET /v1/{name=users/*}` because the literal branch is tried first,
//! whatever order the routes were declared in. The walk yields candidates in precedence order and
//! the caller picks the first whose verb and HTTP method fit, so a more specific path with the
//! wrong method does not hide a less specific one with the right method.

use std::borrow::Cow;
use std::collections::HashMap;

use percent_encoding::percent_decode_str;

use crate::template::Segment;

/// One request path segment: the raw text and its percent-decoded form.
#[derive(Debug, Clone)]
pub struct PathSegment<'a> {
    pub raw: &'a str,
    pub decoded: Cow<'a, str>,
}

impl<'a> PathSegment<'a> {
    pub fn new(raw: &'a str) -> Self {
        let decoded = if raw.contains('%') {
            percent_decode_str(raw).decode_utf8_lossy()
        } else {
            Cow::Borrowed(raw)
        };
        PathSegment { raw, decoded }
    }
}

/// Splits a request path (which starts with `/`) into segments. `None` when it does not start
/// with `/`.
pub fn split_path(path: &str) -> Option<Vec<PathSegment<'_>>> {
    let rest = path.strip_prefix('/')?;
    Some(rest.split('/').map(PathSegment::new).collect())
}

#[derive(Debug, Default)]
pub struct Node {
    literals: HashMap<Box<str>, Node>,
    single: Option<Box<Node>>,
    /// Routes whose template ends exactly at this depth.
    end: Vec<usize>,
    /// Routes whose template ends with `**` at this depth; they match any remaining segments.
    rest: Vec<usize>,
}

impl Node {
    pub fn insert(&mut self, segments: &[Segment], route: usize) {
        match segments.split_first() {
            None => self.end.push(route),
            Some((Segment::Rest, _)) => self.rest.push(route),
            Some((Segment::Single, tail)) => self
                .single
                .get_or_insert_with(Box::default)
                .insert(tail, route),
            Some((Segment::Literal(text), tail)) => self
                .literals
                .entry(text.as_str().into())
                .or_default()
                .insert(tail, route),
        }
    }

    /// Calls `visit` for each route whose template matches `segments`, most specific first,
    /// until `visit` returns true. Returns whether it did.
    pub fn walk(
        &self,
        segments: &[PathSegment<'_>],
        visit: &mut impl FnMut(usize) -> bool,
    ) -> bool {
        match segments.split_first() {
            None => {
                if self.end.iter().any(|&r| visit(r)) {
                    return true;
                }
            }
            Some((first, tail)) => {
                if let Some(child) = self.literals.get(first.decoded.as_ref()) {
                    if child.walk(tail, visit) {
                        return true;
                    }
                }
                // `*` needs a segment; an empty one (`//`) is not a value.
                let non_empty = !first.raw.is_empty();
                if let (Some(child), true) = (&self.single, non_empty) {
                    if child.walk(tail, visit) {
                        return true;
                    }
                }
            }
        }
        self.rest.iter().any(|&r| visit(r))
    }
}

/// The text a variable binds: its segments joined with `/`. A variable of one segment is fully
/// percent-decoded; a multi-segment one keeps `%2F` encoded so the slashes it binds stay
/// distinguishable from escaped ones (the rule of `google/api/http.proto`).
pub fn bind_text(segments: &[PathSegment<'_>], multi: bool) -> String {
    if !multi {
        return segments
            .first()
            .map(|s| s.decoded.clone().into_owned())
            .unwrap_or_default();
    }
    let mut out = String::new();
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if seg.raw.contains('%') {
            for (j, part) in split_keep_case(seg.raw, "%2F").into_iter().enumerate() {
                if j > 0 {
                    out.push_str("%2F");
                }
                out.push_str(&percent_decode_str(part).decode_utf8_lossy());
            }
        } else {
            out.push_str(seg.raw);
        }
    }
    out
}

/// Splits on `%2F` in either case.
fn split_keep_case<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + sep.len() <= bytes.len() {
        if text[i..i + sep.len()].eq_ignore_ascii_case(sep) {
            parts.push(&text[start..i]);
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::template::PathTemplate;

    fn trie(templates: &[&str]) -> Node {
        let mut root = Node::default();
        for (i, t) in templates.iter().enumerate() {
            root.insert(&PathTemplate::parse(t).unwrap().segments, i);
        }
        root
    }

    fn matches(root: &Node, path: &str) -> Vec<usize> {
        let segs = split_path(path).unwrap();
        let mut out = Vec::new();
        root.walk(&segs, &mut |r| {
            out.push(r);
            false
        });
        out
    }

    #[test]
    fn literal_beats_variable_whatever_the_order() {
        let root = trie(&["/v1/{name=users/*}", "/v1/users/me"]);
        assert_eq!(matches(&root, "/v1/users/me"), vec![1, 0]);
        assert_eq!(matches(&root, "/v1/users/42"), vec![0]);
        assert!(matches(&root, "/v1/users").is_empty());
    }

    #[test]
    fn rest_matches_zero_or_more_segments() {
        let root = trie(&["/v1/files/{path=**}", "/v1/files/a/b"]);
        assert_eq!(matches(&root, "/v1/files/a/b"), vec![1, 0]);
        assert_eq!(matches(&root, "/v1/files/a/b/c"), vec![0]);
        assert_eq!(matches(&root, "/v1/files"), vec![0]);
    }

    #[test]
    fn binds_decoded_text() {
        let segs = split_path("/a%20b/c%2Fd/e").unwrap();
        assert_eq!(bind_text(&segs[..1], false), "a b");
        assert_eq!(bind_text(&segs[1..2], false), "c/d");
        assert_eq!(bind_text(&segs, true), "a b/c%2Fd/e");
    }
}
