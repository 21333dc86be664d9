//! The gateway's own failures: loading descriptors, refreshing them from a service's reflection
//! endpoint, reading config, serving. Per-request failures are not here: they become HTTP
//! responses with a `google.rpc.Status` body (see `status`), never Rust errors.

/// What can go wrong outside a single request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid descriptors: {0}")]
    Descriptors(String),
    #[error("no upstream channel is known for service {0}")]
    NoUpstream(String),
    #[error("service {0} is not exposed by the gateway (TALENTMESH_GATEWAY_SERVICES)")]
    NotExposed(String),
    #[error("reflection of service {service} failed: {message}")]
    Reflection { service: String, message: String },
    #[error("invalid config {key}: {message}")]
    Config { key: String, message: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<prost_reflect::DescriptorError> for Error {
    fn from(err: prost_reflect::DescriptorError) -> Self {
        Error::Descriptors(err.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
