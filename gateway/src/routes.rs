//! The compiled route table: every `google.api.http` binding of every unary method in a
//! descriptor pool, resolved once into what the hot path needs — the HTTP method, the segment
//! matchers, the request fields each path variable binds (as field descriptors, not names), the
//! body and response-body fields, and the gRPC path and message descriptors of the call.
//!
//! A binding that cannot be served (unknown field, streaming method, bad template) is skipped and
//! recorded in [`RouteTable::problems`], so one bad annotation in one service does not take the
//! whole gateway down when descriptors are refreshed at run time.

use std::sync::Arc;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::Method;
use prost_reflect::{
    DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, Value,
};
use talentmesh_proto::google::api::{http_rule, HttpRule};

use crate::router::{split_path, Node, PathSegment};
use crate::template::PathTemplate;
use crate::text;
use crate::upstream::service_name_of;

/// The full name of the method option the routes come from.
pub const HTTP_EXTENSION: &str = "google.api.http";

/// The gRPC side of a route, shared by all bindings of one method.
#[derive(Debug)]
pub struct Rpc {
    pub method: MethodDescriptor,
    /// `/package.Service/Method`, ready to hand to tonic.
    pub path: PathAndQuery,
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
    /// The upstream (Consul) service name.
    pub upstream: Arc<str>,
    /// The reply carries a credential (an access or refresh token): its response must not be
    /// stored by any cache (`Cache-Control: no-store`).
    pub no_store: bool,
}

/// A path variable resolved against the request message.
#[derive(Debug, Clone)]
pub struct PathBinding {
    /// From the request message down to the bound field.
    pub fields: Vec<FieldDescriptor>,
    /// Dotted proto field path, for errors and the query-parameter conflict check.
    pub name: String,
    pub start: usize,
    /// One past the last bound segment; `None` when the variable ends with `**`.
    pub end: Option<usize>,
    /// Spans more than one segment, so `%2F` stays encoded in the bound text.
    pub multi: bool,
}

/// Where the request message comes from besides the path.
#[derive(Debug, Clone)]
pub enum BodyRule {
    /// No body; non-path fields come from the query string.
    None,
    /// `body: "*"`: the whole request message is the body; no query parameters.
    Whole,
    /// `body: "field"`: that top-level field is the body; other fields from the query string.
    Field(FieldDescriptor),
}

/// One HTTP binding of one RPC.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// The template as written in the proto.
    pub pattern: String,
    pub template: PathTemplate,
    pub bindings: Vec<PathBinding>,
    pub body: BodyRule,
    pub response_body: Option<FieldDescriptor>,
    pub rpc: Arc<Rpc>,
    /// 0 for the main binding, n for the n-th additional binding.
    pub binding_index: usize,
    /// `METHOD /pattern`, the metrics label of the route (a bounded set, unlike raw paths).
    pub label: String,
    /// The route's metrics series, fetched on its first request.
    pub recorder: std::sync::OnceLock<talentmesh_mesh::metrics::HttpRoute>,
    /// Where the answer's entity tag comes from (see [`crate::conditional`]).
    pub entity: Option<EntityVersion>,
    /// The request field an `If-Match` sets: a top-level `expected_version` (int64) or `etag`
    /// (string) the path and body do not bind (AIP-154), so the service checks it atomically.
    pub precondition: Option<FieldDescriptor>,
    /// The index of the `GET` route on the same path, which reads the resource this route
    /// writes: an `If-Match` the contract has no field for is checked against its answer.
    pub reader: Option<usize>,
}

/// The version of the resource a route answers with: an int64 `version` or a string `etag`
/// field of the rendered message (the `response_body` message, or the whole reply).
#[derive(Debug, Clone)]
pub struct EntityVersion {
    /// The `response_body` field holding the resource; `None` when the reply is the resource.
    pub container: Option<FieldDescriptor>,
    pub field: FieldDescriptor,
}

impl Route {
    /// Whether the dotted proto path `name` is bound by this route's path template.
    pub fn binds(&self, name: &str) -> bool {
        self.bindings.iter().any(|b| b.name == name)
    }
}

/// The outcome of looking a request up.
#[derive(Debug)]
pub enum RouteMatch<'t, 'p> {
    Found {
        route: &'t Route,
        /// The request segments with the verb (if any) removed from the last one.
        segments: Vec<PathSegment<'p>>,
    },
    /// The path exists with other methods; the methods that would be accepted.
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

/// All routes of one descriptor pool, ready for lookups.
#[derive(Debug)]
pub struct RouteTable {
    pool: DescriptorPool,
    routes: Vec<Route>,
    root: Node,
    upstreams: Vec<Arc<str>>,
    problems: Vec<String>,
    openapi: Bytes,
}

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
        let mut table = RouteTable {
            pool,
            routes,
            root,
            upstreams,
            problems,
            openapi: Bytes::new(),
        };
        table.openapi = crate::openapi::document(&table);
        table
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Bindings that were skipped, with the reason.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The distinct upstream service names the routes call.
    pub fn upstream_names(&self) -> &[Arc<str>] {
        &self.upstreams
    }

    /// The OpenAPI document of these routes, rendered once at compile time.
    pub fn openapi_json(&self) -> Bytes {
        self.openapi.clone()
    }

    /// Finds the route for `method` and `path`. `HEAD` finds the `GET` route (RFC 9110 §9.3.2:
    /// the same answer without its body), and `Allow` lists `HEAD` wherever it lists `GET`.
    pub fn find<'p>(&self, method: &Method, path: &'p str) -> RouteMatch<'_, 'p> {
        let Some(segments) = split_path(path) else {
            return RouteMatch::NotFound;
        };
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let mut candidates = self.interpretations(segments);
        for i in 0..candidates.len() {
            let (segments, verb) = &candidates[i];
            let mut found = None;
            self.root.walk(segments, &mut |r| {
                let route = &self.routes[r];
                let hit = route.method == *method && route.template.verb.as_deref() == *verb;
                if hit {
                    found = Some(r);
                }
                hit
            });
            if let Some(r) = found {
                let (segments, _) = candidates.swap_remove(i);
                return RouteMatch::Found {
                    route: &self.routes[r],
                    segments,
                };
            }
        }
        let mut allowed: Vec<Method> = Vec::new();
        for (segments, verb) in &candidates {
            self.root.walk(segments, &mut |r| {
                let route = &self.routes[r];
                if route.template.verb.as_deref() == *verb && !allowed.contains(&route.method) {
                    allowed.push(route.method.clone());
                }
                false
            });
        }
        if allowed.contains(&Method::GET) {
            allowed.push(Method::HEAD);
        }
        if allowed.is_empty() {
            RouteMatch::NotFound
        } else {
            allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            RouteMatch::MethodNotAllowed(allowed)
        }
    }

    /// The ways to read a path. A last segment with a `:verb` (a letter, then letters and
    /// digits, as AIP-136 custom methods are named) is a custom method call and is read only
    /// that way: an unknown verb is a 404, never a plain resource path whose id happens to end
    /// in `:something`. Any other last segment is read as plain segments (a literal colon in an
    /// id can be sent as `%3A`).
    fn interpretations<'p>(
        &self,
        segments: Vec<PathSegment<'p>>,
    ) -> Vec<(Vec<PathSegment<'p>>, Option<&'p str>)> {
        if let Some(last) = segments.last() {
            if let Some((head, verb)) = last.raw.rsplit_once(':') {
                if is_verb(verb) {
                    let mut with_verb = segments.clone();
                    let n = with_verb.len() - 1;
                    with_verb[n] = PathSegment::new(head);
                    return vec![(with_verb, Some(verb))];
                }
            }
        }
        vec![(segments, None)]
    }
}

/// Whether `text` has the shape of a custom method's verb: `[A-Za-z][A-Za-z0-9]*`.
fn is_verb(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric())
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::compile(
            crate::descriptors::compiled_in().unwrap(),
            &crate::config::mesh_services(),
        )
    }

    fn found(table: &RouteTable, method: Method, path: &str) -> String {
        match table.find(&method, path) {
            RouteMatch::Found { route, .. } => route.rpc.method.name().to_string(),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn every_compiled_in_annotation_compiles() {
        let table = table();
        assert!(table.problems().is_empty(), "{:?}", table.problems());
        assert!(table.routes().len() >= 8);
        assert_eq!(
            table.upstream_names(),
            [
                Arc::<str>::from("company"),
                Arc::<str>::from("identity"),
                Arc::<str>::from("job"),
                Arc::<str>::from("resume"),
                Arc::<str>::from("matching"),
                Arc::<str>::from("sync")
            ]
        );
    }

    #[test]
    fn finds_identity_routes_by_precedence_verb_and_binding() {
        let table = table();
        assert_eq!(found(&table, Method::GET, "/v1/users/me"), "GetCurrentUser");
        assert_eq!(found(&table, Method::GET, "/v1/users/42"), "GetUser");
        assert_eq!(
            found(&table, Method::POST, "/v1/users:register"),
            "Register"
        );
        assert_eq!(
            found(&table, Method::GET, "/.well-known/jwks.json"),
            "ListPublicKeys"
        );
        assert_eq!(
            found(&table, Method::GET, "/v1/publicKeys"),
            "ListPublicKeys"
        );
        assert!(matches!(
            table.find(&Method::DELETE, "/v1/users/42"),
            RouteMatch::MethodNotAllowed(m) if m == [Method::GET, Method::HEAD]
        ));
        // HEAD is the GET route without its body.
        assert_eq!(found(&table, Method::HEAD, "/v1/users/42"), "GetUser");
        assert!(matches!(
            table.find(&Method::GET, "/v1/users"),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            table.find(&Method::GET, "/v1/users/"),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            table.find(&Method::GET, "v1/users/me"),
            RouteMatch::NotFound
        ));
    }

    #[test]
    fn an_unknown_custom_verb_is_not_read_as_a_resource_id() {
        let table = table();
        assert!(matches!(
            table.find(&Method::GET, "/v1/resumes/abc:noSuchVerb"),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            table.find(&Method::GET, "/v1/users/42:x1"),
            RouteMatch::NotFound
        ));
        // A known verb with the wrong method is still a 405, not a lookup of `users:register`.
        assert!(matches!(
            table.find(&Method::GET, "/v1/users:register"),
            RouteMatch::MethodNotAllowed(m) if m == [Method::POST]
        ));
        // A colon that is part of an id is sent escaped.
        assert_eq!(found(&table, Method::GET, "/v1/users/a%3Ab"), "GetUser");
    }

    #[test]
    fn allow_lists_only_the_methods_of_a_custom_method_path() {
        let table = table();
        // A custom method answers with the one method it has; the resource path's GET, PATCH
        // and DELETE are not offered on `:network`.
        assert!(matches!(
            table.find(&Method::PATCH, "/v1/companies/c1:network"),
            RouteMatch::MethodNotAllowed(m) if m == [Method::GET, Method::HEAD]
        ));
        assert!(matches!(
            table.find(&Method::GET, "/v1/companies/c1:submitVerification"),
            RouteMatch::MethodNotAllowed(m) if m == [Method::POST]
        ));
        assert!(matches!(
            table.find(&Method::POST, "/v1/companies/c1"),
            RouteMatch::MethodNotAllowed(m)
                if m == [Method::DELETE, Method::GET, Method::HEAD, Method::PATCH]
        ));
    }

    #[test]
    fn writes_know_their_reader_version_and_precondition() {
        let table = table();
        let route = |method: Method, path| match table.find(&method, path) {
            RouteMatch::Found { route, .. } => route,
            other => panic!("{path}: {other:?}"),
        };
        let update = route(Method::PATCH, "/v1/companies/c1");
        assert_eq!(
            update.precondition.as_ref().map(|f| f.name()),
            Some("expected_version")
        );
        let reader = &table.routes()[update.reader.expect("a reader")];
        assert_eq!(reader.rpc.method.name(), "GetCompany");
        let version = update.entity.as_ref().expect("a versioned company");
        assert_eq!(version.field.name(), "version");
        assert_eq!(
            version.container.as_ref().map(|f| f.name()),
            Some("company")
        );
        // Delete has no version field: If-Match is checked against the GET.
        let delete = route(Method::DELETE, "/v1/companies/c1");
        assert!(delete.precondition.is_none());
        assert_eq!(delete.reader, update.reader);
        // A user has no version: its tag is a digest.
        assert!(route(Method::GET, "/v1/users/42").entity.is_none());
    }

    #[test]
    fn only_exposed_services_get_routes() {
        let pool = crate::descriptors::compiled_in().unwrap();
        let table = RouteTable::compile(pool, &["identity".to_string()]);
        assert_eq!(table.upstream_names(), [Arc::<str>::from("identity")]);
        assert!(matches!(
            table.find(&Method::GET, "/v1/jobs:search"),
            RouteMatch::NotFound
        ));
    }

    #[test]
    fn replies_carrying_tokens_are_marked_no_store() {
        let table = table();
        let route = |method, path| match table.find(&method, path) {
            RouteMatch::Found { route, .. } => route.rpc.no_store,
            other => panic!("{path}: {other:?}"),
        };
        assert!(route(Method::POST, "/v1/sessions:login"));
        assert!(route(Method::POST, "/v1/sessions:refresh"));
        assert!(!route(Method::GET, "/v1/users/me"));
        // A page token is not a credential.
        assert!(!route(Method::GET, "/v1/companies"));
    }
}
