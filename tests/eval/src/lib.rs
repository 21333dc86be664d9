//! The matching evaluation harness (issue 14, section 4).
//!
//! - [`dataset`]: the labelled set in `tests/eval/data/*.jsonl` — each line one (job, resume) pair
//!   whose resume fits its job; the jobs of all pairs together are the corpus every resume is
//!   ranked against, so every other job is a distractor.
//! - [`metrics`]: top-1 accuracy, MRR and NDCG@10 from the rank of the one relevant job.
//! - [`rank`]: cosine similarity and the rank of the relevant job among the scored corpus.
//!
//! The `eval` binary embeds the set with each available embedder and writes `tests/eval/RESULTS.md`.

pub mod dataset;
pub mod metrics;
pub mod rank;
