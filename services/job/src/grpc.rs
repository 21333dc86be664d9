//! The gRPC adapter: the caller and its bearer token in, `Jobs` calls, responses out.

use std::sync::Arc;

use talentmesh_mesh::auth::{bearer_token, Caller};
use talentmesh_proto::job::v1 as pb;
use tonic::{Request, Response, Status};

use crate::service::{Ctx, Jobs};

/// Methods callable without a token (a token, when sent, is still used).
pub const PUBLIC_METHODS: [&str; 3] = [
    "/talentmesh.job.v1.JobService/GetJob",
    "/talentmesh.job.v1.JobService/ListJobs",
    "/talentmesh.job.v1.JobService/SearchJobs",
];

fn ctx<T>(req: &Request<T>) -> Ctx {
    Ctx {
        caller: req.extensions().get::<Caller>().cloned(),
        bearer: bearer_token(req),
    }
}

type Reply<T> = Result<Response<T>, Status>;

pub struct JobGrpc {
    pub jobs: Arc<Jobs>,
}

#[tonic::async_trait]
impl pb::job_service_server::JobService for JobGrpc {
    async fn create_job(
        &self,
        request: Request<pb::CreateJobRequest>,
    ) -> Reply<pb::CreateJobResponse> {
        let ctx = ctx(&request);
        let req = request.into_inner();
        let job = self.jobs.create(&ctx, &req.parent, req.job).await?;
        Ok(Response::new(pb::CreateJobResponse { job: Some(job) }))
    }

    async fn get_job(&self, request: Request<pb::GetJobRequest>) -> Reply<pb::GetJobResponse> {
        let ctx = ctx(&request);
        let job = self.jobs.get(&ctx, &request.into_inner().name).await?;
        Ok(Response::new(pb::GetJobResponse { job: Some(job) }))
    }

    async fn list_jobs(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> Reply<pb::ListJobsResponse> {
        let ctx = ctx(&request);
        let (jobs, next_page_token) = self.jobs.list(&ctx, request.into_inner()).await?;
        Ok(Response::new(pb::ListJobsResponse {
            jobs,
            next_page_token,
        }))
    }

    async fn update_job(
        &self,
        request: Request<pb::UpdateJobRequest>,
    ) -> Reply<pb::UpdateJobResponse> {
        let ctx = ctx(&request);
        let job = self.jobs.update(&ctx, request.into_inner()).await?;
        Ok(Response::new(pb::UpdateJobResponse { job: Some(job) }))
    }

    async fn publish_job(
        &self,
        request: Request<pb::PublishJobRequest>,
    ) -> Reply<pb::PublishJobResponse> {
        let ctx = ctx(&request);
        let job = self
            .jobs
            .move_to(&ctx, &request.into_inner().name, pb::JobState::Published)
            .await?;
        Ok(Response::new(pb::PublishJobResponse { job: Some(job) }))
    }

    async fn close_job(
        &self,
        request: Request<pb::CloseJobRequest>,
    ) -> Reply<pb::CloseJobResponse> {
        let ctx = ctx(&request);
        let job = self
            .jobs
            .move_to(&ctx, &request.into_inner().name, pb::JobState::Closed)
            .await?;
        Ok(Response::new(pb::CloseJobResponse { job: Some(job) }))
    }

    async fn reopen_job(
        &self,
        request: Request<pb::ReopenJobRequest>,
    ) -> Reply<pb::ReopenJobResponse> {
        let ctx = ctx(&request);
        let job = self
            .jobs
            .move_to(&ctx, &request.into_inner().name, pb::JobState::Published)
            .await?;
        Ok(Response::new(pb::ReopenJobResponse { job: Some(job) }))
    }

    async fn search_jobs(
        &self,
        request: Request<pb::SearchJobsRequest>,
    ) -> Reply<pb::SearchJobsResponse> {
        let (jobs, next_page_token) = self.jobs.search(request.into_inner()).await?;
        Ok(Response::new(pb::SearchJobsResponse {
            jobs,
            next_page_token,
        }))
    }
}

pub struct ApplicationGrpc {
    pub jobs: Arc<Jobs>,
}

#[tonic::async_trait]
impl pb::application_service_server::ApplicationService for ApplicationGrpc {
    async fn create_application(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Reply<pb::CreateApplicationResponse> {
        let ctx = ctx(&request);
        let req = request.into_inner();
        let application = self.jobs.apply(&ctx, &req.parent, req.application).await?;
        Ok(Response::new(pb::CreateApplicationResponse {
            application: Some(application),
        }))
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Reply<pb::GetApplicationResponse> {
        let ctx = ctx(&request);
        let application = self
            .jobs
            .get_application(&ctx, &request.into_inner().name)
            .await?;
        Ok(Response::new(pb::GetApplicationResponse {
            application: Some(application),
        }))
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Reply<pb::ListApplicationsResponse> {
        let ctx = ctx(&request);
        let req = request.into_inner();
        let (applications, next_page_token) = self.jobs.list_applications(&ctx, &req).await?;
        Ok(Response::new(pb::ListApplicationsResponse {
            applications,
            next_page_token,
        }))
    }

    async fn list_my_applications(
        &self,
        request: Request<pb::ListMyApplicationsRequest>,
    ) -> Reply<pb::ListMyApplicationsResponse> {
        let ctx = ctx(&request);
        let req = request.into_inner();
        let (applications, next_page_token) = self
            .jobs
            .my_applications(&ctx, req.page_size, &req.page_token)
            .await?;
        Ok(Response::new(pb::ListMyApplicationsResponse {
            applications,
            next_page_token,
        }))
    }

    async fn move_application(
        &self,
        request: Request<pb::MoveApplicationRequest>,
    ) -> Reply<pb::MoveApplicationResponse> {
        let ctx = ctx(&request);
        let req = request.into_inner();
        let application = self
            .jobs
            .move_application(&ctx, &req.name, req.stage, &req.reason)
            .await?;
        Ok(Response::new(pb::MoveApplicationResponse {
            application: Some(application),
        }))
    }

    async fn withdraw_application(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Reply<pb::WithdrawApplicationResponse> {
        let ctx = ctx(&request);
        let application = self.jobs.withdraw(&ctx, &request.into_inner().name).await?;
        Ok(Response::new(pb::WithdrawApplicationResponse {
            application: Some(application),
        }))
    }

    async fn schedule_interview(
        &self,
        request: Request<pb::ScheduleInterviewRequest>,
    ) -> Reply<pb::ScheduleInterviewResponse> {
        let ctx = ctx(&request);
        let req = request.into_inner();
        let application = self.jobs.schedule(&ctx, &req.name, req.interview).await?;
        Ok(Response::new(pb::ScheduleInterviewResponse {
            application: Some(application),
        }))
    }
}
