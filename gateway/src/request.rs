//! Builds the gRPC request message of a route from the three places an HTTP request carries
//! fields: the body (per the rule's `body`), the query string (every field the path and body do
//! not carry), and the path variables. They are applied in that order, so a path variable wins
//! over the same field in a `body: "*"` body, as `google/api/http.proto` requires.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use talentmesh_mesh::error::FieldViolation;

use crate::json;
use crate::router::{bind_text, PathSegment};
use crate::routes::{BodyRule, Route};
use crate::text;

/// The request message for `route`, or the violations that make the request invalid (the caller
/// turns them into one INVALID_ARGUMENT error).
pub fn build(
    route: &Route,
    segments: &[PathSegment<'_>],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, Vec<FieldViolation>> {
    let input = &route.rpc.input;
    let mut message = match &route.body {
        BodyRule::Whole if !body.is_empty() => {
            json::decode(input, body, "").map_err(|v| vec![v])?
        }
        BodyRule::Field(field) if !body.is_empty() => {
            let mut message = DynamicMessage::new(input.clone());
            let value = match field.kind() {
                Kind::Message(m) if !field.is_list() && !field.is_map() => {
                    Value::Message(json::decode(&m, body, field.name()).map_err(one)?)
                }
                _ => json::decode_field_value(input, field, body).map_err(one)?,
            };
            message.set_field(field, value);
            message
        }
        _ => DynamicMessage::new(input.clone()),
    };
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        apply_query(route, &mut message, query)?;
    }
    let mut violations = Vec::new();
    for binding in &route.bindings {
        let end = binding.end.unwrap_or(segments.len()).min(segments.len());
        let start = binding.start.min(end);
        let bound = bind_text(&segments[start..end], binding.multi);
        let Some(leaf) = binding.fields.last() else {
            continue;
        };
        match text::parse_owned(&leaf.kind(), bound) {
            Ok(value) => match field_mut(&mut message, &binding.fields) {
                Some(slot) => *slot = value,
                None => violations.push(FieldViolation::new(&binding.name, "cannot be set")),
            },
            Err(description) => violations.push(FieldViolation::new(&binding.name, description)),
        }
    }
    if violations.is_empty() {
        Ok(message)
    } else {
        Err(violations)
    }
}

fn one(violation: FieldViolation) -> Vec<FieldViolation> {
    vec![violation]
}

/// One violation per query parameter whose name or value is not UTF-8 once percent-decoded
/// (`?query=%FF%FE`), named by its name (lossily decoded).
fn not_utf8(query: &str) -> Vec<FieldViolation> {
    let decodes = |text: &str| {
        let plus_as_space = text.replace('+', " ");
        percent_encoding::percent_decode_str(&plus_as_space)
            .decode_utf8()
            .is_ok()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (!decodes(key) || !decodes(value)).then(|| {
                let name = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
                FieldViolation::new(name.as_ref(), "not valid UTF-8 once percent-decoded")
            })
        })
        .collect()
}

/// Sets the fields named by the query parameters. Names are dotted paths of proto or JSON field
/// names; repeated fields take every occurrence; anything else is an error naming the parameter.
fn apply_query(
    route: &Route,
    message: &mut DynamicMessage,
    query: &str,
) -> Result<(), Vec<FieldViolation>> {
    let mut violations = not_utf8(query);
    if !violations.is_empty() {
        // The form decoder would turn such bytes into U+FFFD and search for that.
        return Err(violations);
    }
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if matches!(route.body, BodyRule::Whole) {
            violations.push(FieldViolation::new(
                key.as_ref(),
                "unknown query parameter: this method takes every field from the request body",
            ));
            continue;
        }
        let Some((fields, canonical)) = resolve_query_name(&route.rpc.input, &key) else {
            violations.push(FieldViolation::new(key.as_ref(), "unknown query parameter"));
            continue;
        };
        if route.binds(&canonical) {
            violations.push(FieldViolation::new(
                key.as_ref(),
                "this field is set by the URL path",
            ));
            continue;
        }
        if let (BodyRule::Field(body), Some(first)) = (&route.body, fields.first()) {
            if body == first {
                violations.push(FieldViolation::new(
                    key.as_ref(),
                    "this field is set by the request body",
                ));
                continue;
            }
        }
        let Some(leaf) = fields.last() else {
            continue;
        };
        if leaf.is_map() {
            violations.push(FieldViolation::new(
                key.as_ref(),
                "map fields cannot be set from the query string",
            ));
            continue;
        }
        if !leaf.is_list() {
            if seen.contains(&canonical) {
                violations.push(FieldViolation::new(key.as_ref(), "given more than once"));
                continue;
            }
            seen.push(canonical);
        }
        let parsed = match text::parse_owned(&leaf.kind(), value.into_owned()) {
            Ok(v) => v,
            Err(description) => {
                violations.push(FieldViolation::new(key.as_ref(), description));
                continue;
            }
        };
        match field_mut(message, &fields) {
            Some(Value::List(items)) if leaf.is_list() => items.push(parsed),
            Some(slot) if !leaf.is_list() => *slot = parsed,
            _ => violations.push(FieldViolation::new(key.as_ref(), "cannot be set")),
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

/// Resolves `a.b.c` (proto or JSON names) to field descriptors and the canonical dotted proto
/// path. Every step but the last must be a singular, non-well-known message.
fn resolve_query_name(
    message: &MessageDescriptor,
    name: &str,
) -> Option<(Vec<FieldDescriptor>, String)> {
    let mut fields = Vec::new();
    let mut canonical = String::with_capacity(name.len());
    let mut current = message.clone();
    let mut parts = name.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = current
            .get_field_by_name(part)
            .or_else(|| current.get_field_by_json_name(part))?;
        if !canonical.is_empty() {
            canonical.push('.');
        }
        canonical.push_str(field.name());
        if parts.peek().is_some() {
            match field.kind() {
                Kind::Message(m)
                    if !field.is_list()
                        && !field.is_map()
                        && !m.full_name().starts_with("google.protobuf.") =>
                {
                    current = m
                }
                _ => return None,
            }
        } else if !text::supports_text(&field.kind()) {
            // A plain message cannot be written as one value; its fields can.
            return None;
        }
        fields.push(field);
    }
    Some((fields, canonical))
}

/// The slot of a nested field, creating the messages on the way.
fn field_mut<'m>(
    message: &'m mut DynamicMessage,
    fields: &[FieldDescriptor],
) -> Option<&'m mut Value> {
    let (leaf, parents) = fields.split_last()?;
    let mut current = message;
    for field in parents {
        match current.get_field_mut(field) {
            Value::Message(m) => current = m,
            _ => return None,
        }
    }
    Some(current.get_field_mut(leaf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_that_are_not_utf8_are_named() {
        let bad = not_utf8("query=%FF%FE&pageSize=5&%C3%28=x");
        let names: Vec<&str> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(names[0], "query");
        // Chinese, emoji and `+` for a space are fine.
        assert!(not_utf8("query=%E5%B7%A5%E7%A8%8B%E5%B8%88&q=%F0%9F%A6%80&x=a+b").is_empty());
        assert!(not_utf8("").is_empty());
    }
}
