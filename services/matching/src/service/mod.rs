//! The logic of the matching service, over domain types: who may ask what, which documents
//! are candidates (the vector index), and how each is scored (the domain).
//!
//! - `jobs` — jobs for a resume, companies for a resume, similar jobs;
//! - `candidates` — candidates for a job;
//! - `explain` — one pair explained and analysed; a job's analysis;
//! - `weights` — the component weights in use and their tuning from feedback.

pub mod candidates;
pub mod explain;
pub mod jobs;
pub mod weights;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use prost::Message;
use talentmesh_authz::{Freshness, PermissionClient};
use talentmesh_embed::{AnyEmbedder, EmbedRole, Embedder};
use talentmesh_mesh::{CallContext, Caller};
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::job::v1 as jpb;
use talentmesh_proto::matching::v1 as pb;
use talentmesh_proto::resume::v1 as rpb;

use crate::domain::{self, CandidateProfile, JobProfile, RelatedSkills, Weights};
use crate::error::{Error, Result};
use crate::events;
use crate::store::{Documents, Index, Stored};

/// The permission a company member needs to rank and read candidates for its jobs.
pub const RANK_PERMISSION: &str = "application.read";
/// The permission a company member needs to see a job's analysis.
pub const JOB_ANALYSIS_PERMISSION: &str = "job.write";
/// The most results a ranking returns.
pub const MAX_RESULTS: i64 = 100;
/// How many nearest neighbours are re-scored for each result asked for (the vector search
/// finds candidates by meaning; the full score reorders them).
pub const CANDIDATES_PER_RESULT: usize = 5;
/// The fewest nearest neighbours re-scored, however few results are asked for.
pub const MIN_CANDIDATES: usize = 100;

/// The matching service.
pub struct Matching {
    pub docs: Documents,
    pub index: Arc<Index>,
    pub embedder: AnyEmbedder,
    pub authz: PermissionClient,
    /// Related skills learned from co-occurrence (replaced when learned again).
    pub related: Arc<RwLock<Arc<RelatedSkills>>>,
    /// The weights in use (replaced when tuned).
    pub weights: Arc<RwLock<WeightsInUse>>,
    /// How the embedder's cosines map to the semantic component's 0..1.
    pub calibration: Calibration,
    /// Query vectors by (document, version): a document searching again is not embedded
    /// again. Emptied when full (a simple bound, not an LRU).
    pub queries: Mutex<HashMap<(String, i64), Vec<f32>>>,
}

/// The cosine band of an embedder: `floor`, a typical unrelated pair, scores 0; `ceiling`, a
/// typical good match, scores 1 (`domain::rescale_cosine`). Models differ widely: E5's
/// cosines sit between about 0.83 (another role) and 0.92 (the right job) on average, the
/// built-in hashing embedder's between about 0.05 and 0.42.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub floor: f32,
    pub ceiling: f32,
}

impl Calibration {
    /// The semantic value of a cosine: a logistic curve through 0.05 at the floor, 0.5 midway
    /// and 0.95 at the ceiling. Strictly increasing, so two cosines never become one value (a
    /// clipped linear map gave every pair above the ceiling 1, and those ties hid the best
    /// match in the evaluation, `tests/eval/RESULTS.md`).
    pub fn value(self, cosine: f32) -> f32 {
        let width = (self.ceiling - self.floor).max(f32::EPSILON);
        let mid = (self.floor + self.ceiling) / 2.0;
        // ln(19) on each side of the midpoint maps the band onto 0.05..0.95.
        let steepness = 2.0 * 19f32.ln() / width;
        1.0 / (1.0 + (-steepness * (cosine - mid)).exp())
    }
}

/// The most query vectors kept (about 1.5 KiB each at 384 dimensions).
pub const QUERY_CACHE: usize = 10_000;

/// The component weights in use and where they came from.
#[derive(Debug, Clone)]
pub struct WeightsInUse {
    pub weights: Weights,
    pub origin: String,
    pub samples: i64,
}

impl Default for WeightsInUse {
    fn default() -> Self {
        WeightsInUse {
            weights: Weights::default(),
            origin: "default".into(),
            samples: 0,
        }
    }
}

/// The verified caller.
fn caller(ctx: &CallContext) -> Result<&Caller> {
    ctx.caller.as_ref().ok_or(Error::Unauthenticated)
}

/// A resume as a scorer reads it, at a version.
#[derive(Debug, Clone)]
pub struct CandidateAt {
    pub profile: CandidateProfile,
    /// The embedded vector of this version, when known.
    pub vector: Option<Vec<f32>>,
}

/// A job as a scorer reads it.
#[derive(Debug, Clone)]
pub struct JobAt {
    pub profile: JobProfile,
    pub vector: Option<Vec<f32>>,
}

impl Matching {
    pub fn related(&self) -> Arc<RelatedSkills> {
        self.related
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn weights_in_use(&self) -> WeightsInUse {
        self.weights
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The embedder's name, for answers.
    pub fn embedder_name(&self) -> String {
        self.embedder.name().to_string()
    }

    /// The passage vector of a stored document: the index's, else its text embedded now (a
    /// document written a moment ago and not yet projected).
    async fn passage_of(&self, name: &str, text: &str) -> Result<Vec<f32>> {
        if let Some(v) = self.index.vector(name) {
            return Ok(v);
        }
        self.embed(text, EmbedRole::Passage).await
    }

    /// The query vector of a document at a version (the side that searches), from the cache
    /// or embedded now; when the model server fails, the document's indexed passage vector.
    async fn query_of(&self, name: &str, version: i64, text: &str) -> Result<Vec<f32>> {
        let key = (name.to_string(), version);
        if let Some(v) = self
            .queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(v.clone());
        }
        let v = match self.embed(text, EmbedRole::Query).await {
            Ok(v) => v,
            // The model server is down: the document's indexed passage vector still finds
            // what is near it (a little less precisely), so matching keeps answering.
            Err(e) => match self.index.vector(name) {
                Some(passage) => {
                    tracing::warn!(error = %e, document = name, "query embedding failed; searching with the stored passage vector");
                    return Ok(passage);
                }
                None => return Err(e),
            },
        };
        let mut cache = self.queries.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= QUERY_CACHE {
            cache.clear();
        }
        cache.insert(key, v.clone());
        Ok(v)
    }

    async fn embed(&self, text: &str, role: EmbedRole) -> Result<Vec<f32>> {
        let mut v = self.embedder.embed(role, &[text.to_string()]).await?;
        v.pop()
            .ok_or_else(|| Error::Internal("the embedder answered no vector".into()))
    }

    /// The live resume `name` with its document.
    async fn resume(&self, name: &str) -> Result<(Stored, rpb::Resume)> {
        let stored = self
            .docs
            .get(name)
            .await?
            .ok_or(Error::NotFound("resume"))?;
        let resume = rpb::Resume::decode(stored.source.as_slice())
            .map_err(|e| Error::Internal(format!("stored resume {name}: {e}")))?;
        Ok((stored, resume))
    }

    /// The live job `name` (published or not) with its profile, company name and office.
    async fn job(&self, name: &str) -> Result<(Stored, JobProfile)> {
        let stored = self.docs.get(name).await?.ok_or(Error::NotFound("job"))?;
        let mut jobs = self.job_profiles(vec![stored.clone()]).await?;
        let profile = jobs.pop().ok_or(Error::NotFound("job"))?;
        Ok((stored, profile))
    }

    /// Job profiles of stored jobs, with their companies' display names and office points.
    async fn job_profiles(&self, stored: Vec<Stored>) -> Result<Vec<JobProfile>> {
        let mut jobs = Vec::with_capacity(stored.len());
        for s in &stored {
            let job = jpb::Job::decode(s.source.as_slice())
                .map_err(|e| Error::Internal(format!("stored job {}: {e}", s.document.name)))?;
            jobs.push(job);
        }
        let mut company_ids: Vec<String> =
            stored.iter().map(|s| s.document.company.clone()).collect();
        company_ids.sort();
        company_ids.dedup();
        let companies: HashMap<String, cpb::CompanyState> =
            self.docs.companies(&company_ids).await?;
        Ok(jobs
            .iter()
            .map(|job| {
                let mut p = events::domain_job(job);
                let company = companies.get(&p.company);
                p.company_name = company
                    .map(|c| c.display_name.clone())
                    .filter(|n| !n.is_empty());
                p.location = events::office_point(job, company);
                p
            })
            .collect())
    }

    /// Whether the caller holds `permission` in `company` ("companies/{id}").
    async fn holds(&self, ctx: &CallContext, company: &str, permission: &str) -> Result<bool> {
        let caller = caller(ctx)?;
        let id = company.strip_prefix("companies/").unwrap_or(company);
        Ok(self
            .authz
            .allowed(
                &ctx.bearer,
                &caller.user_id,
                id,
                permission,
                Freshness::Cached,
            )
            .await?)
    }

    /// The resume as `company` may see it, with its passage vector: the newest version when
    /// public or shared with the company, else the newest version applied with to one of its
    /// jobs, else nothing.
    async fn resume_for_company(
        &self,
        stored: &Stored,
        resume: &rpb::Resume,
        company: &str,
        applied: Option<i64>,
    ) -> Result<Option<CandidateAt>> {
        if open_to(&stored.document, company) {
            let d = &stored.document;
            let vector = self.passage_of(&d.name, &d.text).await?;
            return Ok(Some(CandidateAt {
                profile: events::domain_candidate(resume),
                vector: Some(vector),
            }));
        }
        let Some(version) = applied else {
            return Ok(None);
        };
        self.resume_version(&stored.document.name, version).await
    }

    /// A resume at an older version (one applied with), embedded now.
    async fn resume_version(&self, name: &str, version: i64) -> Result<Option<CandidateAt>> {
        let Some(source) = self.docs.resume_version(name, version).await? else {
            return Ok(None);
        };
        let resume = rpb::Resume::decode(source.as_slice())
            .map_err(|e| Error::Internal(format!("stored resume {name}@{version}: {e}")))?;
        let profile = events::domain_candidate(&resume);
        let vector = self
            .embed(&domain::candidate_text(&profile), EmbedRole::Passage)
            .await?;
        Ok(Some(CandidateAt {
            profile,
            vector: Some(vector),
        }))
    }

    /// The score of one pair with the weights and related skills in use.
    fn score(
        &self,
        job: &JobProfile,
        job_vector: Option<&[f32]>,
        candidate: &CandidateAt,
        prefs: &domain::Preferences,
    ) -> domain::Match {
        let prepared = domain::Prepared::new(&candidate.profile);
        self.score_prepared(
            job,
            job_vector,
            &prepared,
            candidate.vector.as_deref(),
            prefs,
        )
    }

    /// [`Self::score`] of a candidate prepared once for many jobs.
    fn score_prepared(
        &self,
        job: &JobProfile,
        job_vector: Option<&[f32]>,
        candidate: &domain::Prepared<'_>,
        candidate_vector: Option<&[f32]>,
        prefs: &domain::Preferences,
    ) -> domain::Match {
        let semantic = match (job_vector, candidate_vector) {
            (Some(a), Some(b)) => Some(self.calibration.value(talentmesh_embed::cosine(a, b))),
            _ => None,
        };
        domain::score_prepared(
            job,
            candidate,
            semantic,
            &self.related(),
            prefs,
            &self.weights_in_use().weights,
        )
    }
}

/// Whether a resume document is open to `company` ("companies/{id}"): public, or shared with it.
pub fn open_to(resume: &pb::MatchDocument, company: &str) -> bool {
    match rpb::Visibility::try_from(resume.visibility) {
        Ok(rpb::Visibility::Public) => true,
        Ok(rpb::Visibility::Shared) => resume.shared_with.iter().any(|c| c == company),
        _ => false,
    }
}

/// The owner check: only the resume's owner asks for its matches (a platform admin too: a
/// candidate's matches are theirs). Any other caller is told the resume does not exist, as the
/// resume service tells them.
fn owns(caller: &Caller, resume: &pb::MatchDocument) -> bool {
    resume.owner == format!("users/{}", caller.user_id)
}

/// A request's page size: 0 → `default`, 1 to `max`, else a violation.
fn page_size(asked: i32, default: i64, max: i64) -> Result<usize> {
    let n = talentmesh_storage::paging::page_size(asked, default, max)?;
    Ok(usize::try_from(n).unwrap_or(20))
}

/// How many nearest neighbours to re-score for `n` results.
fn neighbours(n: usize) -> usize {
    (n * CANDIDATES_PER_RESULT).max(MIN_CANDIDATES)
}

/// Checks a resume name ("resumes/{id}").
fn resume_name(field: &str, name: &str) -> Result<()> {
    if !events::is_resume_name(name) {
        return Err(Error::invalid(field, "must be resumes/{resume}"));
    }
    Ok(())
}

/// Checks a job name ("companies/{company}/jobs/{job}").
fn job_name(field: &str, name: &str) -> Result<()> {
    if !events::is_job_name(name) {
        return Err(Error::invalid(
            field,
            "must be companies/{company}/jobs/{job}",
        ));
    }
    Ok(())
}

/// Sorts matches best first (ties by name, so answers are stable).
fn rank<T>(items: &mut [(T, domain::Match)], name: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| {
        b.1.score
            .total_cmp(&a.1.score)
            .then_with(|| name(&a.0).cmp(name(&b.0)))
    });
}
