//! Ranking metrics for one relevant item per query: top-1 accuracy, MRR and NDCG@k.
//!
//! Each query (a resume) has exactly one relevant item (its pair's job) with binary relevance, so
//! every metric is a function of that item's 1-based rank `r` among the corpus:
//!
//! - top-1 accuracy: 1 if `r = 1`, else 0.
//! - reciprocal rank: `1 / r`; MRR is its mean over queries (Voorhees, "The TREC-8 Question
//!   Answering Track Report", 1999).
//! - NDCG@k (Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques", ACM TOIS
//!   20(4), 2002): `DCG@k = Σ_{i=1..k} rel_i / log2(i + 1)` and `NDCG@k = DCG@k / IDCG@k`, where
//!   IDCG@k is the DCG of the ideal ordering. With one relevant item of gain 1, IDCG@k = 1/log2(2)
//!   = 1, so `NDCG@k = 1 / log2(r + 1)` when `r ≤ k`, else 0. (This is the `log2(i + 1)` discount
//!   of the common formulation, e.g. Burges et al. 2005, equal to the 2002 paper's `log_b i`
//!   discount with b = 2 for every rank except the first, where the paper does not discount.)

/// 1.0 when the relevant item is ranked first, else 0.0. `rank` is 1-based.
pub fn top1(rank: usize) -> f64 {
    if rank == 1 {
        1.0
    } else {
        0.0
    }
}

/// `1 / rank` (1-based); 0.0 for rank 0, which is no rank at all.
pub fn reciprocal_rank(rank: usize) -> f64 {
    if rank == 0 {
        0.0
    } else {
        1.0 / rank as f64
    }
}

/// NDCG@k with one relevant item of gain 1 at 1-based `rank`: `1 / log2(rank + 1)` when
/// `1 ≤ rank ≤ k`, else 0.0.
pub fn ndcg_at(rank: usize, k: usize) -> f64 {
    if rank == 0 || rank > k {
        0.0
    } else {
        1.0 / ((rank + 1) as f64).log2()
    }
}

/// The mean metrics of a set of queries, from the rank of each query's relevant item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of queries.
    pub queries: usize,
    /// Fraction of queries whose relevant item is ranked first, in [0, 1].
    pub top1: f64,
    /// Mean reciprocal rank, in (0, 1].
    pub mrr: f64,
    /// Mean NDCG@10, in [0, 1].
    pub ndcg10: f64,
}

impl Summary {
    /// Summarises 1-based ranks; all metrics are 0.0 for an empty set.
    pub fn from_ranks(ranks: &[usize]) -> Self {
        let n = ranks.len();
        let mean = |f: &dyn Fn(usize) -> f64| {
            if n == 0 {
                0.0
            } else {
                ranks.iter().map(|&r| f(r)).sum::<f64>() / n as f64
            }
        };
        Self {
            queries: n,
            top1: mean(&top1),
            mrr: mean(&reciprocal_rank),
            ndcg10: mean(&|r| ndcg_at(r, 10)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn single_query_values_by_hand() {
        // rank 1: DCG = 1/log2(2) = 1.
        assert!(close(ndcg_at(1, 10), 1.0));
        // rank 3: 1/log2(4) = 0.5.
        assert!(close(ndcg_at(3, 10), 0.5));
        // rank 7: 1/log2(8) = 1/3.
        assert!(close(ndcg_at(7, 10), 1.0 / 3.0));
        // rank 10 is still inside the cut-off: 1/log2(11) ≈ 0.289065.
        assert!(close(ndcg_at(10, 10), 0.289_064_826_317_887_9));
        // rank 11 is outside it.
        assert_eq!(ndcg_at(11, 10), 0.0);
        assert_eq!(ndcg_at(0, 10), 0.0);
        assert!(close(reciprocal_rank(4), 0.25));
        assert_eq!(reciprocal_rank(0), 0.0);
        assert_eq!(top1(1), 1.0);
        assert_eq!(top1(2), 0.0);
    }

    #[test]
    fn summary_of_four_queries_by_hand() {
        // Ranks 1, 3, 7, 20:
        //   top-1 = 1/4 = 0.25
        //   MRR   = (1 + 1/3 + 1/7 + 1/20) / 4 = (420 + 140 + 60 + 21) / 420 / 4 = 641/1680
        //   NDCG  = (1 + 0.5 + 1/3 + 0) / 4 = 11/24
        let s = Summary::from_ranks(&[1, 3, 7, 20]);
        assert_eq!(s.queries, 4);
        assert!(close(s.top1, 0.25));
        assert!(close(s.mrr, 641.0 / 1680.0));
        assert!(close(s.ndcg10, 11.0 / 24.0));
    }

    #[test]
    fn empty_summary_is_zero() {
        let s = Summary::from_ranks(&[]);
        assert_eq!(
            s,
            Summary {
                queries: 0,
                top1: 0.0,
                mrr: 0.0,
                ndcg10: 0.0
            }
        );
    }
}
