//! The approximate part of the index: an HNSW graph from the `hnsw_rs` crate over *nodes*.
//!
//! A node is one inserted vector, numbered by the index (0, 1, 2, … per graph). HNSW cannot
//! delete, so the index never asks it to: when a key is removed or its vector replaced, its old
//! node stays in the graph as a tombstone that the search filter rejects, and the replacement
//! gets a new node. Keys map to nodes in the index's state, not here.
//!
//! The graph keeps its own copy of each vector in bfloat16 (the upper 16 bits of the `f32`,
//! rounded to nearest even): a graph search is bound by memory latency, not arithmetic — most
//! of its time waits on the 2 KB of each visited node's `f32` vector — so halving the bytes
//! makes the walk faster (measured in `tests/bench/MATCHING-RESULTS.md`) and the copy half as
//! big. bfloat16 keeps `f32`'s exponent and 8 bits of mantissa: a cosine between unit vectors
//! moves by about 1e-3 at most, enough to steer the walk; the index re-scores the hits it
//! returns from its exact `f32` arena, so scores and final order are exact.

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::hnsw::Hnsw;

use crate::IndexConfig;

/// The most layers `hnsw_rs` builds (its own cap); with `M` ≥ 8 and a million nodes the top
/// layer is below 8 anyway.
const MAX_LAYERS: usize = 16;

/// Bytes of one graph vector element (bfloat16).
pub(crate) const GRAPH_ELEMENT_BYTES: usize = 2;

/// Bytes a node costs beside its vector, for [`IndexStats`](crate::IndexStats): a point struct,
/// its per-layer neighbour lists and, on layer 0, up to `2·M` neighbours of 40 bytes each (an
/// `Arc` to a 24-byte neighbour record plus the list slot), counted at the full `2·M`.
pub(crate) fn node_overhead_bytes(m: usize) -> usize {
    256 + 2 * m * 40
}

/// `x` as bfloat16 bits: the upper half of its `f32` bits, rounded to nearest, ties to even.
/// For finite values (the index only holds finite ones); the largest finite values round to
/// infinity, which unit vectors never reach.
pub(crate) fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1));
    (rounded >> 16) as u16
}

/// A bfloat16 value back as `f32` (exact).
fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// A vector as bfloat16 bits.
pub(crate) fn bf16_vector(v: &[f32]) -> Vec<u16> {
    v.iter().map(|x| to_bf16(*x)).collect()
}

/// The dot product of two bfloat16 vectors of equal length, summed in `f32` with eight
/// independent partial sums (as `exact::dot`, so the compiler vectorises the widening too).
pub(crate) fn dot_bf16(a: &[u16], b: &[u16]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| from_bf16(*x) * from_bf16(*y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += from_bf16(*x) * from_bf16(*y);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Cosine distance of unit vectors in bfloat16, `1 − a·b`, clamped at 0. `hnsw_rs`'s own
/// `DistDot` asserts the value is non-negative, which rounding breaks for a vector and itself
/// (`1 − 1.0000001`), and would panic a search; this one cannot.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UnitDot;

impl Distance<u16> for UnitDot {
    fn eval(&self, va: &[u16], vb: &[u16]) -> f32 {
        (1.0 - dot_bf16(va, vb)).max(0.0)
    }
}

/// One HNSW graph. Inserts and searches take `&self` and may run at the same time from many
/// threads: `hnsw_rs` locks each node's neighbour lists on its own.
pub(crate) struct Graph {
    hnsw: Hnsw<'static, u16, UnitDot>,
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
        self.hnsw.insert_slice((&bf16_vector(vector), node));
    }

    /// Inserts the rows of `arena` (`dim` floats each) as nodes `0, 1, …`, on rayon's pool
    /// (one thread per core).
    pub(crate) fn insert_all(&self, arena: &[f32], dim: usize) {
        // `hnsw_rs` copies each vector into its node, so this converted arena is temporary.
        let arena = bf16_vector(arena);
        let items: Vec<(&[u16], usize)> = arena
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
            .search(&bf16_vector(query), ef, ef)
            .into_iter()
            .map(|n| n.d_id)
            .collect()
    }
}
