//! `talentmesh.job.v1.JobService` over [`Jobs`].

use std::sync::Arc;

use talentmesh_mesh::CallContext;
use talentmesh_proto::job::v1 as pb;
use talentmesh_storage::idempotency::Idempotency;
use tonic::{Request, Response};

use super::wire::{job_fields, job_name_of, job_to_pb};
use super::Reply;
use crate::domain::job::JobUpdate;
use crate::domain::search::SearchRequest;
use crate::domain::{Job, JobState};
use crate::service::{Jobs, ListJobs};

/// The job service's gRPC face.
pub struct JobGrpc {
    /// The service layer.
    pub jobs: Arc<Jobs>,
    /// AIP-155 request ids of CreateJob.
    pub idempotency: Idempotency,
}

#[tonic::async_trait]
impl pb::job_service_server::JobService for JobGrpc {
    #[tracing::instrument(skip_all, fields(rpc = "CreateJob"))]
    async fn create_job(
        &self,
        request: Request<pb::CreateJobRequest>,
    ) -> Reply<pb::CreateJobResponse> {
        let ctx = &CallContext::of(&request);
        let req = request.into_inner();
        let job = self
            .idempotency
            .once(
                ctx.caller.as_ref().map(|c| c.user_id.as_str()),
                "CreateJob",
                &req.request_id,
                || self.jobs.create(ctx, &req.parent, req.job.map(job_fields)),
                |job: &Job| job_name_of(&job.company_id, &job.id),
                |name| async move { self.jobs.get(ctx, &name).await },
            )
            .await?;
        Ok(Response::new(pb::CreateJobResponse {
            job: Some(job_to_pb(&job)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetJob"))]
    async fn get_job(&self, request: Request<pb::GetJobRequest>) -> Reply<pb::GetJobResponse> {
        let ctx = CallContext::of(&request);
        let job = self.jobs.get(&ctx, &request.into_inner().name).await?;
        Ok(Response::new(pb::GetJobResponse {
            job: Some(job_to_pb(&job)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListJobs"))]
    async fn list_jobs(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> Reply<pb::ListJobsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let (jobs, next_page_token) = self
            .jobs
            .list(
                &ctx,
                ListJobs {
                    parent: req.parent,
                    state: req.state,
                    page_size: req.page_size,
                    page_token: req.page_token,
                },
            )
            .await?;
        Ok(Response::new(pb::ListJobsResponse {
            jobs: jobs.iter().map(job_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "UpdateJob"))]
    async fn update_job(
        &self,
        request: Request<pb::UpdateJobRequest>,
    ) -> Reply<pb::UpdateJobResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let update = req.job.map(|job| JobUpdate {
            name: job.name.clone(),
            patch: job_fields(job),
            paths,
            expected_version: req.expected_version,
        });
        let job = self.jobs.update(&ctx, update).await?;
        Ok(Response::new(pb::UpdateJobResponse {
            job: Some(job_to_pb(&job)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "PublishJob"))]
    async fn publish_job(
        &self,
        request: Request<pb::PublishJobRequest>,
    ) -> Reply<pb::PublishJobResponse> {
        let ctx = CallContext::of(&request);
        let job = self
            .jobs
            .move_to(&ctx, &request.into_inner().name, JobState::Published)
            .await?;
        Ok(Response::new(pb::PublishJobResponse {
            job: Some(job_to_pb(&job)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "CloseJob"))]
    async fn close_job(
        &self,
        request: Request<pb::CloseJobRequest>,
    ) -> Reply<pb::CloseJobResponse> {
        let ctx = CallContext::of(&request);
        let job = self
            .jobs
            .move_to(&ctx, &request.into_inner().name, JobState::Closed)
            .await?;
        Ok(Response::new(pb::CloseJobResponse {
            job: Some(job_to_pb(&job)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ReopenJob"))]
    async fn reopen_job(
        &self,
        request: Request<pb::ReopenJobRequest>,
    ) -> Reply<pb::ReopenJobResponse> {
        let ctx = CallContext::of(&request);
        let job = self
            .jobs
            .move_to(&ctx, &request.into_inner().name, JobState::Published)
            .await?;
        Ok(Response::new(pb::ReopenJobResponse {
            job: Some(job_to_pb(&job)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "SearchJobs"))]
    async fn search_jobs(
        &self,
        request: Request<pb::SearchJobsRequest>,
    ) -> Reply<pb::SearchJobsResponse> {
        let r = request.into_inner();
        let (jobs, next_page_token) = self
            .jobs
            .search(SearchRequest {
                query: r.query,
                city_code: r.city_code,
                skill: r.skill,
                salary_min: r.salary_min,
                salary_max: r.salary_max,
                recruit_type: r.recruit_type,
                company: r.company,
                order_by: r.order_by,
                page_size: r.page_size,
                page_token: r.page_token,
            })
            .await?;
        Ok(Response::new(pb::SearchJobsResponse {
            jobs: jobs.iter().map(job_to_pb).collect(),
            next_page_token,
        }))
    }
}
