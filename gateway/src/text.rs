//! Parsing of field values written as plain text, which is how path variables and query
//! parameters carry them. The rules follow the proto3 JSON mapping for the same field, so
//! `?color=COLOR_RED`, `?color=1`, `?start_time=2024-01-02T03:04:05Z`, `?timeout=1.5s`,
//! `?update_mask=title,author.name` and `?limit=5` (an `Int32Value`) mean what they would mean in
//! a JSON body.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};
use serde::de::IntoDeserializer;

/// Whether a field of this kind can be written as text (so it may be a path variable or a query
/// parameter). Plain messages cannot; their fields can, by dotted name.
pub fn supports_text(kind: &Kind) -> bool {
    match kind {
        Kind::Message(m) => text_message_kind(m.full_name()).is_some(),
        _ => true,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TextMessage {
    /// `google.protobuf.*Value`: the text is the wrapped scalar.
    Wrapper,
    /// Timestamp, Duration: their JSON form is a string; reuse prost-reflect's parser.
    JsonString,
    /// FieldMask: comma-separated paths. The JSON form wants lowerCamelCase, but in a URL people
    /// write the proto names they see in the API docs, so both are accepted here.
    FieldMask,
}

fn text_message_kind(full_name: &str) -> Option<TextMessage> {
    match full_name {
        "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.BoolValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => Some(TextMessage::Wrapper),
        "google.protobuf.Timestamp" | "google.protobuf.Duration" => Some(TextMessage::JsonString),
        "google.protobuf.FieldMask" => Some(TextMessage::FieldMask),
        _ => None,
    }
}

/// [`parse`] for text the caller owns: a string field takes it without a copy.
pub fn parse_owned(kind: &Kind, text: String) -> Result<Value, String> {
    match kind {
        Kind::String => Ok(Value::String(text)),
        _ => parse(kind, &text),
    }
}

/// Parses `text` as one value of `kind` (an element, for repeated fields). The error is a
/// description for a field violation.
pub fn parse(kind: &Kind, text: &str) -> Result<Value, String> {
    let value = match kind {
        Kind::Double => Value::F64(parse_float(text).ok_or_else(|| invalid(text, "a number"))?),
        Kind::Float => {
            Value::F32(parse_float(text).ok_or_else(|| invalid(text, "a number"))? as f32)
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
            text.parse()
                .map_err(|_| invalid(text, "a 32-bit integer"))?,
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
            text.parse()
                .map_err(|_| invalid(text, "a 64-bit integer"))?,
        ),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            text.parse()
                .map_err(|_| invalid(text, "an unsigned 32-bit integer"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            text.parse()
                .map_err(|_| invalid(text, "an unsigned 64-bit integer"))?,
        ),
        Kind::Bool => Value::Bool(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(invalid(text, "true or false")),
        }),
        Kind::String => Value::String(text.to_string()),
        Kind::Bytes => Value::Bytes(decode_base64(text).ok_or_else(|| invalid(text, "base64"))?),
        Kind::Enum(e) => {
            let number = match e.get_value_by_name(text) {
                Some(v) => v.number(),
                None => text.parse::<i32>().map_err(|_| {
                    let names: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
                    format!(
                        "invalid value {text:?}: expected one of {} or a number",
                        names.join(", ")
                    )
                })?,
            };
            Value::EnumNumber(number)
        }
        Kind::Message(m) => Value::Message(parse_message(m, text)?),
    };
    Ok(value)
}

fn parse_message(desc: &MessageDescriptor, text: &str) -> Result<DynamicMessage, String> {
    match text_message_kind(desc.full_name()) {
        Some(TextMessage::Wrapper) => {
            let inner = desc
                .get_field(1)
                .ok_or_else(|| format!("{} has no value field", desc.full_name()))?;
            let value = parse(&inner.kind(), text)?;
            let mut msg = DynamicMessage::new(desc.clone());
            msg.set_field(&inner, value);
            Ok(msg)
        }
        Some(TextMessage::JsonString) => {
            let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                text.into_deserializer();
            DynamicMessage::deserialize(desc.clone(), de)
                .map_err(|e| format!("invalid value {text:?}: {e}"))
        }
        Some(TextMessage::FieldMask) => {
            let paths = desc
                .get_field(1)
                .ok_or_else(|| format!("{} has no paths field", desc.full_name()))?;
            let mut list = Vec::new();
            for path in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if !path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    return Err(format!("invalid field mask path {path:?}"));
                }
                list.push(Value::String(snake_case(path)));
            }
            let mut msg = DynamicMessage::new(desc.clone());
            msg.set_field(&paths, Value::List(list));
            Ok(msg)
        }
        None => Err(format!(
            "{} is a message; set its fields by dotted name",
            desc.full_name()
        )),
    }
}

/// `author.displayName` → `author.display_name`; snake_case input is unchanged.
fn snake_case(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn invalid(text: &str, expected: &str) -> String {
    format!("invalid value {text:?}: expected {expected}")
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        // Rust also accepts "inf" and "nan"; the JSON mapping does not, so neither do we.
        _ if text
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            None
        }
        _ => text.parse().ok(),
    }
}

/// The JSON mapping accepts standard and URL-safe base64, with or without padding.
fn decode_base64(text: &str) -> Option<bytes::Bytes> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .into_iter()
        .find_map(|engine| engine.decode(text).ok())
        .map(bytes::Bytes::from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(talentmesh_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    #[test]
    fn parses_scalars() {
        assert_eq!(parse(&Kind::Int32, "-5").unwrap(), Value::I32(-5));
        assert_eq!(
            parse(&Kind::Uint64, "18446744073709551615").unwrap(),
            Value::U64(u64::MAX)
        );
        assert_eq!(parse(&Kind::Bool, "true").unwrap(), Value::Bool(true));
        assert_eq!(parse(&Kind::Double, "1.5").unwrap(), Value::F64(1.5));
        assert!(parse(&Kind::Double, "inf").is_err());
        assert_eq!(
            parse(&Kind::Bytes, "aGk").unwrap(),
            Value::Bytes(bytes::Bytes::from_static(b"hi"))
        );
        assert!(parse(&Kind::Int32, "1.5").is_err());
        assert!(parse(&Kind::Bool, "yes").is_err());
    }

    #[test]
    fn parses_well_known_types() {
        let pool = pool();
        let ts = pool
            .get_message_by_name("google.protobuf.Timestamp")
            .unwrap();
        let Value::Message(m) = parse(&Kind::Message(ts.clone()), "1970-01-01T00:01:00Z").unwrap()
        else {
            panic!("not a message")
        };
        assert_eq!(m.get_field_by_name("seconds").unwrap().as_i64(), Some(60));
        assert!(parse(&Kind::Message(ts), "yesterday").is_err());

        let Value::Message(m) = parse(
            &Kind::Message(
                DescriptorPool::global()
                    .get_message_by_name("google.protobuf.FieldMask")
                    .unwrap(),
            ),
            "title,author.displayName,author.display_name",
        )
        .unwrap() else {
            panic!("not a message")
        };
        let paths: Vec<String> = m
            .get_field_by_name("paths")
            .unwrap()
            .as_list()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            paths,
            ["title", "author.display_name", "author.display_name"]
        );

        let d = pool
            .get_message_by_name("google.protobuf.Duration")
            .unwrap();
        let Value::Message(m) = parse(&Kind::Message(d), "1.5s").unwrap() else {
            panic!("not a message")
        };
        assert_eq!(
            m.get_field_by_name("nanos").unwrap().as_i32(),
            Some(500_000_000)
        );
    }
}
