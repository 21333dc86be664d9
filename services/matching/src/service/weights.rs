//! The component weights: the ones in use, and tuning them from application outcomes.
//!
//! Feedback: every application is a judgement of one (job, resume) pair, graded by how far it
//! went (rejected 0, applied 1, screening 2, interview 3, offer or hired 4; withdrawn ones say
//! nothing about fit and are left out). Each job with at least two graded applications of
//! different grades is a query. Queries are split by name into training (two in three) and
//! held back (one in three); the weights are tuned on the training queries by coordinate
//! ascent on NDCG@10 (`domain::tune`) and both the weights in use and the tuned ones are
//! replayed on the held-back queries.

use std::collections::BTreeMap;

use talentmesh_mesh::CallContext;
use talentmesh_proto::job::v1 as jpb;

use super::{caller, Matching, WeightsInUse};
use crate::domain::{self, FeedbackSample, Preferences, Weights};
use crate::error::{Error, Result};

/// The fewest queries tuning runs on (so the held-back part is not empty).
pub const MIN_QUERIES: usize = 3;

/// What a tuning found.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub current_ndcg: f64,
    pub tuned_ndcg: f64,
    pub tuned: Weights,
    pub training_queries: usize,
    pub held_back_queries: usize,
    pub applied: bool,
    pub samples: usize,
}

/// The relevance grade of an application's stage; `None` for a withdrawn or unknown one.
pub fn grade(stage: i32) -> Option<u8> {
    match jpb::Stage::try_from(stage).ok()? {
        jpb::Stage::Rejected => Some(0),
        jpb::Stage::Applied => Some(1),
        jpb::Stage::Screening => Some(2),
        jpb::Stage::Interview => Some(3),
        jpb::Stage::Offer | jpb::Stage::Hired => Some(4),
        jpb::Stage::Withdrawn | jpb::Stage::Unspecified => None,
    }
}

impl Matching {
    /// The weights in use.
    pub fn weights(&self, ctx: &CallContext) -> Result<WeightsInUse> {
        caller(ctx)?;
        Ok(self.weights_in_use())
    }

    /// Loads the newest stored weights (at start).
    pub async fn load_weights(&self) -> Result<()> {
        if let Some((json, origin, samples)) = self.docs.weights().await? {
            let weights: Weights = serde_json::from_str(&json)
                .map_err(|e| Error::Internal(format!("stored weights: {e}")))?;
            *self.weights.write().unwrap_or_else(|p| p.into_inner()) = WeightsInUse {
                weights,
                origin,
                samples,
            };
        }
        Ok(())
    }

    /// The feedback samples: each graded application's component values.
    async fn feedback(&self) -> Result<Vec<FeedbackSample>> {
        let mut by_job: BTreeMap<String, Vec<(i64, String, u8)>> = BTreeMap::new();
        for a in self.docs.all_applications().await? {
            if let Some(g) = grade(a.stage) {
                by_job
                    .entry(a.job)
                    .or_default()
                    .push((a.resume_version, a.resume, g));
            }
        }
        let weights = Weights::default();
        let related = self.related();
        let mut samples = Vec::new();
        for (job, apps) in by_job {
            let mut grades: Vec<u8> = apps.iter().map(|a| a.2).collect();
            grades.sort_unstable();
            grades.dedup();
            if apps.len() < 2 || grades.len() < 2 {
                continue;
            }
            let Ok((stored_job, profile)) = self.job(&job).await else {
                continue;
            };
            let d = &stored_job.document;
            let job_vector = self.query_of(&job, d.version, &d.text).await?;
            for (version, resume, g) in apps {
                let Some(candidate) = self.resume_version(&resume, version).await? else {
                    continue;
                };
                let semantic = candidate.vector.as_deref().map(|v| {
                    self.calibration
                        .value(talentmesh_embed::cosine(&job_vector, v))
                });
                let m = domain::score(
                    &profile,
                    &candidate.profile,
                    semantic,
                    &related,
                    &Preferences::default(),
                    &weights,
                );
                let mut components = [0.0; 8];
                for c in &m.components {
                    components[c.kind.index()] = c.value.unwrap_or(0.0);
                }
                samples.push(FeedbackSample {
                    query: job.clone(),
                    components,
                    grade: g,
                });
            }
        }
        Ok(samples)
    }

    /// Tunes the weights on two thirds of the queries and replays the rest with the weights
    /// in use and with the tuned ones; applies the tuned weights when asked and better.
    /// Platform admins only.
    pub async fn tune_weights(&self, ctx: &CallContext, apply: bool) -> Result<Tuning> {
        if !caller(ctx)?.is_admin() {
            return Err(Error::PermissionDenied(
                "tuning the weights is for platform admins",
            ));
        }
        let samples = self.feedback().await?;
        let mut queries: Vec<&str> = samples.iter().map(|s| s.query.as_str()).collect();
        queries.sort_unstable();
        queries.dedup();
        if queries.len() < MIN_QUERIES {
            return Err(Error::NotEnoughFeedback {
                queries: queries.len(),
                needed: MIN_QUERIES,
            });
        }
        let held: std::collections::HashSet<&str> =
            queries.iter().skip(2).step_by(3).copied().collect();
        let (test, train): (Vec<FeedbackSample>, Vec<FeedbackSample>) = samples
            .iter()
            .cloned()
            .partition(|s| held.contains(s.query.as_str()));
        let current = self.weights_in_use();
        let tuned = domain::tune(&train, &current.weights);
        let current_ndcg = domain::evaluate(&test, &current.weights);
        let tuned_ndcg = domain::evaluate(&test, &tuned);
        let applied = apply && tuned_ndcg > current_ndcg;
        if applied {
            let json = serde_json::to_string(&tuned)
                .map_err(|e| Error::Internal(format!("weights: {e}")))?;
            let n = i64::try_from(samples.len()).unwrap_or(i64::MAX);
            self.docs.save_weights(&json, "tuned", n).await?;
            *self.weights.write().unwrap_or_else(|p| p.into_inner()) = WeightsInUse {
                weights: tuned,
                origin: "tuned".into(),
                samples: n,
            };
        }
        Ok(Tuning {
            current_ndcg,
            tuned_ndcg,
            tuned,
            training_queries: queries.len() - held.len(),
            held_back_queries: held.len(),
            applied,
            samples: samples.len(),
        })
    }
}
