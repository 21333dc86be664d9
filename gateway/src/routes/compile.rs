//! Compiling a descriptor pool into a [`RouteTable`]: each `google.api.http` binding of each
//! unary method becomes a [`Route`] with its fields resolved once (path variables, body,
//! response body, the entity version and the `If-Match` precondition field), and writes are
//! linked to the `GET` that reads the same resource. What cannot be served is a problem
//! recorded in the table, not an error.

use std::sync::Arc;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::Method;
use prost_reflect::{
    DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, Value,
};
use talentmesh_proto::google::api::{http_rule, HttpRule};

use super::{BodyRule, EntityVersion, PathBinding, Route, RouteTable, Rpc, HTTP_EXTENSION};
use crate::router::Node;
use crate::template::{PathTemplate, Segment};
use crate::text;
use crate::upstream::service_name_of;

impl RouteTable {
    /// Compiles the routes of every annotated unary method of `pool` whose service (the
    /// upstream name, see [`service_name_of`]) is one of `exposed`; the others get no route.
    pub fn compile(pool: DescriptorPool, exposed: &[String]) -> RouteTable {
        let mut routes: Vec<Route> = Vec::new();
        let mut problems = Vec::new();
        if let Some(extension) = pool.get_extension_by_name(HTTP_EXTENSION) {
            for service in pool.services() {
                let upstream = service_name_of(service.package_name());
                if !exposed.iter().any(|e| e == upstream) {
                    tracing::debug!(
                        service = %service.full_name(),
                        upstream,
                        "not routed: the gateway does not expose this service"
                    );
                    continue;
                }
                for method in service.methods() {
                    let options = method.options();
                    if !options.has_extension(&extension) {
                        continue;
                    }
                    let rule = match options.get_extension(&extension).as_ref() {
                        Value::Message(m) => m.transcode_to::<HttpRule>(),
                        _ => continue,
                    };
                    match rule {
                        Ok(rule) => compile_method(&method, &rule, &mut routes, &mut problems),
                        Err(e) => problems.push(format!(
                            "{}: unreadable google.api.http option: {e}",
                            method.full_name()
                        )),
                    }
                }
            }
        }
        for problem in &problems {
            tracing::warn!(problem = %problem, "route skipped");
        }
        link_readers(&mut routes);
        let mut root = Node::default();
        for (i, route) in routes.iter().enumerate() {
            root.insert(&route.template.segments, i);
        }
        let mut upstreams: Vec<Arc<str>> = Vec::new();
        for route in &routes {
            if !upstreams.contains(&route.rpc.upstream) {
                upstreams.push(route.rpc.upstream.clone());
            }
        }
        let mut prefixes: Vec<(Arc<str>, String)> = routes
            .iter()
            .map(|route| (route.rpc.upstream.clone(), literal_prefix(&route.template)))
            .collect();
        prefixes.sort();
        prefixes.dedup();
        let mut table = RouteTable {
            pool,
            routes,
            root,
            upstreams,
            prefixes,
            problems,
            openapi: Bytes::new(),
        };
        table.openapi = crate::openapi::document(&table);
        table
    }
}

/// The leading literal segments of `template` as a path (`/v1/companies` for
/// `/v1/companies/{company}/jobs`, `/v1/users/me` for `/v1/users/me`); empty when it starts with
/// a wildcard.
fn literal_prefix(template: &PathTemplate) -> String {
    let mut prefix = String::new();
    for segment in &template.segments {
        match segment {
            Segment::Literal(text) => {
                prefix.push('/');
                prefix.push_str(text);
            }
            Segment::Single | Segment::Rest => break,
        }
    }
    prefix
}

/// Whether `message` (or a message inside it) has a credential field: one named `*_token`
/// other than a page token. `seen` breaks cycles.
fn carries_credentials(message: &MessageDescriptor, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == message.full_name()) {
        return false;
    }
    seen.push(message.full_name().to_string());
    message.fields().any(|field| {
        let name = field.name();
        if name.ends_with("_token") && !name.ends_with("page_token") {
            return true;
        }
        match field.kind() {
            Kind::Message(inner) => carries_credentials(&inner, seen),
            _ => false,
        }
    })
}

fn compile_method(
    method: &MethodDescriptor,
    rule: &HttpRule,
    routes: &mut Vec<Route>,
    problems: &mut Vec<String>,
) {
    if method.is_client_streaming() || method.is_server_streaming() {
        problems.push(format!(
            "{}: streaming methods are not served over REST",
            method.full_name()
        ));
        return;
    }
    let service = method.parent_service();
    let path = format!("/{}/{}", service.full_name(), method.name());
    let path = match PathAndQuery::try_from(path) {
        Ok(p) => p,
        Err(e) => {
            problems.push(format!("{}: {e}", method.full_name()));
            return;
        }
    };
    let rpc = Arc::new(Rpc {
        method: method.clone(),
        path,
        input: method.input(),
        output: method.output(),
        upstream: service_name_of(service.package_name()).into(),
        no_store: carries_credentials(&method.output(), &mut Vec::new()),
    });
    let mut pending = vec![rule];
    // Additional bindings may not nest further (http.proto), so one level is walked.
    pending.extend(rule.additional_bindings.iter());
    for (index, binding) in pending.into_iter().enumerate() {
        match compile_binding(&rpc, binding, index) {
            Ok(route) => {
                let duplicate = routes.iter().any(|r| {
                    r.method == route.method
                        && r.template.segments == route.template.segments
                        && r.template.verb == route.template.verb
                });
                if duplicate {
                    problems.push(format!(
                        "{}: {} {} is already bound by another method",
                        method.full_name(),
                        route.method,
                        route.pattern
                    ));
                } else {
                    routes.push(route);
                }
            }
            Err(e) => problems.push(format!("{}: {e}", method.full_name())),
        }
    }
}

fn compile_binding(rpc: &Arc<Rpc>, rule: &HttpRule, index: usize) -> Result<Route, String> {
    let (method, pattern) = match &rule.pattern {
        Some(http_rule::Pattern::Get(p)) => (Method::GET, p.clone()),
        Some(http_rule::Pattern::Put(p)) => (Method::PUT, p.clone()),
        Some(http_rule::Pattern::Post(p)) => (Method::POST, p.clone()),
        Some(http_rule::Pattern::Delete(p)) => (Method::DELETE, p.clone()),
        Some(http_rule::Pattern::Patch(p)) => (Method::PATCH, p.clone()),
        Some(http_rule::Pattern::Custom(c)) => {
            let method = Method::from_bytes(c.kind.as_bytes())
                .map_err(|_| format!("invalid custom method kind {:?}", c.kind))?;
            (method, c.path.clone())
        }
        None => return Err("binding without a pattern".to_string()),
    };
    let template = PathTemplate::parse(&pattern).map_err(|e| e.to_string())?;
    let mut bindings = Vec::with_capacity(template.variables.len());
    for variable in &template.variables {
        let fields = resolve_path(&rpc.input, &variable.field_path)?;
        let leaf = fields.last().ok_or_else(|| "empty variable".to_string())?;
        if leaf.is_list() || leaf.is_map() || !text::supports_text(&leaf.kind()) {
            return Err(format!(
                "path variable {} must be a singular scalar field",
                variable.dotted()
            ));
        }
        let to_end = variable.end == template.segments.len() && template.ends_with_rest();
        bindings.push(PathBinding {
            fields,
            name: variable.dotted(),
            start: variable.start,
            end: (!to_end).then_some(variable.end),
            multi: to_end || variable.end - variable.start > 1,
        });
    }
    let body =
        match rule.body.as_str() {
            "" => BodyRule::None,
            "*" => BodyRule::Whole,
            name => BodyRule::Field(rpc.input.get_field_by_name(name).ok_or_else(|| {
                format!("body field {name:?} is not in {}", rpc.input.full_name())
            })?),
        };
    let response_body = match rule.response_body.as_str() {
        "" => None,
        name => Some(rpc.output.get_field_by_name(name).ok_or_else(|| {
            format!(
                "response_body field {name:?} is not in {}",
                rpc.output.full_name()
            )
        })?),
    };
    let entity = entity_version(&rpc.output, response_body.as_ref());
    let precondition = ["expected_version", "etag"].into_iter().find_map(|name| {
        let field = rpc.input.get_field_by_name(name)?;
        let kind = field.kind();
        let fits = matches!(
            (name, kind),
            ("expected_version", Kind::Int64) | ("etag", Kind::String)
        );
        let bound = template.variables.iter().any(|v| v.dotted() == name);
        (fits && !field.is_list() && !bound).then_some(field)
    });
    Ok(Route {
        label: format!("{method} {pattern}"),
        entity,
        precondition,
        reader: None,
        recorder: std::sync::OnceLock::new(),
        method,
        pattern,
        template,
        bindings,
        body,
        response_body,
        rpc: rpc.clone(),
        binding_index: index,
    })
}

/// The `version` (int64) or `etag` (string) field of the resource a reply renders, if any.
fn entity_version(
    output: &MessageDescriptor,
    response_body: Option<&FieldDescriptor>,
) -> Option<EntityVersion> {
    let (container, resource) = match response_body {
        Some(field) => match field.kind() {
            Kind::Message(m) if !field.is_list() && !field.is_map() => (Some(field.clone()), m),
            _ => return None,
        },
        None => (None, output.clone()),
    };
    let field = ["version", "etag"].into_iter().find_map(|name| {
        let field = resource.get_field_by_name(name)?;
        let fits = matches!(
            (name, field.kind()),
            ("version", Kind::Int64) | ("etag", Kind::String)
        );
        (fits && !field.is_list()).then_some(field)
    })?;
    Some(EntityVersion { container, field })
}

/// Links every `PUT`, `PATCH` and `DELETE` route to the `GET` route of the same path, if any.
fn link_readers(routes: &mut [Route]) {
    for i in 0..routes.len() {
        if !matches!(
            routes[i].method,
            Method::PUT | Method::PATCH | Method::DELETE
        ) {
            continue;
        }
        routes[i].reader = routes.iter().position(|r| {
            r.method == Method::GET
                && r.template.segments == routes[i].template.segments
                && r.template.verb == routes[i].template.verb
        });
    }
}

/// Resolves a dotted proto field path; every step but the last must be a singular message.
pub fn resolve_path(
    message: &MessageDescriptor,
    names: &[String],
) -> Result<Vec<FieldDescriptor>, String> {
    let mut fields = Vec::with_capacity(names.len());
    let mut current = message.clone();
    for (i, name) in names.iter().enumerate() {
        let field = current
            .get_field_by_name(name)
            .ok_or_else(|| format!("field {name:?} is not in {}", current.full_name()))?;
        if i + 1 < names.len() {
            match field.kind() {
                Kind::Message(m) if !field.is_list() && !field.is_map() => current = m,
                _ => {
                    return Err(format!(
                        "field {name:?} of {} is not a singular message",
                        current.full_name()
                    ))
                }
            }
        }
        fields.push(field);
    }
    Ok(fields)
}
