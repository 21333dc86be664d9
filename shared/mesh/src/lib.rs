//! The service runtime every talentmesh binary starts through: typed config, the gRPC server with
//! health, reflection and metrics, Consul registration and discovery, bearer-token auth,
//! telemetry, graceful shutdown, and the one error-code table shared with the gateway.

pub mod auth;
pub mod config;
pub mod consul;
pub mod discovery;
pub mod error;
pub mod metrics;
pub mod retry;
pub mod server;
pub mod telemetry;
pub mod time;
pub mod upstream;

pub use auth::{caller, CallContext, Caller, MissingCaller};
pub use config::{Env, MeshConfig, Secret};
pub use discovery::{Discovery, MeshChannel};
pub use error::{ApiError, ErrorCode, FieldViolation};
pub use upstream::UpstreamError;
