//! Cosine similarity between embeddings (the shared one), the score matrix it gives, and the rank
//! of the relevant item in a scored corpus.

/// Cosine similarity, the embedders' own (0.0 when either vector is all zeros, so a text an
/// embedder found nothing in never looks like a perfect match).
pub use talentmesh_embed::cosine;

/// The cosine of every resume with every job: `scores[r][j]` for resume `r` and job `j`
/// (the shape [`crate::report::report`] reads), widened to `f64` exactly.
pub fn cosine_scores(jobs: &[Vec<f32>], resumes: &[Vec<f32>]) -> Vec<Vec<f64>> {
    resumes
        .iter()
        .map(|rv| jobs.iter().map(|jv| f64::from(cosine(rv, jv))).collect())
        .collect()
}

/// The 1-based rank of `scores[relevant]` when the corpus is sorted by descending score.
///
/// Ties are broken against the relevant item (every other item with an equal score ranks before
/// it), so a degenerate embedder that gives all items the same score gets the worst rank, not the
/// best. A NaN score of the relevant item ranks it last. Returns `None` when `relevant` is out of
/// range.
pub fn rank_of(scores: &[f64], relevant: usize) -> Option<usize> {
    let target = *scores.get(relevant)?;
    if target.is_nan() {
        return Some(scores.len());
    }
    let ahead = scores
        .iter()
        .enumerate()
        .filter(|&(i, s)| i != relevant && *s >= target)
        .count();
    Some(ahead + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_orthogonal_and_zero_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn score_matrix_is_resumes_by_jobs() {
        let jobs = [vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        let resumes = [vec![0.0, 2.0], vec![3.0, 0.0]];
        let m = cosine_scores(&jobs, &resumes);
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|row| row.len() == 3));
        assert!((m[0][1] - 1.0).abs() < 1e-6);
        assert!(m[0][0].abs() < 1e-6);
        assert!((m[1][0] - 1.0).abs() < 1e-6);
        assert!((m[1][2] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn rank_counts_items_scored_at_least_as_high() {
        let scores = [0.2, 0.9, 0.5, 0.9];
        assert_eq!(rank_of(&scores, 1), Some(2)); // tie with index 3 counts against it
        assert_eq!(rank_of(&scores, 2), Some(3));
        assert_eq!(rank_of(&scores, 0), Some(4));
        assert_eq!(rank_of(&[0.1, 0.7, 0.3], 1), Some(1));
        assert_eq!(rank_of(&scores, 4), None);
        assert_eq!(rank_of(&[f64::NAN, 0.1], 0), Some(2));
    }
}
