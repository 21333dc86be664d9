//! How the index trades speed, recall, memory and build time; see [`IndexConfig`].

use crate::{Result, VectorError};

/// Settings of a [`VectorIndex`](crate::VectorIndex).
///
/// The HNSW parameters are those of Malkov & Yashunin, *Efficient and robust approximate
/// nearest neighbor search using Hierarchical Navigable Small World graphs*, IEEE TPAMI 42(4),
/// 2020 (arXiv:1603.09320, 2016/2018):
///
/// - [`m`](Self::m) is the paper's `M`: links kept per node on the upper layers (`2·M` on the
///   bottom layer, as the paper recommends). More links: higher recall at the same `ef_search`,
///   more memory (about `2·M` pointers of 40 bytes per node) and a slower build. The paper finds
///   `M` of 12 to 48 good for high-dimensional data.
/// - [`ef_construction`](Self::ef_construction) is the candidate list length while inserting:
///   the quality of the graph, paid for once per insert (build time grows about linearly).
/// - [`ef_search`](Self::ef_search) is the candidate list length while searching (the paper's
///   `ef`; never below `k`): the recall/latency knob of every query.
///
/// `tests/bench/MATCHING-RESULTS.md` measures these defaults over 100,000 512-dimensional
/// job vectors on two cores (p99, recall@20 and build time for several `ef_search`).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexConfig {
    /// Below this many vectors every search is exact (a scan of the dense arena, which at
    /// 20,000 × 512 floats takes about a millisecond) and no graph is kept at all. At and above
    /// it the HNSW graph is built (in the background when crossed by upserts) and used.
    pub exact_below: usize,
    /// [`search_hinted`](crate::VectorIndex::search_hinted) scans exactly when the caller says
    /// at most this many keys pass its filter: a filter that selective leaves HNSW walking a
    /// graph of mostly rejected nodes, while the scan only scores the passing keys.
    pub exact_filter_below: usize,
    /// HNSW `M`: links per node per layer (`2·M` on layer 0). `2..=128`.
    pub m: usize,
    /// HNSW `efConstruction`: candidates considered per insert. At least 1.
    pub ef_construction: usize,
    /// HNSW `ef` at search time: candidates kept while walking layer 0. At least 1; a search
    /// uses `max(ef_search, k)`.
    pub ef_search: usize,
    /// How much a filtered graph search widens its candidate list: a filter passing a share
    /// `p` of the keys (times the share of live graph nodes) walks `ef_search / p^w`
    /// candidates, `w` this exponent. `1.0` keeps about `ef_search` passing candidates: recall
    /// well above the unfiltered search's, at `1/p` times its cost. Less is enough because
    /// top-`k` needs `k` passing hits, not `ef_search`: the filtered top-`k` lies among the
    /// unfiltered top `k/p`, which a list shorter than `ef_search/p` still holds. Measured at
    /// 100,000 × 512-d, `ef_search` 160, `p` = 1/3 (`tests/bench/MATCHING-RESULTS.md`):
    /// recall@20 0.997 at `w` = 1 (480 candidates), 0.988 at 0.5 (278), **0.983 at 0.35 (236,
    /// the default)**, 0.978 at 0.25 (211) — 0.35 is the cheapest that keeps the 0.98 bar,
    /// with p99 about half of `w` = 1's. In `[0, 1]`; tunable while serving with
    /// [`set_filter_widening`](crate::VectorIndex::set_filter_widening).
    pub filter_widening: f64,
    /// The graph is rebuilt (in the background) once tombstones — nodes of removed keys and
    /// the old nodes of replaced vectors, which HNSW cannot delete — exceed this fraction of
    /// its nodes. In `(0, 1]`.
    pub rebuild_tombstone_fraction: f64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            exact_below: 20_000,
            exact_filter_below: 2_000,
            m: 16,
            ef_construction: 100,
            ef_search: 160,
            filter_widening: 0.35,
            rebuild_tombstone_fraction: 0.25,
        }
    }
}

impl IndexConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(VectorError::Config(what));
        if !(2..=128).contains(&self.m) {
            return bad(format!("m must be in 2..=128, got {}", self.m));
        }
        if self.ef_construction == 0 || self.ef_search == 0 {
            return bad("ef_construction and ef_search must be at least 1".to_owned());
        }
        let w = self.filter_widening;
        if !(0.0..=1.0).contains(&w) {
            return bad(format!("filter_widening must be in [0, 1], got {w}"));
        }
        let f = self.rebuild_tombstone_fraction;
        if !(f > 0.0 && f <= 1.0) {
            return bad(format!(
                "rebuild_tombstone_fraction must be in (0, 1], got {f}"
            ));
        }
        Ok(())
    }
}
