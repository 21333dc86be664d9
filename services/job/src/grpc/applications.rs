//! `talentmesh.job.v1.ApplicationService` over [`Jobs`].

use std::sync::Arc;

use talentmesh_mesh::CallContext;
use talentmesh_proto::job::v1 as pb;
use talentmesh_storage::idempotency::Idempotency;
use tonic::{Request, Response};

use super::wire::{application_to_pb, interview_request};
use super::Reply;
use crate::domain::Application;
use crate::service::{ApplicationRequest, Jobs, ListApplications};

/// The application service's gRPC face.
pub struct ApplicationGrpc {
    /// The service layer.
    pub jobs: Arc<Jobs>,
    /// AIP-155 request ids of CreateApplication.
    pub idempotency: Idempotency,
}

#[tonic::async_trait]
impl pb::application_service_server::ApplicationService for ApplicationGrpc {
    #[tracing::instrument(skip_all, fields(rpc = "CreateApplication"))]
    async fn create_application(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Reply<pb::CreateApplicationResponse> {
        let ctx = &CallContext::of(&request);
        let req = request.into_inner();
        let application = req
            .application
            .map(|a| ApplicationRequest { resume: a.resume });
        let app = self
            .idempotency
            .once(
                ctx.caller.as_ref().map(|c| c.user_id.as_str()),
                "CreateApplication",
                &req.request_id,
                || self.jobs.apply(ctx, &req.parent, application),
                |app: &Application| application_to_pb(app).name,
                |name| async move { self.jobs.get_application(ctx, &name).await },
            )
            .await?;
        Ok(Response::new(pb::CreateApplicationResponse {
            application: Some(application_to_pb(&app)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetApplication"))]
    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Reply<pb::GetApplicationResponse> {
        let ctx = CallContext::of(&request);
        let app = self
            .jobs
            .get_application(&ctx, &request.into_inner().name)
            .await?;
        Ok(Response::new(pb::GetApplicationResponse {
            application: Some(application_to_pb(&app)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListApplications"))]
    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Reply<pb::ListApplicationsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let (apps, next_page_token) = self
            .jobs
            .list_applications(
                &ctx,
                &ListApplications {
                    parent: req.parent,
                    stage: req.stage,
                    page_size: req.page_size,
                    page_token: req.page_token,
                },
            )
            .await?;
        Ok(Response::new(pb::ListApplicationsResponse {
            applications: apps.iter().map(application_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListMyApplications"))]
    async fn list_my_applications(
        &self,
        request: Request<pb::ListMyApplicationsRequest>,
    ) -> Reply<pb::ListMyApplicationsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let (apps, next_page_token) = self
            .jobs
            .my_applications(&ctx, req.page_size, &req.page_token)
            .await?;
        Ok(Response::new(pb::ListMyApplicationsResponse {
            applications: apps.iter().map(application_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "MoveApplication"))]
    async fn move_application(
        &self,
        request: Request<pb::MoveApplicationRequest>,
    ) -> Reply<pb::MoveApplicationResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let app = self
            .jobs
            .move_application(&ctx, &req.name, req.stage, &req.reason)
            .await?;
        Ok(Response::new(pb::MoveApplicationResponse {
            application: Some(application_to_pb(&app)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "WithdrawApplication"))]
    async fn withdraw_application(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Reply<pb::WithdrawApplicationResponse> {
        let ctx = CallContext::of(&request);
        let app = self.jobs.withdraw(&ctx, &request.into_inner().name).await?;
        Ok(Response::new(pb::WithdrawApplicationResponse {
            application: Some(application_to_pb(&app)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ScheduleInterview"))]
    async fn schedule_interview(
        &self,
        request: Request<pb::ScheduleInterviewRequest>,
    ) -> Reply<pb::ScheduleInterviewResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let app = self
            .jobs
            .schedule(&ctx, &req.name, req.interview.map(interview_request))
            .await?;
        Ok(Response::new(pb::ScheduleInterviewResponse {
            application: Some(application_to_pb(&app)),
        }))
    }
}
