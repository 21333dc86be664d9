//! The in-memory vector index of the matching service: top-k by cosine similarity with a
//! filter ("published jobs in this city", "resumes this company may see", "not this same
//! job"), over unit vectors of one dimension per index (384 from the model server, 512 from
//! the builtin embedder).
//!
//! Where it sits: the matching service keeps embeddings in PostgreSQL; at start it reads them
//! and [`VectorIndex::bulk_load`]s them, then keeps the index fresh from events
//! ([`VectorIndex::upsert`], [`VectorIndex::remove`]) while requests
//! [`VectorIndex::search`] it. Keys are the caller's `u64` ids (the service maps resource
//! names to them).
//!
//! How it answers:
//! - **Exact** below [`IndexConfig::exact_below`] vectors (20,000 by default): a dot product
//!   per vector over one contiguous `Vec<f32>` arena, the best `k` kept in a bounded heap.
//!   Also [`VectorIndex::search_exact`] on request, and [`VectorIndex::search_hinted`] when the
//!   caller knows its filter is very selective.
//! - **Approximate** above it: a Hierarchical Navigable Small World graph — Yu. A. Malkov,
//!   D. A. Yashunin, *Efficient and robust approximate nearest neighbor search using
//!   Hierarchical Navigable Small World graphs*, IEEE TPAMI 42(4):824–836, 2020
//!   (arXiv:1603.09320, 2018) — from the `hnsw_rs` crate. Hits are re-scored from the arena; a
//!   filtered graph search that finds fewer than `k` hits falls back to the exact scan.
//! - HNSW cannot delete: removed and replaced vectors stay as tombstones the search filter
//!   skips, and the graph is rebuilt in the background once they pass
//!   [`IndexConfig::rebuild_tombstone_fraction`] of its nodes.
//!
//! Speed and recall at 100,000 jobs are measured by `tests/bench` (`matching-bench`), results
//! in `tests/bench/MATCHING-RESULTS.md`.

mod config;
mod error;
mod exact;
mod graph;
mod index;
mod state;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

pub use config::IndexConfig;
pub use error::{Result, VectorError};
pub use index::VectorIndex;

/// One search result: a key and its cosine similarity to the query (`[-1, 1]`, computed from
/// the key's current vector).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The caller's key.
    pub key: u64,
    /// Cosine similarity with the query (the dot product of the normalised vectors).
    pub score: f32,
}

/// Sizes of a [`VectorIndex`] at one moment ([`VectorIndex::stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStats {
    /// Keys with a vector.
    pub len: usize,
    /// Nodes in the HNSW graph, tombstones included; 0 when there is no graph (exact mode).
    pub graph_nodes: usize,
    /// Graph nodes of removed keys or replaced vectors, skipped by searches until a rebuild.
    pub tombstones: usize,
    /// Whether a graph (re)build is under way.
    pub rebuilding: bool,
    /// Estimated bytes held: the arena, the key tables and the graph (vectors copied into it,
    /// links at `2·M` per node). An estimate from sizes, not an allocator count.
    pub approx_bytes: usize,
}
