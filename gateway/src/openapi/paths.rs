//! Paths, parameters and operations of the document: one OpenAPI path per route template,
//! its path and query parameters, request body and responses.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{json, Value as Json};

use super::{ids, Generator, BEARER, MAX_QUERY_DEPTH, PUBLIC_METHODS, STATUS};
use crate::routes::{BodyRule, Route};
use crate::template::Segment;
use crate::text;

impl Generator<'_> {
    /// The OpenAPI path of a route and its path parameters.
    pub(super) fn path(&mut self, route: &Route) -> (String, Vec<Json>) {
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
                        let mut parameter = self.path_parameter(&name, field, description);
                        if field.is_some_and(|f| f.kind() == Kind::String) {
                            parameter["schema"] =
                                ids::segment_schema(None, segments[i] == Segment::Rest);
                        }
                        parameters.push(parameter);
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
                                    let mut parameter =
                                        self.path_parameter(&name, None, Some(description));
                                    parameter["schema"] =
                                        ids::segment_schema(previous, *segment == Segment::Rest);
                                    parameters.push(parameter);
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
                            let mut parameter = self.path_parameter(&name, None, None);
                            parameter["schema"] =
                                ids::segment_schema(None, segments[i] == Segment::Rest);
                            parameters.push(parameter);
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

    pub(super) fn path_parameter(
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

    pub(super) fn operation(&mut self, route: &Route, parameters: &mut Vec<Json>) -> Json {
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
    pub(super) fn query_parameters(
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
pub(super) fn singular(collection: &str) -> String {
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
