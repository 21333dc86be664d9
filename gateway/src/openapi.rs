//! The OpenAPI 3.1 document of the routes, generated from the same descriptors, so the published
//! REST contract cannot drift from what the gateway serves. It is rendered once per route table
//! (at compile time, off the request path) and served as bytes.
//!
//! Shapes follow the proto3 JSON mapping the gateway speaks: lowerCamelCase property names,
//! 64-bit integers as strings, enums by name, well-known types in their JSON forms. Descriptions
//! come from the proto comments; `google.api.field_behavior` marks required and read-only fields.
//!
//! Path variables that span several segments (`{name=shelves/*/books/*}`) cannot be one OpenAPI
//! parameter (parameters do not contain `/`), so the literal segments are written into the path
//! and each wildcard becomes its own parameter named after the collection before it:
//! `/v1/shelves/{shelf}/books/{book}`. The client joins them back into `name`.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use prost_reflect::{
    DescriptorPool, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    Value,
};
use serde_json::{json, Map, Value as Json};

use crate::routes::{BodyRule, Route, RouteTable};
use crate::template::Segment;
use crate::text;

const STATUS: &str = "google.rpc.Status";
/// The name of the bearer-token security scheme in the document.
const BEARER: &str = "bearerAuth";

/// The RPCs (`/package.Service/Method`) the services answer without an access token; a token,
/// when sent, is still used. Every other operation requires one, which the document says
/// with its top-level `security`. These are the `PUBLIC_METHODS` the services give the kit; the
/// end-to-end suite checks that the two lists agree.
pub const PUBLIC_METHODS: &[&str] = &[
    "/talentmesh.identity.v1.IdentityService/Register",
    "/talentmesh.identity.v1.IdentityService/Login",
    "/talentmesh.identity.v1.IdentityService/Refresh",
    "/talentmesh.identity.v1.IdentityService/Logout",
    "/talentmesh.identity.v1.IdentityService/ListPublicKeys",
    "/talentmesh.identity.v1.IdentityService/ListRevokedSessions",
    "/talentmesh.identity.v1.IdentityService/GetPublicKey",
    "/talentmesh.company.v1.CompanyService/GetCompany",
    "/talentmesh.company.v1.CompanyService/ListCompanies",
    "/talentmesh.company.v1.CompanyService/ListOffices",
    "/talentmesh.company.v1.CompanyService/SearchNearbyCompanies",
    "/talentmesh.company.v1.CompanyService/ListRelations",
    "/talentmesh.company.v1.CompanyService/GetCompanyNetwork",
    "/talentmesh.company.v1.CompanyService/FindCompanyPath",
    "/talentmesh.job.v1.JobService/GetJob",
    "/talentmesh.job.v1.JobService/ListJobs",
    "/talentmesh.job.v1.JobService/SearchJobs",
];
/// How deep query parameters follow nested messages (`a.b.c`); cycles stop earlier.
const MAX_QUERY_DEPTH: usize = 4;

/// Renders the document of `table`.
pub fn document(table: &RouteTable) -> Bytes {
    let mut gen = Generator::new(table.pool());
    let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    for route in table.routes() {
        let (path, mut parameters) = gen.path(route);
        let operation = gen.operation(route, &mut parameters);
        let entry = paths.entry(path).or_default();
        let method = route.method.as_str().to_ascii_lowercase();
        entry.entry(method).or_insert(operation);
    }
    gen.reference(STATUS);
    let mut schemas = gen.finish();
    if table.pool().get_message_by_name(STATUS).is_none() {
        // Errors are rendered with the compiled-in google.rpc.Status whatever the pool holds.
        schemas.insert(STATUS.to_string(), status_schema());
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "talentmesh API",
            "version": "v1",
            "description": "REST mapping of the talentmesh gRPC services, generated from their \
                google.api.http annotations. Errors are google.rpc.Status objects in JSON.",
        },
        "paths": paths,
        // Every operation needs an access token unless it says otherwise.
        "security": [{ BEARER: [] }],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from POST /v1/sessions:login (an EdDSA \
                        JWT), sent as `Authorization: Bearer <token>`.",
                },
            },
        },
    });
    Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())
}

struct Generator<'p> {
    pool: &'p DescriptorPool,
    field_behavior: Option<ExtensionDescriptor>,
    /// Comments by file name, then by source path.
    comments: HashMap<String, HashMap<Vec<i32>, String>>,
    /// Messages referenced so far; `None` until their schema is generated.
    schemas: BTreeMap<String, Option<Json>>,
}

impl<'p> Generator<'p> {
    fn new(pool: &'p DescriptorPool) -> Self {
        Generator {
            pool,
            field_behavior: pool.get_extension_by_name("google.api.field_behavior"),
            comments: HashMap::new(),
            schemas: BTreeMap::new(),
        }
    }

    fn comment(&mut self, file: &prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
        let index = self
            .comments
            .entry(file.name().to_string())
            .or_insert_with(|| {
                let mut index = HashMap::new();
                if let Some(info) = &file.file_descriptor_proto().source_code_info {
                    for location in &info.location {
                        let text = location
                            .leading_comments
                            .as_deref()
                            .or(location.trailing_comments.as_deref())
                            .map(tidy)
                            .unwrap_or_default();
                        if !text.is_empty() {
                            index.insert(location.path.clone(), text);
                        }
                    }
                }
                index
            });
        index.get(path).cloned()
    }

    /// The OpenAPI path of a route and its path parameters.
    fn path(&mut self, route: &Route) -> (String, Vec<Json>) {
        let segments = &route.template.segments;
        let mut out = String::new();
        let mut parameters = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut i = 0;
        while i < segments.len() {
            let binding = route.bindings.iter().find(|b| b.start == i);
            match binding {
                Some(binding) => {
                    let end = binding.end.unwrap_or(segments.len());
                    let field = binding.fields.last();
                    let whole = end - i == 1 && segments[i] != Segment::Rest;
                    if whole || (end - i == 1 && field.is_some()) {
                        // `{name}`, `{name=*}` or `{path=**}`: one parameter named after the field.
                        let name = unique(&mut names, binding.name.clone());
                        out.push_str(&format!("/{{{name}}}"));
                        let mut description = field.and_then(|f| self.field_comment(f));
                        if segments[i] == Segment::Rest {
                            let text = description.unwrap_or_default();
                            description =
                                Some(format!("{text} May contain `/`.").trim().to_string());
                        }
                        parameters.push(self.path_parameter(&name, field, description));
                    } else {
                        let pattern = pattern_text(&segments[i..end]);
                        let mut previous: Option<&str> = None;
                        for (k, segment) in segments[i..end].iter().enumerate() {
                            match segment {
                                Segment::Literal(text) => {
                                    out.push('/');
                                    out.push_str(text);
                                    previous = Some(text);
                                }
                                Segment::Single | Segment::Rest => {
                                    let base = match previous {
                                        Some(collection) => singular(collection),
                                        None => format!("{}_{k}", binding.name),
                                    };
                                    let name = unique(&mut names, base);
                                    out.push_str(&format!("/{{{name}}}"));
                                    let mut description =
                                        format!("Part of `{}` (`{pattern}`).", binding.name);
                                    if *segment == Segment::Rest {
                                        description.push_str(" May contain `/`.");
                                    }
                                    parameters.push(self.path_parameter(
                                        &name,
                                        None,
                                        Some(description),
                                    ));
                                }
                            }
                        }
                    }
                    i = end.max(i + 1);
                }
                None => {
                    match &segments[i] {
                        Segment::Literal(text) => {
                            out.push('/');
                            out.push_str(text);
                        }
                        Segment::Single | Segment::Rest => {
                            let name = unique(&mut names, format!("segment{i}"));
                            out.push_str(&format!("/{{{name}}}"));
                            parameters.push(self.path_parameter(&name, None, None));
                        }
                    }
                    i += 1;
                }
            }
        }
        if let Some(verb) = &route.template.verb {
            out.push(':');
            out.push_str(verb);
        }
        (out, parameters)
    }

    fn path_parameter(
        &mut self,
        name: &str,
        field: Option<&FieldDescriptor>,
        description: Option<String>,
    ) -> Json {
        let schema = match field {
            Some(f) => self.kind_schema(&f.kind()),
            None => json!({ "type": "string" }),
        };
        let mut parameter = json!({
            "name": name,
            "in": "path",
            "required": true,
            "schema": schema,
        });
        if let Some(description) = description {
            parameter["description"] = Json::String(description);
        }
        parameter
    }

    fn operation(&mut self, route: &Route, parameters: &mut Vec<Json>) -> Json {
        let rpc = &route.rpc;
        let service = rpc.method.parent_service();
        let mut operation_id = format!("{}_{}", service.name(), rpc.method.name());
        if route.binding_index > 0 {
            operation_id.push_str(&format!("_{}", route.binding_index));
        }
        let mut operation = json!({
            "operationId": operation_id,
            "tags": [service.name()],
        });
        if PUBLIC_METHODS.contains(&rpc.path.as_str()) {
            // Anonymous, or with a token (which the service then uses).
            operation["security"] = json!([{}, { BEARER: [] }]);
        }
        if let Some(text) = self.comment(&rpc.method.parent_file(), rpc.method.path()) {
            let summary = text.lines().next().unwrap_or_default().to_string();
            operation["summary"] = Json::String(summary);
            operation["description"] = Json::String(text);
        }
        if !matches!(route.body, BodyRule::Whole) {
            let mut stack = vec![rpc.input.full_name().to_string()];
            self.query_parameters(route, &rpc.input, "", "", 0, &mut stack, parameters);
        }
        if !parameters.is_empty() {
            operation["parameters"] = Json::Array(std::mem::take(parameters));
        }
        let body_schema = match &route.body {
            BodyRule::None => None,
            BodyRule::Whole => Some(self.reference(rpc.input.full_name())),
            BodyRule::Field(field) => Some(self.field_schema(field)),
        };
        if let Some(schema) = body_schema {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": schema } },
            });
        }
        let response_schema = match &route.response_body {
            Some(field) => self.field_schema(field),
            None => self.reference(rpc.output.full_name()),
        };
        let error_schema = self.reference(STATUS);
        operation["responses"] = json!({
            "200": {
                "description": "OK",
                "content": { "application/json": { "schema": response_schema } },
            },
            "default": {
                "description": "An error, as a google.rpc.Status; the HTTP status follows its code.",
                "content": { "application/json": { "schema": error_schema } },
            },
        });
        operation
    }

    /// Every field the query string may set: scalars, enums, text-form well-known types and
    /// repeated ones, by their dotted JSON names.
    #[allow(clippy::too_many_arguments)]
    fn query_parameters(
        &mut self,
        route: &Route,
        message: &MessageDescriptor,
        proto_prefix: &str,
        json_prefix: &str,
        depth: usize,
        stack: &mut Vec<String>,
        out: &mut Vec<Json>,
    ) {
        for field in message.fields() {
            let proto_path = format!("{proto_prefix}{}", field.name());
            let json_path = format!("{json_prefix}{}", field.json_name());
            if route.binds(&proto_path) || field.is_map() {
                continue;
            }
            if let (BodyRule::Field(body), 0) = (&route.body, depth) {
                if *body == field {
                    continue;
                }
            }
            let kind = field.kind();
            if let Kind::Message(m) = &kind {
                if !text::supports_text(&kind) {
                    let nested = m.full_name().to_string();
                    if !field.is_list() && depth + 1 < MAX_QUERY_DEPTH && !stack.contains(&nested) {
                        stack.push(nested);
                        self.query_parameters(
                            route,
                            m,
                            &format!("{proto_path}."),
                            &format!("{json_path}."),
                            depth + 1,
                            stack,
                            out,
                        );
                        stack.pop();
                    }
                    continue;
                }
            }
            let mut parameter = json!({
                "name": json_path,
                "in": "query",
                "schema": self.field_schema(&field),
            });
            if let Some(text) = self.field_comment(&field) {
                parameter["description"] = Json::String(text);
            }
            out.push(parameter);
        }
    }

    fn field_comment(&mut self, field: &FieldDescriptor) -> Option<String> {
        self.comment(&field.parent_file(), field.path())
    }

    /// `$ref` to a message's component schema (generated later), or the inline JSON form of a
    /// well-known type.
    fn reference(&mut self, full_name: &str) -> Json {
        if let Some(inline) = well_known(full_name) {
            return inline;
        }
        self.schemas.entry(full_name.to_string()).or_insert(None);
        json!({ "$ref": format!("#/components/schemas/{full_name}") })
    }

    fn field_schema(&mut self, field: &FieldDescriptor) -> Json {
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
            schema["description"] = Json::String(text);
        }
        if self.behaviors(field).contains(&3) {
            schema["readOnly"] = Json::Bool(true);
        }
        schema
    }

    /// `google.api.field_behavior` values of a field (2 REQUIRED, 3 OUTPUT_ONLY, 4 INPUT_ONLY).
    fn behaviors(&self, field: &FieldDescriptor) -> Vec<i32> {
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

    fn kind_schema(&mut self, kind: &Kind) -> Json {
        match kind {
            Kind::Double => json!({ "type": "number", "format": "double" }),
            Kind::Float => json!({ "type": "number", "format": "float" }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({ "type": "integer", "format": "int32" })
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({ "type": "integer", "format": "int64", "minimum": 0 })
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({ "type": "string", "format": "int64" })
            }
            Kind::Uint64 | Kind::Fixed64 => json!({ "type": "string", "format": "uint64" }),
            Kind::Bool => json!({ "type": "boolean" }),
            Kind::String => json!({ "type": "string" }),
            Kind::Bytes => json!({ "type": "string", "format": "byte" }),
            Kind::Enum(e) => self.enum_schema(e),
            Kind::Message(m) => self.reference(m.full_name()),
        }
    }

    fn enum_schema(&mut self, e: &EnumDescriptor) -> Json {
        let names: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
        let mut schema = json!({ "type": "string", "enum": names });
        if let Some(text) = self.comment(&e.parent_file(), e.path()) {
            schema["description"] = Json::String(text);
        }
        schema
    }

    fn message_schema(&mut self, message: &MessageDescriptor) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.fields() {
            if self.behaviors(&field).contains(&2) {
                required.push(Json::String(field.json_name().to_string()));
            }
            let schema = self.field_schema(&field);
            properties.insert(field.json_name().to_string(), schema);
        }
        let mut schema = json!({ "type": "object", "properties": properties });
        if !required.is_empty() {
            schema["required"] = Json::Array(required);
        }
        if let Some(text) = self.comment(&message.parent_file(), message.path()) {
            schema["description"] = Json::String(text);
        }
        schema
    }

    /// Generates every referenced schema, including those referenced while generating.
    fn finish(mut self) -> Map<String, Json> {
        while let Some(name) = self
            .schemas
            .iter()
            .find(|(_, s)| s.is_none())
            .map(|(n, _)| n.clone())
        {
            let schema = match self.pool.get_message_by_name(&name) {
                Some(message) => self.message_schema(&message),
                None if name == STATUS => status_schema(),
                None => json!({ "type": "object" }),
            };
            self.schemas.insert(name, Some(schema));
        }
        self.schemas
            .into_iter()
            .filter_map(|(name, schema)| schema.map(|s| (name, s)))
            .collect()
    }
}

/// The JSON-mapping form of the well-known types that are not plain objects.
fn well_known(full_name: &str) -> Option<Json> {
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
fn status_schema() -> Json {
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

/// `shelves/*/books/*` for the description of a split variable.
fn pattern_text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::Literal(t) => t.as_str(),
            Segment::Single => "*",
            Segment::Rest => "**",
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The parameter name for an id in a collection: `shelves` → `shelf`, `companies` → `company`,
/// `users` → `user`. Irregular plurals fall through to `<collection>_id`.
fn singular(collection: &str) -> String {
    let lower = collection;
    if let Some(stem) = lower.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = lower.strip_suffix("lves") {
        format!("{stem}lf")
    } else if ["sses", "xes", "ches", "shes", "zes"]
        .iter()
        .any(|s| lower.ends_with(s))
    {
        lower[..lower.len() - 2].to_string()
    } else if let Some(stem) = lower.strip_suffix('s').filter(|s| !s.ends_with('s')) {
        stem.to_string()
    } else {
        format!("{lower}_id")
    }
}

fn unique(taken: &mut Vec<String>, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

/// Comment text without the leading space of each line and surrounding blank lines.
fn tidy(comment: &str) -> String {
    comment
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn singular_names() {
        assert_eq!(singular("shelves"), "shelf");
        assert_eq!(singular("companies"), "company");
        assert_eq!(singular("books"), "book");
        assert_eq!(singular("addresses"), "address");
        assert_eq!(singular("data"), "data_id");
    }

    #[test]
    fn declares_bearer_tokens_and_which_operations_go_without() {
        let table = RouteTable::compile(
            crate::descriptors::compiled_in().unwrap(),
            &crate::config::mesh_services(),
        );
        let doc: Json = serde_json::from_slice(&table.openapi_json()).unwrap();
        let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "bearer");
        assert_eq!(scheme["bearerFormat"], "JWT");
        assert_eq!(doc["security"], json!([{ "bearerAuth": [] }]));
        // Public: anonymous allowed, a token optional.
        let login = &doc["paths"]["/v1/sessions:login"]["post"];
        assert_eq!(login["security"], json!([{}, { "bearerAuth": [] }]));
        // Not public: the document-wide requirement applies.
        let me = &doc["paths"]["/v1/users/me"]["get"];
        assert!(me.get("security").is_none(), "{me}");
        let public = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|ops| ops.as_object().unwrap().values())
            .filter(|op| op.get("security").is_some())
            .count();
        // Every public method has one binding, except ListPublicKeys (two) and
        // ListRevokedSessions (none: only the mesh's verifiers call it, over gRPC).
        assert_eq!(public, PUBLIC_METHODS.len());
    }

    #[test]
    fn documents_the_compiled_in_routes() {
        let table = RouteTable::compile(
            crate::descriptors::compiled_in().unwrap(),
            &crate::config::mesh_services(),
        );
        let doc: Json = serde_json::from_slice(&table.openapi_json()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let get_user = &doc["paths"]["/v1/users/{user}"]["get"];
        assert_eq!(get_user["operationId"], "IdentityService_GetUser");
        assert_eq!(get_user["parameters"][0]["name"], "user");
        let register = &doc["paths"]["/v1/users:register"]["post"];
        assert_eq!(
            register["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/talentmesh.identity.v1.RegisterRequest"
        );
        assert!(register["description"]
            .as_str()
            .unwrap()
            .contains("Creates an account"));
        let user = &doc["components"]["schemas"]["talentmesh.identity.v1.User"];
        assert_eq!(user["properties"]["createTime"]["format"], "date-time");
        assert_eq!(user["properties"]["createTime"]["readOnly"], true);
        assert!(doc["components"]["schemas"]["google.rpc.Status"].is_object());
    }
}
