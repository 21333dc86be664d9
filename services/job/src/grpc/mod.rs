//! The gRPC adapter: the caller and its token in ([`CallContext::of`]), the request into
//! domain types ([`wire`]), a call of the service layer, domain types back into the response;
//! errors through `From<Error> for Status`. Nothing else lives here.
//!
//! - [`jobs`] — `talentmesh.job.v1.JobService`.
//! - [`applications`] — `talentmesh.job.v1.ApplicationService`.
//! - [`wire`] — the proto form of domain types (also the event payloads' and the cache's).
//!
//! [`CallContext::of`]: talentmesh_mesh::CallContext::of

pub mod applications;
pub mod jobs;
pub mod wire;

pub use applications::ApplicationGrpc;
pub use jobs::JobGrpc;

/// Methods callable without a token (a token, when sent, is still used).
pub const PUBLIC_METHODS: [&str; 3] = [
    "/talentmesh.job.v1.JobService/GetJob",
    "/talentmesh.job.v1.JobService/ListJobs",
    "/talentmesh.job.v1.JobService/SearchJobs",
];

/// A handler's answer.
type Reply<T> = Result<tonic::Response<T>, tonic::Status>;
