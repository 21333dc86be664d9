//! One pair explained (its score's components) and analysed (skills with their evidence,
//! gaps); a job's own analysis (skills, discriminating requirements).

use talentmesh_mesh::CallContext;

use super::{
    caller, job_name, owns, resume_name, CandidateAt, Matching, JOB_ANALYSIS_PERMISSION,
    RANK_PERMISSION,
};
use crate::domain::{self, JobProfile, Preferences};
use crate::error::{Error, Result};
use crate::events;

/// One resume against one job.
#[derive(Debug, Clone)]
pub struct Pair {
    pub job: JobProfile,
    pub job_vector: Vec<f32>,
    pub candidate: CandidateAt,
    /// The resume's version the caller may see.
    pub resume_version: i64,
}

/// A job's analysis.
#[derive(Debug, Clone)]
pub struct JobAnalysis {
    pub job: JobProfile,
    pub skills: Vec<String>,
    pub flags: Vec<domain::FairnessFlag>,
}

impl Matching {
    /// The pair as the caller may see it: the resume's owner with a published job, or a member
    /// of the job's company holding application.read with a resume open to the company or
    /// applied to one of its jobs.
    async fn pair(&self, ctx: &CallContext, resume: &str, job: &str) -> Result<Pair> {
        resume_name("resume", resume)?;
        job_name("job", job)?;
        let who = caller(ctx)?;
        let (stored_resume, source) = self.resume(resume).await?;
        let (stored_job, profile) = self.job(job).await?;
        if owns(who, &stored_resume.document) {
            // The candidate's side searches: the resume is the query, the job the passage.
            if !stored_job.document.published {
                return Err(Error::NotFound("job"));
            }
            let d = &stored_resume.document;
            let vector = self.query_of(resume, d.version, &d.text).await?;
            let job_vector = self.passage_of(job, &stored_job.document.text).await?;
            return Ok(Pair {
                job: profile,
                job_vector,
                resume_version: stored_resume.document.version,
                candidate: CandidateAt {
                    profile: events::domain_candidate(&source),
                    vector: Some(vector),
                },
            });
        }
        // The company's side searches: the job is the query, the resume the passage. Anyone
        // else (another candidate, a member without the permission) is told the resume does
        // not exist, whether it does or not.
        let company = profile.company.clone();
        if !self.holds(ctx, &company, RANK_PERMISSION).await? {
            return Err(Error::NotFound("resume"));
        }
        let d = &stored_job.document;
        let job_vector = self.query_of(job, d.version, &d.text).await?;
        let applied = self
            .docs
            .applicants_of(&company)
            .await?
            .get(resume)
            .copied();
        let candidate = self
            .resume_for_company(&stored_resume, &source, &company, applied)
            .await?
            .ok_or(Error::NotFound("resume"))?;
        Ok(Pair {
            job: profile,
            job_vector,
            resume_version: candidate.profile.version,
            candidate,
        })
    }

    /// The scored match of `resume` with `job`, every component explained.
    pub async fn match_job(
        &self,
        ctx: &CallContext,
        resume: &str,
        job: &str,
        prefs: Preferences,
    ) -> Result<(Pair, domain::Match)> {
        let pair = self.pair(ctx, resume, job).await?;
        let m = self.score(&pair.job, Some(&pair.job_vector), &pair.candidate, &prefs);
        Ok((pair, m))
    }

    /// `resume` analysed against `job`.
    pub async fn analyze_resume(
        &self,
        ctx: &CallContext,
        resume: &str,
        job: &str,
    ) -> Result<(Pair, domain::Analysis)> {
        let pair = self.pair(ctx, resume, job).await?;
        let analysis = domain::analyse(&pair.job, &pair.candidate.profile, &self.related());
        Ok((pair, analysis))
    }

    /// The analysis of `job` for a member of its company holding job.write.
    pub async fn analyze_job(&self, ctx: &CallContext, job: &str) -> Result<JobAnalysis> {
        job_name("job", job)?;
        let company = events::company_of(job);
        if !self.holds(ctx, &company, JOB_ANALYSIS_PERMISSION).await? {
            return Err(Error::PermissionDenied(
                "a job's analysis needs job.write in its company",
            ));
        }
        let (_, profile) = self.job(job).await?;
        let flags = domain::job_flags(&profile);
        let skills = job_skills(&profile);
        Ok(JobAnalysis {
            job: profile,
            skills,
            flags,
        })
    }
}

/// The canonical skills a job asks for: required, then preferred, then those only its text
/// mentions, each once.
pub fn job_skills(job: &JobProfile) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let text = format!("{}\n{}", job.title, job.description);
    let listed = job.required_skills.iter().chain(&job.preferred_skills);
    for skill in listed
        .map(|s| talentmesh_embed::skills::canonical(s))
        .chain(talentmesh_embed::skills::extract(&text))
    {
        if !skill.is_empty() && !out.contains(&skill) {
            out.push(skill);
        }
    }
    out
}
