//! The compiled route table: every `google.api.http` binding of every unary method in a
//! descriptor pool, resolved once into what the hot path needs — the HTTP method, the segment
//! matchers, the request fields each path variable binds (as field descriptors, not names), the
//! body and response-body fields, and the gRPC path and message descriptors of the call.
//!
//! A binding that cannot be served (unknown field, streaming method, bad template) is skipped and
//! recorded in [`RouteTable::problems`], so one bad annotation in one service does not take the
//! whole gateway down when descriptors are refreshed at run time.
//!
//! Modules: this one holds the compiled shapes ([`Route`], [`Rpc`], [`RouteTable`]); `compile`
//! turns annotations into routes ([`RouteTable::compile`]); `lookup` finds a request's route
//! ([`RouteTable::find`]) and a loading service's paths ([`RouteTable::may_route_to`]); `tests`
//! checks them against the compiled-in contracts.

mod compile;
mod lookup;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::Method;
use prost_reflect::{DescriptorPool, FieldDescriptor, MessageDescriptor, MethodDescriptor};

pub use compile::resolve_path;

use crate::router::{Node, PathSegment};
use crate::template::PathTemplate;

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
    /// `(upstream, prefix)`: the leading literal segments of each route's template
    /// (`/v1/users` for `/v1/users/{user}`, empty when a template starts with a variable),
    /// distinct and sorted; see [`RouteTable::may_route_to`].
    prefixes: Vec<(Arc<str>, String)>,
    problems: Vec<String>,
    openapi: Bytes,
}

impl RouteTable {
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
}
