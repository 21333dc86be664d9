//! Learning component weights from what happened to applications: coordinate ascent on mean
//! NDCG@10 over queries (D. Metzler and W. B. Croft, "Linear feature-based models for
//! information retrieval", Information Retrieval 10(3), 2007). The service stores feedback,
//! holds some back, and compares the tuned weights with the fixed ones on it.

use std::collections::BTreeMap;

use super::score::Weights;

/// The rank cutoff of [`evaluate`] and [`tune`].
pub const NDCG_CUTOFF: usize = 10;

/// One shown (query, result) pair and how it turned out.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackSample {
    /// What was ranked against: a resume name for job recommendations, a job name for
    /// candidate rankings. Samples of one query are ranked together.
    pub query: String,
    /// Component values in [`super::ComponentKind::ALL`] order; unknown as 0.
    pub components: [f64; 8],
    /// Relevance: 0 rejected or withdrawn, 1 applied, 2 screening, 3 interview, 4 offer or hired.
    pub grade: u8,
}

/// NDCG@k of one ranking, given the grades in ranked order: DCG = Σ (2^g − 1) / log2(i + 1)
/// over ranks i = 1..=k, divided by the DCG of the same grades sorted best first (Järvelin and
/// Kekäläinen, "Cumulated gain-based evaluation of IR techniques", TOIS 2002, with the
/// exponential gain of Burges et al. 2005). In 0..=1; 0 when no grade is positive or `k` is 0.
pub fn ndcg_at(k: usize, ranked_grades: &[u8]) -> f64 {
    let dcg = |grades: &[u8]| -> f64 {
        grades
            .iter()
            .take(k)
            .enumerate()
            .map(|(i, &g)| (2f64.powi(i32::from(g)) - 1.0) / ((i + 2) as f64).log2())
            .sum()
    };
    let mut ideal = ranked_grades.to_vec();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let best = dcg(&ideal);
    if best > 0.0 {
        dcg(ranked_grades) / best
    } else {
        0.0
    }
}

/// Samples grouped by query (in query order, samples in input order), keeping only queries
/// with some positive grade: a query where nothing went well cannot tell rankings apart.
fn queries(samples: &[FeedbackSample]) -> Vec<Vec<&FeedbackSample>> {
    let mut by_query: BTreeMap<&str, Vec<&FeedbackSample>> = BTreeMap::new();
    for s in samples {
        by_query.entry(s.query.as_str()).or_default().push(s);
    }
    by_query
        .into_values()
        .filter(|q| q.iter().any(|s| s.grade > 0))
        .collect()
}

fn mean_ndcg(queries: &[Vec<&FeedbackSample>], w: &[f64; 8]) -> f64 {
    if queries.is_empty() {
        return 0.0;
    }
    let total: f64 = queries
        .iter()
        .map(|q| {
            let mut ranked: Vec<(f64, u8)> = q
                .iter()
                .map(|s| {
                    let score: f64 = s.components.iter().zip(w).map(|(v, w)| v * w).sum();
                    (score, s.grade)
                })
                .collect();
            // Stable: equal scores keep input order, so the result is repeatable.
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
            let grades: Vec<u8> = ranked.into_iter().map(|(_, g)| g).collect();
            ndcg_at(NDCG_CUTOFF, &grades)
        })
        .sum();
    total / queries.len() as f64
}

/// Mean NDCG@10 over the queries of `samples` ranked by `weights` (each sample scored as the
/// weighted sum of its components, ties kept in input order). Queries without a positive
/// grade are left out; 0 when none is left.
pub fn evaluate(samples: &[FeedbackSample], weights: &Weights) -> f64 {
    mean_ndcg(&queries(samples), &weights.normalised().to_array())
}

/// Steps tried per coordinate, largest first.
const STEPS: [f64; 6] = [0.4, 0.2, 0.1, 0.05, 0.02, 0.01];
/// Passes over all coordinates at most.
const MAX_ROUNDS: usize = 25;
/// Gains smaller than this are noise.
const MIN_GAIN: f64 = 1e-9;

/// Weights that rank `samples` better, by coordinate ascent from `start`: in turn for each
/// component, add and subtract each of a fixed set of steps to its weight (not below 0),
/// renormalise to sum 1, and keep any change that raises mean NDCG@10; repeat until a full
/// pass gains nothing (at most 25 passes). Deterministic; the result is ≥ 0, sums to 1, and
/// never evaluates lower than `start` (normalised) on `samples`. Tune on some feedback and
/// compare on held-back feedback: on one set the gain is optimistic.
pub fn tune(samples: &[FeedbackSample], start: &Weights) -> Weights {
    let qs = queries(samples);
    let mut w = start.normalised().to_array();
    let mut best = mean_ndcg(&qs, &w);
    for _ in 0..MAX_ROUNDS {
        let mut improved = false;
        for i in 0..w.len() {
            for step in STEPS {
                for delta in [step, -step] {
                    let mut next = w;
                    next[i] = (next[i] + delta).max(0.0);
                    let sum: f64 = next.iter().sum();
                    if sum <= 0.0 || next == w {
                        continue;
                    }
                    let next = next.map(|x| x / sum);
                    let value = mean_ndcg(&qs, &next);
                    if value > best + MIN_GAIN {
                        best = value;
                        w = next;
                        improved = true;
                    }
                }
            }
        }
        if !improved {
            break;
        }
    }
    Weights::from_array(w)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "tuning_tests.rs"]
mod tests;
