//! The approximate part of the index: an HNSW graph from the `hnsw_rs` crate over *nodes*.
//!
//! A node is one inserted vector, numbered by the index (0, 1, 2, … per graph). HNSW cannot
//! delete, so the index never asks it to: when a key is removed or its vector replaced, its old
//! node stays in the graph as a tombstone that the search filter rejects, and the replacement
//! gets a new node. Keys map to nodes in the index's state, not here.

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::hnsw::Hnsw;

use crate::exact::dot;
use crate::IndexConfig;

/// The most layers `hnsw_rs` builds (its own cap); with `M` ≥ 8 and a million nodes the top
/// layer is below 8 anyway.
const MAX_LAYERS: usize = 16;

/// Bytes a node costs beside its vector, for [`IndexStats`](crate::IndexStats): a point struct,
/// its per-layer neighbour lists and, on layer 0, up to `2·M` neighbours of 40 bytes each (an
/// `Arc` to a 24-byte neighbour record plus the list slot), counted at the full `2·M`.
pub(crate) fn node_overhead_bytes(m: usize) -> usize {
    256 + 2 * m * 40
}

/// Cosine distance of unit vectors, `1 − a·b`, clamped at 0. `hnsw_rs`'s own `DistDot`
/// asserts the value is non-negative, which rounding breaks for a vector and itself
/// (`1 − 1.0000001`), and would panic a search; this one cannot.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        (1.0 - dot(va, vb)).max(0.0)
    }
}

/// One HNSW graph. Inserts and searches take `&self` and may run at the same time from many
/// threads: `hnsw_rs` locks each node's neighbour lists on its own.
pub(crate) struct Graph {
    hnsw: Hnsw<'static, f32, UnitDot>,
}

impl Graph {
    /// An empty graph sized for about `capacity` nodes.
    pub(crate) fn new(config: &IndexConfig, capacity: usize) -> Graph {
        Graph {
            hnsw: Hnsw::new(
                config.m,
                capacity.max(1),
                MAX_LAYERS,
                config.ef_construction,
                UnitDot,
            ),
        }
    }

    /// Inserts `vector` (unit length, finite) as `node`.
    pub(crate) fn insert(&self, vector: &[f32], node: usize) {
        self.hnsw.insert_slice((vector, node));
    }

    /// Inserts the rows of `arena` (`dim` floats each) as nodes `0, 1, …`, on rayon's pool
    /// (one thread per core).
    pub(crate) fn insert_all(&self, arena: &[f32], dim: usize) {
        let items: Vec<(&[f32], usize)> = arena
            .chunks_exact(dim)
            .enumerate()
            .map(|(node, v)| (v, node))
            .collect();
        self.hnsw.parallel_insert_slice(&items);
    }

    /// The `ef` nodes nearest `query` that the graph finds, nearest first, tombstones
    /// included (the caller filters). `hnsw_rs`'s own filtered search is not used: with a
    /// filter it gives up its early stop and walks much of the graph (measured: 100 ms at
    /// 20,000 nodes for a filter passing 0.2%), where a wider unfiltered search plus filtering
    /// after, or the exact scan, costs a few milliseconds.
    pub(crate) fn search(&self, query: &[f32], ef: usize) -> Vec<usize> {
        self.hnsw
            .search(query, ef, ef)
            .into_iter()
            .map(|n| n.d_id)
            .collect()
    }
}
