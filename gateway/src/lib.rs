//! The REST-to-gRPC gateway of talentmesh.
//!
//! Routes are not written by hand: they are compiled at run time from the `google.api.http`
//! annotations in a protobuf descriptor pool (the compiled-in set of every talentmesh proto, and
//! whatever running services publish through gRPC reflection). Adding an annotated RPC to a proto
//! exposes it over REST, and the OpenAPI document is generated from the same descriptors.
//!
//! Flow of a request, module by module:
//!
//! - [`workers`]: the binary serves on worker threads, each a single-threaded runtime that is
//!   handed whole connections and keeps its own upstream connections.
//! - [`conn`]: each connection is served by hyper within bounds: a header read timeout, an idle
//!   timeout, HTTP/2 keep-alive and stream limits, a cap on open connections, and JSON bodies on
//!   the errors hyper answers itself.
//! - `access_log`: around everything, the request's server span (continuing the client's trace
//!   context, passed on in its place) and one access log line per request.
//! - [`server`]: axum serves `/healthz`, `/readyz`, `/openapi.json`; every other path goes to
//!   the proxy.
//! - [`routes`] / [`router`] / [`template`]: the current [`RouteTable`] (compiled from the pool,
//!   swapped atomically on refresh) finds the binding — literal segments beat variables, a wrong
//!   method is 405 with `Allow`, an unknown path 404; but while routes that may match are still
//!   loading ([`loading`]), 503 with `Retry-After` instead of either.
//! - [`request`] / [`json`] / [`text`]: path variables, query parameters and the JSON body become
//!   the request `DynamicMessage`; malformed input is a 400 naming the field.
//! - [`proxy`] / [`codec`] / [`metadata`] / [`upstream`]: the message goes to the service's
//!   channel (from an [`Upstreams`]) as a unary call with the deadline, auth, request id and trace
//!   context; the reply becomes JSON.
//! - [`conditional`]: `ETag` on answers, `If-None-Match` (304) on reads, `If-Match` (412) on
//!   writes; `HEAD` is served by the `GET` route.
//! - [`layers`]: gzip when the client accepts it, CORS for the configured origins.
//! - [`status`]: every error, the gateway's or the service's, is a `google.rpc.Status` in JSON
//!   with the HTTP status of the shared error table.
//! - [`reflection`] / [`descriptors`]: [`Gateway::refresh_from_reflection`] pulls a service's
//!   current descriptors and rebuilds the routes without a restart; [`consul`] does it whenever
//!   a service's instances change.
//!
//! JSON follows the proto3 mapping: lowerCamelCase names on output, both names accepted on
//! input, unknown fields rejected. Unpopulated scalar, enum, repeated and map fields are emitted
//! with their default values (configurable with [`GatewayConfig::emit_unpopulated`]), so every
//! response of a method has the same shape; unset message fields are omitted (see [`json`]).

mod access_log;
pub mod codec;
pub mod conditional;
pub mod config;
pub mod conn;
pub mod consul;
pub mod descriptors;
pub mod error;
pub mod gateway;
pub mod json;
pub mod layers;
pub mod loading;
pub mod metadata;
pub mod openapi;
mod proxy;
pub mod reflection;
pub mod request;
pub mod router;
pub mod routes;
pub mod server;
pub mod status;
pub mod template;
pub mod text;
pub mod upstream;
pub mod workers;

pub use codec::DynamicCodec;
pub use config::GatewayConfig;
pub use error::{Error, Result};
pub use gateway::{Gateway, RefreshReport};
pub use routes::{Route, RouteTable};
pub use server::serve;
pub use upstream::{StaticUpstreams, Upstreams};
pub use workers::serve_workers;
