//! [`VectorIndex`]: the dense arena of current vectors, the key → slot/node map, the optional
//! HNSW graph, and the upkeep that keeps the graph in step (tombstones, rebuilds).
//!
//! Concurrency: one `RwLock` over the state. Searches share it for their whole run (they read
//! the arena to score, and the node tables to filter tombstones); writers hold it only to copy a
//! vector and update the tables, then insert into the graph *after* releasing it, because an
//! HNSW insert costs about a millisecond and `hnsw_rs` synchronises its own nodes. Until that
//! insert lands, an upserted key is simply not yet found by approximate searches — never found
//! with its old vector, whose node is already a tombstone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use parking_lot::{Mutex, RwLock, RwLockWriteGuard};

use crate::exact::dot;
use crate::graph::{node_overhead_bytes, Graph, GRAPH_ELEMENT_BYTES};
use crate::state::{State, Upkeep};
use crate::{Hit, IndexConfig, IndexStats, Result, VectorError};

/// Vectors per write-lock hold in [`VectorIndex::bulk_load`]: big enough to amortise the lock,
/// small enough that searches running beside a load wait at most a fraction of a millisecond.
const LOAD_BATCH: usize = 1024;

/// Below this share of usable keys (passing the filter and live in the graph) a search scans
/// exactly instead of walking the graph: the graph's candidates would be mostly rejected, and
/// the scan scores only the passing keys. Measured at 100,000 keys (`tests/bench`): the exact
/// scan with a filter costs 3–14 ms, a graph search at this share about 5 ms.
const MIN_GRAPH_PASS_RATE: f64 = 0.25;

/// How many times k passing candidates a filtered graph search walks at least.
const FILTER_SURPLUS: f64 = 1.5;

/// An in-memory index of unit vectors keyed by `u64`, answering top-k by cosine under a filter.
///
/// Shapes: every vector has [`dim`](Self::dim) `f32` values. Vectors are L2-normalised on the
/// way in (queries too), so a [`Hit::score`] is the cosine similarity, in `[-1, 1]`; a zero
/// vector is kept as is and scores 0 against everything.
///
/// Modes ([`IndexConfig`]): below `exact_below` vectors every search scans the arena exactly;
/// from there on an HNSW graph (Malkov & Yashunin 2018, through `hnsw_rs`) answers, and a
/// filtered graph search that finds fewer than `k` hits falls back to the exact scan, so a
/// selective filter never loses results. Removed and replaced vectors stay in the graph as
/// tombstones; once they pass `rebuild_tombstone_fraction` of its nodes, a background thread
/// rebuilds the graph from the arena while searches and writes go on.
///
/// Guarantees: a search never returns a removed key, never a key twice, and scores every hit
/// with the key's current vector. `VectorIndex` is a cheap handle (`Clone` shares the index)
/// and is `Send + Sync`: searches run concurrently with each other and with writes.
#[derive(Clone)]
pub struct VectorIndex {
    shared: Arc<Shared>,
}

struct Shared {
    dim: usize,
    config: IndexConfig,
    state: RwLock<State>,
    /// Set while a background rebuild thread exists, so writes spawn at most one.
    rebuild_running: AtomicBool,
    /// Held for the whole of a rebuild or a bulk load: two graph builds never overlap (each
    /// would claim the `pending` list and the CPU).
    rebuild_lock: Mutex<()>,
    /// The `ef` of graph searches: starts as `config.ef_search`, tunable while serving.
    ef_search: AtomicUsize,
    /// The widening exponent of filtered graph searches (`f64` bits): starts as
    /// `config.filter_widening`, tunable while serving.
    filter_widening: AtomicU64,
}

impl VectorIndex {
    /// An empty index of `dim`-dimensional vectors.
    ///
    /// Errors: [`VectorError::Config`] for `dim` 0 or settings out of range (see
    /// [`IndexConfig`]).
    pub fn new(dim: usize, config: IndexConfig) -> Result<VectorIndex> {
        if dim == 0 {
            return Err(VectorError::Config(
                "dimension must be at least 1".to_owned(),
            ));
        }
        config.validate()?;
        Ok(VectorIndex {
            shared: Arc::new(Shared {
                dim,
                state: RwLock::new(State {
                    arena: Vec::new(),
                    keys: Vec::new(),
                    entries: HashMap::new(),
                    graph: None,
                    pending: None,
                }),
                rebuild_running: AtomicBool::new(false),
                rebuild_lock: Mutex::new(()),
                ef_search: AtomicUsize::new(config.ef_search),
                filter_widening: AtomicU64::new(config.filter_widening.to_bits()),
                config,
            }),
        })
    }

    /// The length of every vector in the index.
    pub fn dim(&self) -> usize {
        self.shared.dim
    }

    /// The settings the index was made with (`ef_search` as first set; see
    /// [`ef_search`](Self::ef_search)).
    pub fn config(&self) -> &IndexConfig {
        &self.shared.config
    }

    /// The HNSW `ef` searches use now.
    pub fn ef_search(&self) -> usize {
        self.shared.ef_search.load(Ordering::Relaxed)
    }

    /// Changes the HNSW `ef` of searches from now on (at least 1; 0 is taken as 1): the
    /// recall/latency trade-off can be tuned while serving, without a rebuild.
    pub fn set_ef_search(&self, ef: usize) {
        self.shared.ef_search.store(ef.max(1), Ordering::Relaxed);
    }

    /// The widening exponent filtered graph searches use now (see
    /// [`IndexConfig::filter_widening`]).
    pub fn filter_widening(&self) -> f64 {
        f64::from_bits(self.shared.filter_widening.load(Ordering::Relaxed))
    }

    /// Changes the widening exponent of filtered graph searches from now on, clamped to
    /// `[0, 1]` (NaN is taken as 1): the filtered recall/latency trade-off, tunable without a
    /// rebuild.
    pub fn set_filter_widening(&self, exponent: f64) {
        let w = if exponent.is_nan() {
            1.0
        } else {
            exponent.clamp(0.0, 1.0)
        };
        self.shared
            .filter_widening
            .store(w.to_bits(), Ordering::Relaxed);
    }

    /// How many keys have a vector.
    pub fn len(&self) -> usize {
        self.shared.state.read().entries.len()
    }

    /// Whether no key has a vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `key`'s current vector as stored (L2-normalised), or `None` if the key has none.
    pub fn get(&self, key: u64) -> Option<Vec<f32>> {
        let st = self.shared.state.read();
        let e = st.entries.get(&key)?;
        Some(st.row(e.slot, self.shared.dim).to_vec())
    }

    /// Sets `key`'s vector, replacing any earlier one. Searches see the new vector at once in
    /// exact mode; in graph mode once its HNSW insert (done by this call, after the index lock
    /// is released) lands — before that the key is missing from approximate results, never
    /// scored with its old vector.
    ///
    /// May start a background graph (re)build: when the index reaches `exact_below` vectors, or
    /// tombstones pass `rebuild_tombstone_fraction`.
    ///
    /// Errors: [`VectorError::Dimension`] if `vector.len() != dim`, [`VectorError::NotFinite`]
    /// for a NaN or infinite value; the index is unchanged then.
    pub fn upsert(&self, key: u64, vector: &[f32]) -> Result<()> {
        let v = self.prepare(vector)?;
        let insert = self
            .shared
            .state
            .write()
            .put(self.shared.dim, key, &v, true);
        if let Some((graph, node)) = insert {
            graph.insert(&v, node);
        }
        self.upkeep();
        Ok(())
    }

    /// Removes `key`'s vector; `true` if it had one. No search started after this returns
    /// finds the key.
    pub fn remove(&self, key: u64) -> bool {
        let removed = self.shared.state.write().take(self.shared.dim, key);
        if removed {
            self.upkeep();
        }
        removed
    }

    /// Loads many vectors at once, for the rebuild at start-up: each `(key, vector)` is stored
    /// as by [`upsert`](Self::upsert) (later pairs of a key win), then, if the index holds at
    /// least `exact_below` vectors, the HNSW graph is built from scratch with parallel inserts
    /// on all cores before this returns. Returns the number of pairs read.
    ///
    /// Searches may run during the load; they see the vectors loaded so far (exactly, until
    /// the graph is in place).
    ///
    /// Errors: as [`upsert`](Self::upsert), for the first bad vector; the pairs before it stay
    /// loaded and no graph is built.
    pub fn bulk_load<I, V>(&self, pairs: I) -> Result<usize>
    where
        I: IntoIterator<Item = (u64, V)>,
        V: AsRef<[f32]>,
    {
        let _serial = self.shared.rebuild_lock.lock();
        let dim = self.shared.dim;
        let mut read = 0;
        let mut batch: Vec<(u64, Vec<f32>)> = Vec::with_capacity(LOAD_BATCH);
        let flush = |batch: &mut Vec<(u64, Vec<f32>)>| {
            let mut st = self.shared.state.write();
            for (key, v) in batch.drain(..) {
                st.put(dim, key, &v, false);
            }
        };
        for (key, vector) in pairs {
            let v = self.prepare(vector.as_ref());
            let v = match v {
                Ok(v) => v,
                Err(e) => {
                    flush(&mut batch);
                    return Err(e);
                }
            };
            batch.push((key, v));
            read += 1;
            if batch.len() == LOAD_BATCH {
                flush(&mut batch);
            }
        }
        flush(&mut batch);
        self.rebuild_locked();
        Ok(read)
    }

    /// Builds the HNSW graph afresh from the current vectors (dropping all tombstones), now, in
    /// the calling thread; writes and searches go on meanwhile. Below `exact_below` vectors it
    /// only drops any graph. Writes start such rebuilds in the background on their own; this is
    /// for callers that want one at a time of their choosing.
    pub fn rebuild(&self) {
        let _serial = self.shared.rebuild_lock.lock();
        self.rebuild_locked();
    }

    /// The best `k` keys for `query` among those `filter` accepts, best first (score
    /// descending, equal scores by key ascending). Fewer than `k` only if fewer keys pass.
    ///
    /// Exact below `exact_below` vectors or while no graph is built yet. Above, the share `p`
    /// of usable keys (the filter's pass rate, estimated from 256 sampled keys, times the share
    /// of graph nodes that are live) decides: if at most `exact_filter_below` keys would pass,
    /// or `p` < 1/4, the exact scan answers (it scores only passing keys); otherwise HNSW gives
    /// `max(ef_search, k) / p^w` candidates (`w` =
    /// [`filter_widening`](IndexConfig::filter_widening)), which are filtered and re-scored
    /// from the arena, and the exact scan answers after all if fewer than `k` survive. `filter` is called with keys, possibly more than once per key,
    /// and must not call back into this index.
    ///
    /// Errors: [`VectorError::Dimension`], [`VectorError::NotFinite`] for a bad `query`.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: &dyn Fn(u64) -> bool,
    ) -> Result<Vec<Hit>> {
        let q = self.prepare(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let (dim, config) = (self.shared.dim, &self.shared.config);
        let st = self.shared.state.read();
        let n = st.entries.len();
        if let Some(g) = st.graph.as_ref().filter(|_| n >= config.exact_below) {
            // Widen the graph's candidate list by a power of the share of nodes that can be
            // answered (live and passing): by `1/p` about `ef_search` of them would survive
            // the filtering, more than top-k needs (see `IndexConfig::filter_widening`). When
            // that share is small, or the filter passes at most `exact_filter_below` keys, the
            // exact scan is cheaper: it scores only the passing keys.
            let ef = self.ef_search().max(k);
            let live = g.live_count as f64 / g.node_keys.len().max(1) as f64;
            let usable = st.pass_rate(filter) * live;
            let passing = usable * n as f64;
            if passing > config.exact_filter_below as f64 && usable >= MIN_GRAPH_PASS_RATE {
                // Never fewer than would leave about 1.5 × k passing candidates: with a large
                // k the widened list alone would come back short and fall to the exact scan.
                let wide = (ef as f64 / usable.powf(self.filter_widening()))
                    .max(FILTER_SURPLUS * k as f64 / usable)
                    .ceil();
                let hits = st.search_graph(g, dim, &q, k, wide as usize, filter);
                if hits.len() >= k {
                    return Ok(hits);
                }
            }
        }
        Ok(st.search_exact(dim, &q, k, filter))
    }

    /// [`search`](Self::search) for a caller that knows about how many keys its filter passes
    /// (`passing`, say from a count in its database): at most `exact_filter_below` → the exact
    /// scan, which then only scores those keys; otherwise as `search`.
    pub fn search_hinted(
        &self,
        query: &[f32],
        k: usize,
        filter: &dyn Fn(u64) -> bool,
        passing: usize,
    ) -> Result<Vec<Hit>> {
        if passing <= self.shared.config.exact_filter_below {
            self.search_exact(query, k, filter)
        } else {
            self.search(query, k, filter)
        }
    }

    /// The exact best `k` keys for `query` among those `filter` accepts: every passing key
    /// scored, whatever the mode. Same order and errors as [`search`](Self::search). Costs one
    /// dot product per passing key (about 10 ms for 100,000 × 512 on one core).
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        filter: &dyn Fn(u64) -> bool,
    ) -> Result<Vec<Hit>> {
        let q = self.prepare(query)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        Ok(self
            .shared
            .state
            .read()
            .search_exact(self.shared.dim, &q, k, filter))
    }

    /// Sizes and an estimate of the memory held, for metrics and tests.
    pub fn stats(&self) -> IndexStats {
        let m = self.shared.config.m;
        let dim = self.shared.dim;
        let st = self.shared.state.read();
        let (graph_nodes, tombstones) = st
            .graph
            .as_ref()
            .map_or((0, 0), |g| (g.node_keys.len(), g.tombstones()));
        // Arena and key list by capacity; the map at its capacity of 8-byte keys, 16-byte
        // entries and a control byte; each graph node its 8-bit vector, its links and its
        // two table slots here.
        let bytes = st.arena.capacity() * 4
            + st.keys.capacity() * 8
            + st.entries.capacity() * 25
            + graph_nodes * (dim * GRAPH_ELEMENT_BYTES + node_overhead_bytes(m) + 9);
        IndexStats {
            len: st.entries.len(),
            graph_nodes,
            tombstones,
            rebuilding: self.shared.rebuild_running.load(Ordering::Acquire) || st.pending.is_some(),
            approx_bytes: bytes,
        }
    }

    /// Checks `vector` and returns its L2-normalised copy.
    fn prepare(&self, vector: &[f32]) -> Result<Vec<f32>> {
        if vector.len() != self.shared.dim {
            return Err(VectorError::Dimension {
                expected: self.shared.dim,
                got: vector.len(),
            });
        }
        if let Some(position) = vector.iter().position(|x| !x.is_finite()) {
            return Err(VectorError::NotFinite { position });
        }
        let norm = dot(vector, vector).sqrt();
        // A vector with finite values can still overflow to an infinite norm; it has no
        // direction worth keeping at f32 precision, so it is refused like an infinite value.
        if !norm.is_finite() {
            return Err(VectorError::NotFinite { position: 0 });
        }
        Ok(if norm > 0.0 {
            vector.iter().map(|x| x / norm).collect()
        } else {
            vector.to_vec()
        })
    }

    /// After a write: start a background rebuild, or drop a graph no longer needed.
    fn upkeep(&self) {
        let decision = self.shared.state.read().upkeep(&self.shared.config);
        match decision {
            Upkeep::Nothing => {}
            Upkeep::DropGraph => {
                let mut st = self.shared.state.write();
                if st.upkeep(&self.shared.config) == Upkeep::DropGraph && st.pending.is_none() {
                    st.graph = None;
                }
            }
            Upkeep::Rebuild => self.spawn_rebuild(),
        }
    }

    fn spawn_rebuild(&self) {
        let running = &self.shared.rebuild_running;
        if running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let index = self.clone();
        let spawned = thread::Builder::new()
            .name("vector-rebuild".to_owned())
            .spawn(move || {
                {
                    let _serial = index.shared.rebuild_lock.lock();
                    // A bulk load or an explicit rebuild may have done the work meanwhile.
                    let decision = index.shared.state.read().upkeep(&index.shared.config);
                    if decision == Upkeep::Rebuild {
                        index.rebuild_locked();
                    }
                }
                index.shared.rebuild_running.store(false, Ordering::Release);
                // Writes during the rebuild may have left enough tombstones for another.
                index.upkeep();
            });
        if let Err(error) = spawned {
            running.store(false, Ordering::Release);
            tracing::warn!(%error, "vector index: could not start a rebuild thread; searches stay correct, slower");
        }
    }

    /// The rebuild proper; the caller holds `rebuild_lock`.
    fn rebuild_locked(&self) {
        let (dim, config) = (self.shared.dim, &self.shared.config);
        let started = Instant::now();
        let (keys, arena) = {
            let mut st = self.shared.state.write();
            if st.entries.len() < config.exact_below {
                st.graph = None;
                return;
            }
            st.pending = Some(Vec::new());
            // Readers may go on while the snapshot is copied; writers wait for it, and from
            // here on note their keys in `pending`.
            let st = RwLockWriteGuard::downgrade(st);
            (st.keys.clone(), st.arena.clone())
        };
        let graph = Arc::new(Graph::new(config, keys.len()));
        graph.insert_all(&arena, dim);
        drop(arena);
        let nodes = keys.len();
        let catch_up = self
            .shared
            .state
            .write()
            .install(dim, Arc::clone(&graph), keys);
        for (node, v) in &catch_up {
            graph.insert(v, *node);
        }
        tracing::info!(
            nodes,
            caught_up = catch_up.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "vector index: graph built"
        );
    }
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stats = self.stats();
        f.debug_struct("VectorIndex")
            .field("dim", &self.shared.dim)
            .field("len", &stats.len)
            .field("graph_nodes", &stats.graph_nodes)
            .field("tombstones", &stats.tombstones)
            .finish()
    }
}
