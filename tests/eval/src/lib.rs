//! The matching evaluation harness (issue 14, section 4).
//!
//! - [`cache`]: an embedder that asks its inner embedder once per text.
//! - [`dataset`]: the labelled set in `tests/eval/data/*.jsonl` — each line one (job, resume) pair
//!   whose resume fits its job; the jobs of all pairs together are the corpus every resume is
//!   ranked against, so every other job is a distractor.
//! - [`metrics`]: top-1 accuracy, MRR and NDCG@10 from the rank of the one relevant job.
//! - [`rank`]: cosine similarity and the rank of the relevant job among the scored corpus.
//! - [`report`]: one ranker's ranks summarised overall, per direction and held out; table rows.
//! - [`scorer`]: the matching service's full score (`talentmesh_matching::domain::score`) over
//!   the set's jobs and resumes as the service would see them.
//! - [`feedback`]: graded feedback built from the set and replayed for tuned against fixed
//!   component weights (`talentmesh_matching::domain::tune`).
//!
//! The `eval` binary embeds the set with each available embedder and writes `tests/eval/RESULTS.md`.

pub mod cache;
pub mod corpus;
pub mod dataset;
pub mod feedback;
pub mod metrics;
pub mod rank;
pub mod report;
pub mod scorer;
