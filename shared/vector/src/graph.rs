//! The approximate part of the index: an HNSW graph from the `hnsw_rs` crate over *nodes*.
//!
//! A node is one inserted vector, numbered by the index (0, 1, 2, … per graph). HNSW cannot
//! delete, so the index never asks it to: when a key is removed or its vector replaced, its old
//! node stays in the graph as a tombstone that the search filter rejects, and the replacement
//! gets a new node. Keys map to nodes in the index's state, not here.
//!
//! The graph keeps its own copy of each vector in 8-bit integers (scalar quantisation, as
//! Lucene's and Qdrant's HNSW indexes do): each value times `127 / max|v|`, rounded, with that
//! scale stored in the node's first four bytes. A graph search is bound by memory latency and
//! the distance arithmetic (a `perf` of the `f32` graph put half the time in the dot product),
//! and an 8-bit node is a quarter of the `f32` one's bytes and its dot product runs on
//! integers. The rounding moves a cosine between unit vectors by about 1e-3 in 512
//! dimensions, enough to steer the walk; the index re-scores the hits it returns from its
//! exact `f32` arena, so scores and final order are exact.

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::hnsw::Hnsw;

use crate::IndexConfig;

/// The most layers `hnsw_rs` builds (its own cap); with `M` ≥ 8 and a million nodes the top
/// layer is below 8 anyway.
const MAX_LAYERS: usize = 16;

/// Bytes of one graph vector element (an `i8`; each node adds its 4-byte scale).
pub(crate) const GRAPH_ELEMENT_BYTES: usize = 1;

/// Bytes a node costs beside its vector, for [`IndexStats`](crate::IndexStats): a point struct,
/// its per-layer neighbour lists and, on layer 0, up to `2·M` neighbours of 40 bytes each (an
/// `Arc` to a 24-byte neighbour record plus the list slot), counted at the full `2·M`, and the
/// vector's scale.
pub(crate) fn node_overhead_bytes(m: usize) -> usize {
    256 + 2 * m * 40 + SCALE_BYTES
}

/// The leading `i8`s of a quantised vector that hold its `f32` scale.
const SCALE_BYTES: usize = 4;

/// `v` quantised: four bytes of the `f32` factor `max|v| / 127` that turns the integers back
/// into values (0 for an all-zero vector), then each value as `round(x · 127 / max|v|)`.
pub(crate) fn quantise(v: &[f32]) -> Vec<i8> {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let (to_int, factor) = if max > 0.0 {
        (127.0 / max, max / 127.0)
    } else {
        (0.0, 0.0)
    };
    let mut out = Vec::with_capacity(SCALE_BYTES + v.len());
    out.extend(factor.to_le_bytes().map(|b| b as i8));
    out.extend(
        v.iter()
            .map(|x| (x * to_int).round().clamp(-127.0, 127.0) as i8),
    );
    out
}

/// The scale of a quantised vector and its integers.
fn split(q: &[i8]) -> (f32, &[i8]) {
    let (head, values) = q.split_at(SCALE_BYTES.min(q.len()));
    let mut bytes = [0u8; SCALE_BYTES];
    for (b, h) in bytes.iter_mut().zip(head) {
        *b = *h as u8;
    }
    (f32::from_le_bytes(bytes), values)
}

/// The dot product of two quantised vectors of equal length: the integer products summed in
/// `i32` with sixteen independent partial sums (so the compiler vectorises the widening
/// multiply-add), times both scales.
pub(crate) fn dot_quantised(a: &[i8], b: &[i8]) -> f32 {
    let ((sa, a), (sb, b)) = (split(a), split(b));
    let mut acc = [0i32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += i32::from(*x) * i32::from(*y);
        }
    }
    (acc.iter().sum::<i32>() + tail) as f32 * sa * sb
}

/// Cosine distance of quantised unit vectors, `1 − a·b`, clamped at 0. `hnsw_rs`'s own
/// `DistDot` asserts the value is non-negative, which rounding breaks for a vector and itself
/// (`1 − 1.0000001`), and would panic a search; this one cannot.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UnitDot;

impl Distance<i8> for UnitDot {
    fn eval(&self, va: &[i8], vb: &[i8]) -> f32 {
        (1.0 - dot_quantised(va, vb)).max(0.0)
    }
}

/// One HNSW graph. Inserts and searches take `&self` and may run at the same time from many
/// threads: `hnsw_rs` locks each node's neighbour lists on its own.
pub(crate) struct Graph {
    hnsw: Hnsw<'static, i8, UnitDot>,
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
        self.hnsw.insert_slice((&quantise(vector), node));
    }

    /// Inserts the rows of `arena` (`dim` floats each) as nodes `0, 1, …`, on rayon's pool
    /// (one thread per core).
    pub(crate) fn insert_all(&self, arena: &[f32], dim: usize) {
        // `hnsw_rs` copies each vector into its node, so these quantised rows are temporary.
        let rows: Vec<Vec<i8>> = arena.chunks_exact(dim).map(quantise).collect();
        let items: Vec<(&[i8], usize)> = rows
            .iter()
            .enumerate()
            .map(|(node, v)| (v.as_slice(), node))
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
            .search(&quantise(query), ef, ef)
            .into_iter()
            .map(|n| n.d_id)
            .collect()
    }
}
