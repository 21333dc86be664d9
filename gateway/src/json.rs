//! JSON ↔ protobuf by the proto3 JSON mapping, through prost-reflect's serde support.
//!
//! Decoding takes the fast path first: one streaming pass from the body bytes straight into a
//! `DynamicMessage`, rejecting unknown fields. serde errors do not say which field failed, and a
//! client needs that (`user.address.city`, not "invalid type at column 57"), so only when the fast
//! path fails the body is walked a second time, field by field, to find the first field that
//! does not decode. Successful requests never pay for the diagnosis.
//!
//! Encoding writes lowerCamelCase names and, when configured (the default), every scalar, enum,
//! repeated and map field including unpopulated ones (`0`, `""`, `[]`, `{}`, the zero enum
//! name), so clients see a stable shape whatever values the service filled in. A message-typed
//! field that is not set (including `Timestamp` and the wrappers) is left out rather than written
//! as `null`: absence is what "not set" means for those types.

use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::{Map, Value as Json};
use talentmesh_mesh::error::FieldViolation;

/// The decoding options of the gateway: unknown fields are an error, never silently dropped.
const DECODE: DeserializeOptions = DeserializeOptions::new().deny_unknown_fields(true);

/// Decodes `bytes` as a `desc` message. `prefix` is the request field the body maps to (empty
/// for `body: "*"`); violations name fields below it.
pub fn decode(
    desc: &MessageDescriptor,
    bytes: &[u8],
    prefix: &str,
) -> Result<DynamicMessage, FieldViolation> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = DynamicMessage::deserialize_with_options(desc.clone(), &mut de, &DECODE)
        .and_then(|msg| de.end().map(|()| msg));
    match result {
        Ok(msg) => Ok(msg),
        Err(err) if err.is_data() => Err(diagnose(desc, bytes, prefix, &err)),
        Err(err) => Err(FieldViolation::new(
            body_name(prefix),
            format!("malformed JSON: {err}"),
        )),
    }
}

/// Decodes a JSON body that maps to a non-message field (`body: "tags"` for a repeated string,
/// say) by wrapping it as that field of the parent message.
pub fn decode_field_value(
    parent: &MessageDescriptor,
    field: &prost_reflect::FieldDescriptor,
    bytes: &[u8],
) -> Result<prost_reflect::Value, FieldViolation> {
    let value: Json = serde_json::from_slice(bytes)
        .map_err(|err| FieldViolation::new(field.name(), format!("malformed JSON: {err}")))?;
    let mut object = Map::new();
    object.insert(field.json_name().to_string(), value);
    let msg =
        DynamicMessage::deserialize_with_options(parent.clone(), Json::Object(object), &DECODE)
            .map_err(|err| FieldViolation::new(field.name(), clean(&err)))?;
    Ok(msg.get_field(field).into_owned())
}

fn body_name(prefix: &str) -> &str {
    if prefix.is_empty() {
        "body"
    } else {
        prefix
    }
}

fn diagnose(
    desc: &MessageDescriptor,
    bytes: &[u8],
    prefix: &str,
    err: &serde_json::Error,
) -> FieldViolation {
    let fallback = || FieldViolation::new(body_name(prefix), clean(err));
    let Ok(value) = serde_json::from_slice::<Json>(bytes) else {
        return fallback();
    };
    locate(desc, &value, prefix).unwrap_or_else(fallback)
}

/// Finds the first field of `value` that does not decode as part of a `desc` message.
fn locate(desc: &MessageDescriptor, value: &Json, path: &str) -> Option<FieldViolation> {
    let object = match value {
        Json::Object(object) if !is_well_known(desc) => object,
        _ => {
            return DynamicMessage::deserialize_with_options(desc.clone(), value, &DECODE)
                .err()
                .map(|err| FieldViolation::new(body_name(path), clean(&err)));
        }
    };
    for (key, item) in object {
        let Some(field) = desc
            .get_field_by_json_name(key)
            .or_else(|| desc.get_field_by_name(key))
        else {
            return Some(FieldViolation::new(join(path, key), "unknown field"));
        };
        let child = join(path, field.name());
        if item.is_null() {
            continue;
        }
        let nested = match field.kind() {
            prost_reflect::Kind::Message(m) if !is_well_known(&m) => Some(m),
            _ => None,
        };
        match (&nested, item) {
            (Some(m), Json::Array(items)) if field.is_list() => {
                for (i, element) in items.iter().enumerate() {
                    if let Some(found) = locate(m, element, &format!("{child}[{i}]")) {
                        return Some(found);
                    }
                }
            }
            (Some(m), Json::Object(_)) if !field.is_list() && !field.is_map() => {
                if let Some(found) = locate(m, item, &child) {
                    return Some(found);
                }
            }
            _ => {}
        }
        // A scalar, enum, well-known type, map or wrongly shaped value: decode the field alone.
        let mut single = Map::new();
        single.insert(key.clone(), item.clone());
        if let Err(err) =
            DynamicMessage::deserialize_with_options(desc.clone(), Json::Object(single), &DECODE)
        {
            return Some(FieldViolation::new(child, clean(&err)));
        }
    }
    None
}

fn is_well_known(desc: &MessageDescriptor) -> bool {
    desc.full_name().starts_with("google.protobuf.")
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// serde's message without the position suffix, which means nothing once the field is named.
fn clean(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(pos) if err.line() > 0 => text[..pos].to_string(),
        _ => text,
    }
}

/// Serializes a message as JSON bytes.
pub fn encode(
    msg: &DynamicMessage,
    options: &SerializeOptions,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::new(&mut out);
    msg.serialize_with_options(&mut ser, options)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::*;

    fn desc(name: &str) -> MessageDescriptor {
        DescriptorPool::decode(talentmesh_proto::FILE_DESCRIPTOR_SET)
            .unwrap()
            .get_message_by_name(name)
            .unwrap()
    }

    #[test]
    fn decodes_both_field_name_styles() {
        let d = desc("talentmesh.identity.v1.TokenPair");
        let msg = decode(&d, br#"{"accessToken":"a","refresh_token":"r"}"#, "").unwrap();
        assert_eq!(
            msg.get_field_by_name("access_token").unwrap().as_str(),
            Some("a")
        );
        assert_eq!(
            msg.get_field_by_name("refresh_token").unwrap().as_str(),
            Some("r")
        );
    }

    #[test]
    fn names_the_failing_field() {
        let d = desc("talentmesh.identity.v1.LoginResponse");
        let err = decode(
            &d,
            br#"{"user":{"email":"x"},"tokens":{"expiresIn":"soon"}}"#,
            "",
        )
        .unwrap_err();
        assert_eq!(err.field, "tokens.expires_in");
        let err = decode(&d, br#"{"user":{"emial":"x"}}"#, "").unwrap_err();
        assert_eq!(err.field, "user.emial");
        assert_eq!(err.description, "unknown field");
        let err = decode(&d, br#"{"user":{"roles":["ROLE_ADMIN", "ROLE_KING"]}}"#, "").unwrap_err();
        assert_eq!(err.field, "user.roles");
        let err = decode(&d, br#"{"user":"#, "").unwrap_err();
        assert_eq!(err.field, "body");
        assert!(
            err.description.starts_with("malformed JSON"),
            "{}",
            err.description
        );
    }
}
