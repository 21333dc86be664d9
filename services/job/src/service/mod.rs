//! The job service's logic: who may do what (asked of the company service), the domain's
//! rules applied to requests, and the store calls that write jobs and applications with their
//! events. Takes and returns domain types and the crate [`Result`]; `grpc` adapts.
//!
//! - [`jobs`] — create, read, list, change, publish/close/reopen, search.
//! - [`applications`] — apply, read, list, move through the pipeline, withdraw, interviews.
//! - [`peers`] — the company and resume services' calls.

pub mod applications;
pub mod jobs;
pub mod peers;

use talentmesh_authz::{Decision, Freshness, PermissionClient};
use talentmesh_mesh::{CallContext, Caller};

use crate::error::{Error, Result};
use crate::store::{ApplicationStore, HotJobs, JobCache, JobStore, SearchIndex};

pub use applications::{ApplicationRequest, ListApplications};
pub use jobs::ListJobs;
pub use peers::{Companies, Resumes};

/// The job service: jobs and their applications.
pub struct Jobs {
    /// Jobs in MySQL.
    pub store: JobStore,
    /// Applications in MySQL.
    pub applications: ApplicationStore,
    /// The public search index.
    pub index: SearchIndex,
    /// Published jobs in Redis, for public reads.
    pub cache: JobCache,
    /// Published jobs served a moment ago, in front of `cache`.
    pub hot: HotJobs,
    /// Members' permissions, asked of the company service.
    pub authz: PermissionClient,
    /// Offices, asked of the company service.
    pub companies: Companies,
    /// The resume service: an application's resume must be the candidate's own.
    pub resumes: Resumes,
}

/// The caller, or [`Error::Unauthenticated`] for a request without a verified token.
fn caller(ctx: &CallContext) -> Result<&Caller> {
    ctx.caller.as_ref().ok_or(Error::Unauthenticated)
}

impl Jobs {
    /// Whether the caller holds `permission` in `company` (asked of the company service with
    /// the caller's token).
    async fn holds(
        &self,
        ctx: &CallContext,
        company: &str,
        permission: &str,
        freshness: Freshness,
    ) -> Result<Decision> {
        let caller = caller(ctx)?;
        Ok(self
            .authz
            .check(&ctx.bearer, &caller.user_id, company, permission, freshness)
            .await?)
    }
}
