//! JSON schemas of messages, enums, scalars and well-known types, after the proto3 JSON
//! mapping the gateway speaks.

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value};
use serde_json::{json, Map, Value as Json};

use super::{limits, Generator};

impl Generator<'_> {
    pub(super) fn field_comment(&mut self, field: &FieldDescriptor) -> Option<String> {
        self.comment(&field.parent_file(), field.path())
    }

    /// `$ref` to a message's component schema (generated later), or the inline JSON form of a
    /// well-known type.
    pub(super) fn reference(&mut self, full_name: &str) -> Json {
        if let Some(inline) = well_known(full_name) {
            return inline;
        }
        self.schemas.entry(full_name.to_string()).or_insert(None);
        json!({ "$ref": format!("#/components/schemas/{full_name}") })
    }

    pub(super) fn field_schema(&mut self, field: &FieldDescriptor) -> Json {
        let mut schema = if field.is_map() {
            let value = match field.kind() {
                Kind::Message(entry) => self.kind_schema(&entry.map_entry_value_field().kind()),
                _ => json!({}),
            };
            json!({ "type": "object", "additionalProperties": value })
        } else if field.is_list() {
            json!({ "type": "array", "items": self.kind_schema(&field.kind()) })
        } else {
            self.kind_schema(&field.kind())
        };
        if let Some(text) = self.field_comment(field) {
            let kind = field.kind();
            let numeric = matches!(
                kind,
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32
            ) || matches!(kind, Kind::Double | Kind::Float);
            let list = field.is_list() && !field.is_map();
            // A resource's own `name` is left alone: on input the path carries it (a body's is
            // ignored), and one message may be named under several parents (a sync operation
            // is `operations/{id}` on an instance and `services/{service}/operations/{id}` on
            // the control plane).
            let reference = kind == Kind::String && field.name() != "name";
            limits::apply(&text, numeric, reference, list, &mut schema);
            schema["description"] = Json::String(text);
        }
        let behaviors = self.behaviors(field);
        if behaviors.contains(&3) {
            schema["readOnly"] = Json::Bool(true);
        }
        if behaviors.contains(&2) {
            required_value(field, &mut schema);
        }
        if field.name() == "page_size" && field.kind() == Kind::Int32 {
            // AIP-158: a page size is never negative (0 is the service's default, and one over
            // the service's maximum is lowered to it, not refused).
            schema["minimum"] = json!(0);
        }
        schema
    }

    /// `google.api.field_behavior` values of a field (2 REQUIRED, 3 OUTPUT_ONLY, 4 INPUT_ONLY).
    pub(super) fn behaviors(&self, field: &FieldDescriptor) -> Vec<i32> {
        let Some(extension) = &self.field_behavior else {
            return Vec::new();
        };
        let options = field.options();
        if !options.has_extension(extension) {
            return Vec::new();
        }
        match options.get_extension(extension).as_ref() {
            Value::List(items) => items.iter().filter_map(Value::as_enum_number).collect(),
            Value::EnumNumber(n) => vec![*n],
            _ => Vec::new(),
        }
    }

    pub(super) fn kind_schema(&mut self, kind: &Kind) -> Json {
        match kind {
            Kind::Double => json!({ "type": "number", "format": "double" }),
            Kind::Float => json!({ "type": "number", "format": "float" }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({ "type": "integer", "format": "int32" })
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({ "type": "integer", "format": "int64", "minimum": 0 })
            }
            // The JSON mapping writes 64-bit integers as decimal strings.
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]{1,19}$" })
            }
            Kind::Uint64 | Kind::Fixed64 => {
                json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]{1,20}$" })
            }
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::String => json!({ "type": "string" }),
            Kind::Bytes => json!({ "type": "string", "format": "byte" }),
            Kind::Enum(e) => self.enum_schema(e),
            Kind::Message(m) => self.reference(m.full_name()),
        }
    }

    pub(super) fn enum_schema(&mut self, e: &EnumDescriptor) -> Json {
        let names: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
        let mut schema = json!({ "type": "string", "enum": names });
        if let Some(text) = self.comment(&e.parent_file(), e.path()) {
            schema["description"] = Json::String(text);
        }
        schema
    }

    pub(super) fn message_schema(&mut self, message: &MessageDescriptor) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.fields() {
            if self.behaviors(&field).contains(&2) {
                required.push(Json::String(field.json_name().to_string()));
            }
            let schema = self.field_schema(&field);
            properties.insert(field.json_name().to_string(), schema);
        }
        // The gateway refuses fields a message does not have (proto3 JSON parsing is strict
        // here), so the document admits none either.
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if !required.is_empty() {
            schema["required"] = Json::Array(required);
        }
        if let Some(text) = self.comment(&message.parent_file(), message.path()) {
            schema["description"] = Json::String(text);
        }
        schema
    }
}

/// What REQUIRED (AIP-203) means for the value of a field, beyond being present: a string is
/// not empty, a list has an item, an enum is not its zero `*_UNSPECIFIED` value. The services
/// refuse each of those as missing.
fn required_value(field: &FieldDescriptor, schema: &mut Json) {
    if field.is_map() {
        return;
    }
    if field.is_list() {
        schema["minItems"] = json!(1);
        return;
    }
    match field.kind() {
        Kind::String => schema["minLength"] = json!(1),
        Kind::Enum(e) => {
            let names: Vec<Json> = e
                .values()
                .filter(|v| v.number() != 0)
                .map(|v| Json::String(v.name().to_string()))
                .collect();
            if !names.is_empty() {
                schema["enum"] = Json::Array(names);
            }
        }
        _ => {}
    }
}

/// The JSON-mapping form of the well-known types that are not plain objects.
pub(super) fn well_known(full_name: &str) -> Option<Json> {
    let schema = match full_name {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "example": "1.5s" })
        }
        "google.protobuf.FieldMask" => {
            json!({ "type": "string", "description": "Comma-separated field paths." })
        }
        "google.protobuf.Empty" => json!({ "type": "object" }),
        "google.protobuf.Struct" => json!({ "type": "object", "additionalProperties": true }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({ "type": "array", "items": {} }),
        "google.protobuf.Any" => json!({
            "type": "object",
            "properties": { "@type": { "type": "string" } },
            "required": ["@type"],
            "additionalProperties": true,
        }),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            json!({ "type": ["number", "null"] })
        }
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({ "type": ["integer", "null"] })
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({ "type": ["string", "null"], "format": "int64" })
        }
        "google.protobuf.BoolValue" => json!({ "type": ["boolean", "null"] }),
        "google.protobuf.StringValue" => json!({ "type": ["string", "null"] }),
        "google.protobuf.BytesValue" => json!({ "type": ["string", "null"], "format": "byte" }),
        _ => return None,
    };
    Some(schema)
}

/// google.rpc.Status for pools that do not contain it.
pub(super) fn status_schema() -> Json {
    json!({
        "type": "object",
        "description": "The error model: a gRPC code, a message and typed details.",
        "properties": {
            "code": { "type": "integer", "format": "int32" },
            "message": { "type": "string" },
            "details": { "type": "array", "items": well_known("google.protobuf.Any") },
        },
    })
}
