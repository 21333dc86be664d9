//! Jobs for a resume, companies for a resume, jobs like a job.

use std::collections::BTreeMap;

use talentmesh_mesh::CallContext;
use talentmesh_proto::matching::v1 as pb;

use super::{
    caller, job_name, neighbours, owns, page_size, rank, resume_name, CandidateAt, Matching,
};
use crate::domain::{self, JobProfile, Preferences};
use crate::error::{Error, Result};
use crate::events;

/// A job and its score.
#[derive(Debug, Clone)]
pub struct JobMatch {
    pub job: JobProfile,
    pub score: domain::Match,
}

/// A company and its best job for a resume.
#[derive(Debug, Clone)]
pub struct CompanyMatch {
    pub company: String,
    pub display_name: Option<String>,
    pub best: JobMatch,
    pub matching_jobs: usize,
}

/// What a candidate asks of the jobs recommended.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub city_code: Option<String>,
    /// Monthly CNY: jobs whose range ends below it are left out (and salary fit is scored).
    pub salary_min: Option<u32>,
    pub recruit_type: Option<domain::RecruitType>,
}

impl JobFilter {
    fn keeps(&self, d: &pb::MatchDocument) -> bool {
        d.published
            && self.city_code.as_ref().is_none_or(|c| &d.city_code == c)
            && self
                .salary_min
                .is_none_or(|s| d.salary_max == 0 || u32::try_from(d.salary_max).unwrap_or(0) >= s)
            && self
                .recruit_type
                .is_none_or(|r| events::recruit_type(d.recruit_type) == Some(r))
    }

    fn preferences(&self) -> Preferences {
        Preferences {
            salary_min: self.salary_min,
            city_code: self.city_code.clone(),
            recruit_type: self.recruit_type,
        }
    }
}

impl Matching {
    /// The resume's owner's resume as a scorer reads it.
    async fn own_resume(&self, ctx: &CallContext, resume: &str) -> Result<CandidateAt> {
        resume_name("resume", resume)?;
        let caller = caller(ctx)?;
        let (stored, source) = self.resume(resume).await?;
        if !owns(caller, &stored.document) {
            return Err(Error::NotFound("resume"));
        }
        let d = &stored.document;
        let vector = self.query_of(resume, d.version, &d.text).await?;
        Ok(CandidateAt {
            profile: events::domain_candidate(&source),
            vector: Some(vector),
        })
    }

    /// Scores the `k` jobs nearest to `candidate` that `filter` keeps, best first.
    async fn scored_jobs(
        &self,
        candidate: &CandidateAt,
        filter: &JobFilter,
        k: usize,
    ) -> Result<Vec<JobMatch>> {
        let query = candidate.vector.clone().unwrap_or_default();
        let found = self.index.search_jobs(&query, k, &|d| filter.keeps(d));
        let names: Vec<String> = found.iter().map(|f| f.document.name.clone()).collect();
        let mut stored = self.docs.load(&names).await?;
        // In index order; a job deleted or changed since it was indexed is re-checked here.
        let live: Vec<_> = names
            .iter()
            .filter_map(|n| stored.remove(n))
            .filter(|s| filter.keeps(&s.document))
            .collect();
        let jobs = self.job_profiles(live).await?;
        let prefs = filter.preferences();
        let prepared = domain::Prepared::new(&candidate.profile);
        let mut scored: Vec<(JobProfile, domain::Match)> = jobs
            .into_iter()
            .map(|job| {
                let v = self.index.vector(&job.name);
                let m = self.score_prepared(
                    &job,
                    v.as_deref(),
                    &prepared,
                    candidate.vector.as_deref(),
                    &prefs,
                );
                (job, m)
            })
            .collect();
        rank(&mut scored, |j| j.name.as_str());
        Ok(scored
            .into_iter()
            .map(|(job, score)| JobMatch { job, score })
            .collect())
    }

    /// Published jobs for the caller's resume, best first.
    pub async fn recommend_jobs(
        &self,
        ctx: &CallContext,
        resume: &str,
        filter: JobFilter,
        asked: i32,
    ) -> Result<Vec<JobMatch>> {
        let n = page_size(asked, 20, super::MAX_RESULTS)?;
        let candidate = self.own_resume(ctx, resume).await?;
        let mut jobs = self
            .scored_jobs(&candidate, &filter, super::neighbours(n))
            .await?;
        jobs.truncate(n);
        Ok(jobs)
    }

    /// Companies with published jobs for the caller's resume, by their best job.
    pub async fn recommend_companies(
        &self,
        ctx: &CallContext,
        resume: &str,
        asked: i32,
    ) -> Result<Vec<CompanyMatch>> {
        let n = page_size(asked, 10, 50)?;
        let candidate = self.own_resume(ctx, resume).await?;
        let jobs = self
            .scored_jobs(&candidate, &JobFilter::default(), neighbours(n * 4))
            .await?;
        let mut by_company: BTreeMap<String, CompanyMatch> = BTreeMap::new();
        for m in jobs {
            let entry = by_company
                .entry(m.job.company.clone())
                .or_insert_with(|| CompanyMatch {
                    company: m.job.company.clone(),
                    display_name: m.job.company_name.clone(),
                    best: m.clone(),
                    matching_jobs: 0,
                });
            entry.matching_jobs += 1;
            if m.score.score > entry.best.score.score {
                entry.best = m;
            }
        }
        let mut companies: Vec<CompanyMatch> = by_company.into_values().collect();
        companies.sort_by(|a, b| {
            b.best
                .score
                .score
                .total_cmp(&a.best.score.score)
                .then_with(|| a.company.cmp(&b.company))
        });
        companies.truncate(n);
        Ok(companies)
    }

    /// Other published jobs like the published job `job`, most similar first.
    pub async fn similar_jobs(
        &self,
        ctx: &CallContext,
        job: &str,
        asked: i32,
    ) -> Result<Vec<JobMatch>> {
        job_name("job", job)?;
        caller(ctx)?;
        let n = page_size(asked, 20, super::MAX_RESULTS)?;
        let (stored, profile) = self.job(job).await?;
        if !stored.document.published {
            return Err(Error::NotFound("job"));
        }
        let d = &stored.document;
        let query = self.query_of(job, d.version, &d.text).await?;
        let found = self
            .index
            .search_jobs(&query, neighbours(n), &|d| d.published && d.name != job);
        let names: Vec<String> = found.iter().map(|f| f.document.name.clone()).collect();
        let mut loaded = self.docs.load(&names).await?;
        let live: Vec<_> = names
            .iter()
            .filter_map(|n| loaded.remove(n))
            .filter(|s| s.document.published)
            .collect();
        let others = self.job_profiles(live).await?;
        let weights = self.weights_in_use().weights;
        let mut scored: Vec<(JobProfile, domain::Match)> = others
            .into_iter()
            .map(|other| {
                let semantic = self
                    .index
                    .vector(&other.name)
                    .map(|v| self.calibration.value(talentmesh_embed::cosine(&query, &v)));
                let m = domain::job_similarity(&profile, &other, semantic, &weights);
                (other, m)
            })
            .collect();
        rank(&mut scored, |j| j.name.as_str());
        scored.truncate(n);
        Ok(scored
            .into_iter()
            .map(|(job, score)| JobMatch { job, score })
            .collect())
    }
}
