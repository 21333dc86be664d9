//! The gRPC adapter.

use std::sync::Arc;

use talentmesh_mesh::auth::{bearer_token, caller};
use talentmesh_proto::resume::v1 as pb;
use tonic::{Request, Response, Status};

use crate::portable;
use crate::service::{Ctx, Resumes};

fn ctx<T>(req: &Request<T>) -> Result<Ctx, Status> {
    Ok(Ctx {
        caller: caller(req)?.clone(),
        bearer: bearer_token(req),
    })
}

type Reply<T> = Result<Response<T>, Status>;

pub struct ResumeGrpc {
    pub resumes: Arc<Resumes>,
}

#[tonic::async_trait]
impl pb::resume_service_server::ResumeService for ResumeGrpc {
    async fn create_resume(
        &self,
        request: Request<pb::CreateResumeRequest>,
    ) -> Reply<pb::CreateResumeResponse> {
        let ctx = ctx(&request)?;
        let resume = self
            .resumes
            .create(&ctx, request.into_inner().resume)
            .await?;
        Ok(Response::new(pb::CreateResumeResponse {
            resume: Some(resume),
        }))
    }

    async fn get_resume(
        &self,
        request: Request<pb::GetResumeRequest>,
    ) -> Reply<pb::GetResumeResponse> {
        let ctx = ctx(&request)?;
        let req = request.into_inner();
        let resume = self.resumes.get(&ctx, &req.name, &req.as_company).await?;
        Ok(Response::new(pb::GetResumeResponse {
            resume: Some(resume),
        }))
    }

    async fn list_resumes(
        &self,
        request: Request<pb::ListResumesRequest>,
    ) -> Reply<pb::ListResumesResponse> {
        let ctx = ctx(&request)?;
        let req = request.into_inner();
        let (resumes, next_page_token) = self
            .resumes
            .list(&ctx, req.page_size, &req.page_token)
            .await?;
        Ok(Response::new(pb::ListResumesResponse {
            resumes,
            next_page_token,
        }))
    }

    async fn update_resume(
        &self,
        request: Request<pb::UpdateResumeRequest>,
    ) -> Reply<pb::UpdateResumeResponse> {
        let ctx = ctx(&request)?;
        let resume = self.resumes.update(&ctx, request.into_inner()).await?;
        Ok(Response::new(pb::UpdateResumeResponse {
            resume: Some(resume),
        }))
    }

    async fn delete_resume(
        &self,
        request: Request<pb::DeleteResumeRequest>,
    ) -> Reply<pb::DeleteResumeResponse> {
        let ctx = ctx(&request)?;
        self.resumes
            .delete(&ctx, &request.into_inner().name)
            .await?;
        Ok(Response::new(pb::DeleteResumeResponse {}))
    }

    async fn list_resume_versions(
        &self,
        request: Request<pb::ListResumeVersionsRequest>,
    ) -> Reply<pb::ListResumeVersionsResponse> {
        let ctx = ctx(&request)?;
        let versions = self
            .resumes
            .versions(&ctx, &request.into_inner().name)
            .await?;
        Ok(Response::new(pb::ListResumeVersionsResponse { versions }))
    }

    async fn restore_resume_version(
        &self,
        request: Request<pb::RestoreResumeVersionRequest>,
    ) -> Reply<pb::RestoreResumeVersionResponse> {
        let ctx = ctx(&request)?;
        let req = request.into_inner();
        let resume = self.resumes.restore(&ctx, &req.name, req.version).await?;
        Ok(Response::new(pb::RestoreResumeVersionResponse {
            resume: Some(resume),
        }))
    }

    async fn export_resumes(
        &self,
        request: Request<pb::ExportResumesRequest>,
    ) -> Reply<pb::ExportResumesResponse> {
        let ctx = ctx(&request)?;
        let all = self.resumes.export(&ctx).await?;
        Ok(Response::new(pb::ExportResumesResponse {
            document: portable::export(&all)?,
        }))
    }

    async fn import_resumes(
        &self,
        request: Request<pb::ImportResumesRequest>,
    ) -> Reply<pb::ImportResumesResponse> {
        let ctx = ctx(&request)?;
        let parsed = portable::import(&request.into_inner().document)?;
        let resumes = self.resumes.import(&ctx, parsed).await?;
        Ok(Response::new(pb::ImportResumesResponse { resumes }))
    }
}
