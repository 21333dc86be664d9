//! The gRPC adapter: requests to service calls (checking only the shape of fields) and domain
//! results back to proto (`convert`). Errors become statuses through `From<Error> for Status`.

pub mod convert;

use std::sync::Arc;

use talentmesh_mesh::CallContext;
use talentmesh_proto::matching::v1 as pb;
use tonic::{Request, Response, Status};

use crate::error::{Error, Result};
use crate::events;
use crate::service::jobs::JobFilter;
use crate::service::Matching;

type Reply<T> = std::result::Result<Response<T>, Status>;

/// `talentmesh.matching.v1.MatchingService` over the service layer.
pub struct MatchingGrpc {
    pub matching: Arc<Matching>,
}

/// A city filter: empty, or six digits.
fn city(field: &str, code: &str) -> Result<Option<String>> {
    match code {
        "" => Ok(None),
        c if c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(c.to_string())),
        _ => Err(Error::invalid(
            field,
            "a six-digit division code (GB/T 2260)",
        )),
    }
}

/// A salary asked for: 0 (none) or a positive monthly amount.
fn salary(field: &str, value: i32) -> Result<Option<u32>> {
    match value {
        0 => Ok(None),
        v if v > 0 => Ok(u32::try_from(v).ok()),
        _ => Err(Error::invalid(
            field,
            "a monthly salary in CNY, not negative",
        )),
    }
}

/// A recruit type asked for: unspecified (any) or a known one.
fn recruit(field: &str, value: i32) -> Result<Option<crate::domain::RecruitType>> {
    if value == 0 {
        return Ok(None);
    }
    events::recruit_type(value)
        .map(Some)
        .ok_or_else(|| Error::invalid(field, "unknown recruit type"))
}

#[tonic::async_trait]
impl pb::matching_service_server::MatchingService for MatchingGrpc {
    #[tracing::instrument(skip_all, fields(rpc = "RecommendJobs"))]
    async fn recommend_jobs(
        &self,
        request: Request<pb::RecommendJobsRequest>,
    ) -> Reply<pb::RecommendJobsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let filter = JobFilter {
            city_code: city("city_code", &req.city_code)?,
            salary_min: salary("salary_min", req.salary_min)?,
            recruit_type: recruit("recruit_type", req.recruit_type)?,
        };
        let matches = self
            .matching
            .recommend_jobs(&ctx, &req.resume, filter, req.page_size)
            .await?;
        Ok(Response::new(pb::RecommendJobsResponse {
            matches: matches.iter().map(convert::job_match).collect(),
            embedder: self.matching.embedder_name(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RankCandidates"))]
    async fn rank_candidates(
        &self,
        request: Request<pb::RankCandidatesRequest>,
    ) -> Reply<pb::RankCandidatesResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let matches = self
            .matching
            .rank_candidates(&ctx, &req.job, req.applied_only, req.page_size)
            .await?;
        Ok(Response::new(pb::RankCandidatesResponse {
            matches: matches.iter().map(convert::candidate_match).collect(),
            embedder: self.matching.embedder_name(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RecommendCompanies"))]
    async fn recommend_companies(
        &self,
        request: Request<pb::RecommendCompaniesRequest>,
    ) -> Reply<pb::RecommendCompaniesResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let matches = self
            .matching
            .recommend_companies(&ctx, &req.resume, req.page_size)
            .await?;
        Ok(Response::new(pb::RecommendCompaniesResponse {
            matches: matches.iter().map(convert::company_match).collect(),
            embedder: self.matching.embedder_name(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListSimilarJobs"))]
    async fn list_similar_jobs(
        &self,
        request: Request<pb::ListSimilarJobsRequest>,
    ) -> Reply<pb::ListSimilarJobsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let matches = self
            .matching
            .similar_jobs(&ctx, &req.job, req.page_size)
            .await?;
        Ok(Response::new(pb::ListSimilarJobsResponse {
            matches: matches.iter().map(convert::job_match).collect(),
            embedder: self.matching.embedder_name(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "MatchJob"))]
    async fn match_job(
        &self,
        request: Request<pb::MatchJobRequest>,
    ) -> Reply<pb::MatchJobResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let prefs = crate::domain::Preferences {
            salary_min: salary("salary_min", req.salary_min)?,
            city_code: None,
            recruit_type: recruit("recruit_type", req.recruit_type)?,
        };
        let (pair, score) = self
            .matching
            .match_job(&ctx, &req.resume, &req.job, prefs)
            .await?;
        Ok(Response::new(pb::MatchJobResponse {
            r#match: Some(pb::JobMatch {
                job: Some(convert::job_summary(&pair.job)),
                score: Some(convert::score(&score)),
            }),
            candidate: Some(convert::candidate_summary(&pair.candidate.profile, false)),
            embedder: self.matching.embedder_name(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "AnalyzeResume"))]
    async fn analyze_resume(
        &self,
        request: Request<pb::AnalyzeResumeRequest>,
    ) -> Reply<pb::AnalyzeResumeResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let (pair, analysis) = self
            .matching
            .analyze_resume(&ctx, &req.resume, &req.job)
            .await?;
        Ok(Response::new(convert::analysis(&pair, &analysis)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "AnalyzeJob"))]
    async fn analyze_job(
        &self,
        request: Request<pb::AnalyzeJobRequest>,
    ) -> Reply<pb::AnalyzeJobResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let analysis = self.matching.analyze_job(&ctx, &req.job).await?;
        Ok(Response::new(pb::AnalyzeJobResponse {
            job: Some(convert::job_summary(&analysis.job)),
            skills: analysis.skills.clone(),
            fairness_flags: analysis.flags.iter().map(convert::flag).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "TuneWeights"))]
    async fn tune_weights(
        &self,
        request: Request<pb::TuneWeightsRequest>,
    ) -> Reply<pb::TuneWeightsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let t = self.matching.tune_weights(&ctx, req.apply).await?;
        Ok(Response::new(pb::TuneWeightsResponse {
            current_ndcg: t.current_ndcg,
            tuned_ndcg: t.tuned_ndcg,
            tuned: Some(convert::weights(&t.tuned, "tuned", t.samples as i64)),
            training_queries: i32::try_from(t.training_queries).unwrap_or(i32::MAX),
            held_back_queries: i32::try_from(t.held_back_queries).unwrap_or(i32::MAX),
            applied: t.applied,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetWeights"))]
    async fn get_weights(
        &self,
        request: Request<pb::GetWeightsRequest>,
    ) -> Reply<pb::GetWeightsResponse> {
        let ctx = CallContext::of(&request);
        let w = self.matching.weights(&ctx)?;
        Ok(Response::new(pb::GetWeightsResponse {
            weights: Some(convert::weights(&w.weights, &w.origin, w.samples)),
        }))
    }
}
