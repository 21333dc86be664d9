//! The gRPC adapter: proto requests to domain calls (names to ids, messages to content, the
//! paging fields), the service layer, and domain results back to proto (`convert`; the export
//! document in `portable`). Errors become statuses through `From<Error> for Status`
//! (`error.rs`). No rules, SQL or permission logic live here.

pub mod convert;
pub mod portable;

use std::sync::Arc;

use talentmesh_mesh::CallContext;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_storage::idempotency::Idempotency;
use talentmesh_storage::paging::{page_size, Pages};
use tonic::{Request, Response, Status};

use crate::domain::{Resume, ResumeId};
use crate::error::Error;
use crate::service::Resumes;
use convert::{content_from_pb, resume_to_pb, version_to_pb};

type Reply<T> = Result<Response<T>, Status>;

/// `ListResumes` pages: 20 unless asked, at most 100.
const PAGE: (i64, i64) = (20, 100);

/// `ListResumeVersions` pages: 20 unless asked, at most 100 (and cut to the message limit).
const VERSION_PAGE: (i64, i64) = (20, 100);

/// `ExportResumes` pages: 100 resumes unless asked (as many as an import takes), at most 100
/// (and cut to the import and message limits).
const EXPORT_PAGE: (i64, i64) = (100, 100);

/// Room left in a page of large documents for the response's own fields, in bytes.
const PAGE_ENVELOPE: usize = 64 * 1024;

/// `talentmesh.resume.v1.ResumeService` over the service layer.
pub struct ResumeGrpc {
    /// The service the RPCs call.
    pub resumes: Arc<Resumes>,
    /// The mesh's message size limit (`TALENTMESH_GRPC_MAX_MESSAGE`): pages of resumes,
    /// versions and exports are cut to fit it.
    pub max_message: usize,
    /// AIP-155 request ids of CreateResume.
    pub idempotency: Idempotency,
}

impl ResumeGrpc {
    /// The encoded bytes a page of documents may fill.
    fn page_budget(&self) -> usize {
        self.max_message.saturating_sub(PAGE_ENVELOPE)
    }
}

/// The resume id in `name`, or INVALID_ARGUMENT on `field`.
fn id(field: &str, name: &str) -> Result<ResumeId, Error> {
    Ok(ResumeId::from_name(field, name)?)
}

#[tonic::async_trait]
impl pb::resume_service_server::ResumeService for ResumeGrpc {
    #[tracing::instrument(skip_all, fields(rpc = "CreateResume"))]
    async fn create_resume(
        &self,
        request: Request<pb::CreateResumeRequest>,
    ) -> Reply<pb::CreateResumeResponse> {
        let ctx = &CallContext::of(&request);
        let req = request.into_inner();
        let content = req.resume.map(content_from_pb);
        let resume = self
            .idempotency
            .once(
                ctx.caller.as_ref().map(|c| c.user_id.as_str()),
                "CreateResume",
                &req.request_id,
                || self.resumes.create(ctx, content),
                |resume: &Resume| resume.id.name(),
                |name| async move { self.resumes.get(ctx, &id("name", &name)?, "").await },
            )
            .await?;
        Ok(Response::new(pb::CreateResumeResponse {
            resume: Some(resume_to_pb(&resume)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetResume"))]
    async fn get_resume(
        &self,
        request: Request<pb::GetResumeRequest>,
    ) -> Reply<pb::GetResumeResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let id = id("name", &req.name)?;
        let resume = self.resumes.get(&ctx, &id, &req.as_company).await?;
        Ok(Response::new(pb::GetResumeResponse {
            resume: Some(resume_to_pb(&resume)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListResumes"))]
    async fn list_resumes(
        &self,
        request: Request<pb::ListResumesRequest>,
    ) -> Reply<pb::ListResumesResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let limit = page_size(req.page_size, PAGE.0, PAGE.1).map_err(Error::from)?;
        let (resumes, next_page_token) = self
            .resumes
            .list(&ctx, limit, &req.page_token, self.page_budget())
            .await?;
        Ok(Response::new(pb::ListResumesResponse {
            resumes: resumes.iter().map(resume_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "UpdateResume"))]
    async fn update_resume(
        &self,
        request: Request<pb::UpdateResumeRequest>,
    ) -> Reply<pb::UpdateResumeResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let resume = req
            .resume
            .ok_or_else(|| Error::invalid("resume", "is required"))?;
        let id = id("resume.name", &resume.name)?;
        let saved = self
            .resumes
            .update(&ctx, &id, content_from_pb(resume), req.expected_version)
            .await?;
        Ok(Response::new(pb::UpdateResumeResponse {
            resume: Some(resume_to_pb(&saved)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "DeleteResume"))]
    async fn delete_resume(
        &self,
        request: Request<pb::DeleteResumeRequest>,
    ) -> Reply<pb::DeleteResumeResponse> {
        let ctx = CallContext::of(&request);
        let id = id("name", &request.into_inner().name)?;
        self.resumes.delete(&ctx, &id).await?;
        Ok(Response::new(pb::DeleteResumeResponse {}))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListResumeVersions"))]
    async fn list_resume_versions(
        &self,
        request: Request<pb::ListResumeVersionsRequest>,
    ) -> Reply<pb::ListResumeVersionsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let id = id("name", &req.name)?;
        let limit =
            page_size(req.page_size, VERSION_PAGE.0, VERSION_PAGE.1).map_err(Error::from)?;
        // Tokens are bound to the resume: one from another resume's history is refused.
        let pages = Pages::of("resume.versions").bind(id.as_str());
        let before: Option<i64> = pages.parse(&req.page_token).map_err(Error::from)?;
        let (versions, more) = self
            .resumes
            .versions(&ctx, &id, before, limit, self.page_budget())
            .await?;
        let next_page_token = match versions.last() {
            Some(last) if more => pages.token(&last.version),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListResumeVersionsResponse {
            versions: versions.iter().map(version_to_pb).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RestoreResumeVersion"))]
    async fn restore_resume_version(
        &self,
        request: Request<pb::RestoreResumeVersionRequest>,
    ) -> Reply<pb::RestoreResumeVersionResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let id = id("name", &req.name)?;
        let resume = self.resumes.restore(&ctx, &id, req.version).await?;
        Ok(Response::new(pb::RestoreResumeVersionResponse {
            resume: Some(resume_to_pb(&resume)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ExportResumes"))]
    async fn export_resumes(
        &self,
        request: Request<pb::ExportResumesRequest>,
    ) -> Reply<pb::ExportResumesResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let limit = page_size(req.page_size, EXPORT_PAGE.0, EXPORT_PAGE.1).map_err(Error::from)?;
        // Each page imports on its own and fits in a message.
        let budget = self.page_budget().min(portable::MAX_DOCUMENT);
        let mut page = portable::Page::new(budget)?;
        let next_page_token = self
            .resumes
            .export(&ctx, limit, &req.page_token, budget, |versions| {
                page.push(&versions.iter().map(resume_to_pb).collect::<Vec<_>>())
            })
            .await?;
        Ok(Response::new(pb::ExportResumesResponse {
            document: page.finish(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ImportResumes"))]
    async fn import_resumes(
        &self,
        request: Request<pb::ImportResumesRequest>,
    ) -> Reply<pb::ImportResumesResponse> {
        let ctx = CallContext::of(&request);
        let parsed = portable::import(&request.into_inner().document)?;
        let contents = parsed
            .into_iter()
            .map(|versions| versions.into_iter().map(content_from_pb).collect())
            .collect();
        let resumes = self.resumes.import(&ctx, contents).await?;
        Ok(Response::new(pb::ImportResumesResponse {
            resumes: resumes.iter().map(resume_to_pb).collect(),
        }))
    }
}
