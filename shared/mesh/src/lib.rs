//! The service runtime every talentmesh binary starts through: typed config, the gRPC server with
//! health, reflection and metrics, Consul registration and discovery, bearer-token auth,
//! telemetry, graceful shutdown, and the one error-code table shared with the gateway.
//!
//! Module map:
//! - [`config`]: `Env` (variables from a map, every problem named at once), `MeshConfig`, `Secret`.
//! - [`server`]: `Launch` (listeners, shutdown, test overrides) and `serve`: health per served
//!   service, reflection of exactly those, the trace/metrics/auth layers, Consul registration,
//!   the shutdown sequence. Services reach it through the service kit (`shared/kit`).
//! - [`auth`]: token verification (`Verifier`, identity's JWKS), the auth layer and policy, the
//!   caller (`Caller`) and the context the service layers take (`CallContext`).
//! - [`consul`] / [`discovery`]: the Consul HTTP client (with the ACL token) and `MeshChannel`s
//!   balanced over the healthy instances a blocking watch keeps current.
//! - [`connect`]: Connect-native mutual TLS (`TALENTMESH_MESH_TLS=connect`): leaf certificates
//!   and roots from the agent, SPIFFE identities checked both ways, intentions per call.
//! - [`error`]: the error-code table (gRPC code, HTTP status), `ApiError` with `google.rpc`
//!   details; [`upstream`]: `UpstreamError`, the one mapping of a peer's failure.
//! - [`metrics`]: the Prometheus registries, the `grpc_server_*` / `grpc_client_*` layers, the
//!   gateway's HTTP histogram, process metrics and build info, served with grpc.health.v1 (h2c)
//!   on the metrics port; [`build_info`]: version and git revision; [`descriptors`]: per-port
//!   reflection sets and the RPC kinds; [`telemetry`]: logs and OTLP traces, W3C trace context.
//! - [`limits`]: the one message size limit (`TALENTMESH_GRPC_MAX_MESSAGE`) on servers and
//!   mesh channels, refused with RESOURCE_EXHAUSTED where first seen.
//! - [`retry`]: the one backoff policy (backon); [`time`]: protobuf timestamps to and from chrono.

pub mod auth;
pub mod build_info;
pub mod config;
pub mod connect;
pub mod consul;
pub mod descriptors;
pub mod discovery;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod retry;
pub mod server;
pub mod telemetry;
pub mod time;
pub mod upstream;

pub use auth::{caller, CallContext, Caller, MissingCaller};
pub use config::{Env, MeshConfig, Secret};
pub use discovery::{Discovery, MeshChannel};
pub use error::{ApiError, ErrorCode, FieldViolation, PreconditionViolation};
pub use upstream::UpstreamError;
