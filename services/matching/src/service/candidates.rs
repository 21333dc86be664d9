//! Candidates for a job: over the resumes its company may see, never a private one.

use std::collections::{HashMap, HashSet};

use prost::Message;
use talentmesh_mesh::CallContext;
use talentmesh_proto::resume::v1 as rpb;

use super::{job_name, neighbours, open_to, page_size, rank, Matching, RANK_PERMISSION};
use crate::domain::{self, Preferences};
use crate::error::{Error, Result};
use crate::events;

/// A candidate and their score for a job.
#[derive(Debug, Clone)]
pub struct CandidateMatch {
    pub candidate: domain::CandidateProfile,
    pub applied: bool,
    pub score: domain::Match,
}

impl Matching {
    /// The company members' check for `job`: holds [`RANK_PERMISSION`] in its company.
    async fn may_rank(&self, ctx: &CallContext, company: &str) -> Result<()> {
        if !self.holds(ctx, company, RANK_PERMISSION).await? {
            return Err(Error::PermissionDenied(
                "ranking candidates needs application.read in the job's company",
            ));
        }
        Ok(())
    }

    /// Candidates for `job`, best first: the nearest resumes open to its company, and everyone
    /// who applied to it (at the version they applied with when the resume is not open).
    pub async fn rank_candidates(
        &self,
        ctx: &CallContext,
        job: &str,
        applied_only: bool,
        asked: i32,
    ) -> Result<Vec<CandidateMatch>> {
        job_name("job", job)?;
        let n = page_size(asked, 20, super::MAX_RESULTS)?;
        let company = events::company_of(job);
        self.may_rank(ctx, &company).await?;
        let (stored, profile) = self.job(job).await?;
        let d = &stored.document;
        let job_vector = self.query_of(job, d.version, &d.text).await?;

        // Applicants to this job: newest version applied with (withdrawn ones included: the
        // company saw them).
        let mut applied: HashMap<String, i64> = HashMap::new();
        for a in self.docs.applications_to(job).await? {
            let v = applied.entry(a.resume).or_insert(a.resume_version);
            *v = (*v).max(a.resume_version);
        }
        // Other jobs' applicants are visible to the company too.
        let applicants_of_company = self.docs.applicants_of(&company).await?;

        let mut names: Vec<String> = applied.keys().cloned().collect();
        if !applied_only {
            let found = self.index.search_resumes(&job_vector, neighbours(n), &|d| {
                open_to(d, &company) || applicants_of_company.contains_key(&d.name)
            });
            names.extend(found.into_iter().map(|f| f.document.name.clone()));
        }
        let mut seen = HashSet::new();
        names.retain(|n| seen.insert(n.clone()));

        let stored_resumes = self.docs.load(&names).await?;
        let prefs = Preferences::default();
        let mut scored = Vec::with_capacity(names.len());
        for name in &names {
            let Some(s) = stored_resumes.get(name) else {
                continue;
            };
            let source = rpb::Resume::decode(s.source.as_slice())
                .map_err(|e| Error::Internal(format!("stored resume {name}: {e}")))?;
            let version = applied
                .get(name)
                .or_else(|| applicants_of_company.get(name))
                .copied();
            let Some(candidate) = self
                .resume_for_company(s, &source, &company, version)
                .await?
            else {
                continue;
            };
            let m = self.score(&profile, Some(&job_vector), &candidate, &prefs);
            scored.push((
                CandidateMatch {
                    candidate: candidate.profile,
                    applied: applied.contains_key(name),
                    score: m.clone(),
                },
                m,
            ));
        }
        rank(&mut scored, |c| c.candidate.name.as_str());
        Ok(scored.into_iter().take(n).map(|(c, _)| c).collect())
    }
}
