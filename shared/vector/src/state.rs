//! The state behind [`crate::VectorIndex`]'s lock: the dense arena of current vectors, the key →
//! slot/node map, the HNSW graph's node tables, and the searches over them (exact and graph).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::exact::{dot, rank, TopK};
use crate::graph::Graph;
use crate::{Hit, IndexConfig};

/// Keys sampled to estimate how selective a search's filter is.
pub(crate) const FILTER_SAMPLE: usize = 256;

pub(crate) struct State {
    /// `keys.len() × dim` floats, row `i` the current vector of `keys[i]`. Dense: removal moves
    /// the last row into the hole, so the exact scan reads one contiguous block.
    pub(crate) arena: Vec<f32>,
    pub(crate) keys: Vec<u64>,
    pub(crate) entries: HashMap<u64, Entry>,
    pub(crate) graph: Option<GraphState>,
    /// Keys written while a rebuild works from its snapshot; `Some` from the snapshot to the
    /// swap. The swap inserts their current vectors into the new graph.
    pub(crate) pending: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// Row in the arena.
    pub(crate) slot: usize,
    /// The key's live node in the current graph, if it has one yet.
    pub(crate) node: Option<usize>,
}

pub(crate) struct GraphState {
    pub(crate) graph: Arc<Graph>,
    /// Node → key, for every node ever inserted into this graph (tombstones included).
    pub(crate) node_keys: Vec<u64>,
    /// Node → whether it holds its key's current vector.
    pub(crate) live: Vec<bool>,
    pub(crate) live_count: usize,
}

impl GraphState {
    pub(crate) fn new(graph: Arc<Graph>, node_keys: Vec<u64>) -> GraphState {
        let live = vec![false; node_keys.len()];
        GraphState {
            graph,
            node_keys,
            live,
            live_count: 0,
        }
    }

    pub(crate) fn add_node(&mut self, key: u64) -> usize {
        self.node_keys.push(key);
        self.live.push(true);
        self.live_count += 1;
        self.node_keys.len() - 1
    }

    pub(crate) fn kill(&mut self, node: usize) {
        if let Some(live) = self.live.get_mut(node) {
            if *live {
                *live = false;
                self.live_count -= 1;
            }
        }
    }

    pub(crate) fn tombstones(&self) -> usize {
        self.node_keys.len() - self.live_count
    }
}

/// What the upkeep after a write decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Upkeep {
    Nothing,
    /// Build or rebuild the graph in the background.
    Rebuild,
    /// The index shrank below `exact_below` and the graph is mostly tombstones: free it.
    DropGraph,
}

impl State {
    pub(crate) fn row(&self, slot: usize, dim: usize) -> &[f32] {
        &self.arena[slot * dim..(slot + 1) * dim]
    }

    /// Stores `v` as `key`'s vector. With a graph, the key's old node becomes a tombstone; with
    /// `to_graph`, a new node is assigned and returned with the graph to insert it into once
    /// the lock is released.
    pub(crate) fn put(
        &mut self,
        dim: usize,
        key: u64,
        v: &[f32],
        to_graph: bool,
    ) -> Option<(Arc<Graph>, usize)> {
        let (slot, old_node) = match self.entries.get(&key) {
            Some(e) => {
                self.arena[e.slot * dim..(e.slot + 1) * dim].copy_from_slice(v);
                (e.slot, e.node)
            }
            None => {
                self.keys.push(key);
                self.arena.extend_from_slice(v);
                (self.keys.len() - 1, None)
            }
        };
        let mut insert = None;
        let mut node = None;
        if let Some(g) = self.graph.as_mut() {
            if let Some(old) = old_node {
                g.kill(old);
            }
            if to_graph {
                let n = g.add_node(key);
                node = Some(n);
                insert = Some((Arc::clone(&g.graph), n));
            }
        }
        self.entries.insert(key, Entry { slot, node });
        if let Some(pending) = self.pending.as_mut() {
            pending.push(key);
        }
        insert
    }

    pub(crate) fn take(&mut self, dim: usize, key: u64) -> bool {
        let Some(e) = self.entries.remove(&key) else {
            return false;
        };
        if let (Some(g), Some(node)) = (self.graph.as_mut(), e.node) {
            g.kill(node);
        }
        let last = self.keys.len() - 1;
        if e.slot != last {
            self.arena
                .copy_within(last * dim..(last + 1) * dim, e.slot * dim);
            let moved = self.keys[last];
            self.keys[e.slot] = moved;
            if let Some(m) = self.entries.get_mut(&moved) {
                m.slot = e.slot;
            }
        }
        self.keys.pop();
        self.arena.truncate(last * dim);
        true
    }

    pub(crate) fn upkeep(&self, config: &IndexConfig) -> Upkeep {
        let len = self.entries.len();
        match &self.graph {
            None if len >= config.exact_below => Upkeep::Rebuild,
            None => Upkeep::Nothing,
            Some(g) => {
                let nodes = g.node_keys.len();
                if g.tombstones() as f64 <= config.rebuild_tombstone_fraction * nodes as f64 {
                    Upkeep::Nothing
                } else if len < config.exact_below {
                    Upkeep::DropGraph
                } else {
                    Upkeep::Rebuild
                }
            }
        }
    }

    /// Makes `graph` (built from a snapshot of `keys`, node `i` = `keys[i]`) the current graph.
    /// Snapshot nodes of keys written since the snapshot (`pending`) or removed are tombstones;
    /// the keys written since get new nodes, returned with their vectors for inserting.
    pub(crate) fn install(
        &mut self,
        dim: usize,
        graph: Arc<Graph>,
        keys: Vec<u64>,
    ) -> Vec<(usize, Vec<f32>)> {
        let pending: HashSet<u64> = self
            .pending
            .take()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut g = GraphState::new(graph, keys);
        for e in self.entries.values_mut() {
            e.node = None;
        }
        for (node, key) in g.node_keys.iter().enumerate() {
            if pending.contains(key) {
                continue;
            }
            if let Some(e) = self.entries.get_mut(key) {
                e.node = Some(node);
                g.live[node] = true;
                g.live_count += 1;
            }
        }
        let mut catch_up = Vec::new();
        for key in pending {
            if let Some(e) = self.entries.get_mut(&key) {
                let node = g.add_node(key);
                e.node = Some(node);
                catch_up.push((node, self.arena[e.slot * dim..(e.slot + 1) * dim].to_vec()));
            }
        }
        self.graph = Some(g);
        catch_up
    }

    pub(crate) fn search_exact(
        &self,
        dim: usize,
        q: &[f32],
        k: usize,
        filter: &dyn Fn(u64) -> bool,
    ) -> Vec<Hit> {
        let mut top = TopK::new(k);
        for (key, v) in self.keys.iter().zip(self.arena.chunks_exact(dim)) {
            if !filter(*key) {
                continue;
            }
            let score = dot(q, v);
            if top.admits(score) {
                top.offer(Hit { key: *key, score });
            }
        }
        top.into_sorted()
    }

    /// The share of keys `filter` passes, from [`FILTER_SAMPLE`] keys spread over the arena.
    pub(crate) fn pass_rate(&self, filter: &dyn Fn(u64) -> bool) -> f64 {
        let n = self.keys.len();
        if n == 0 {
            return 0.0;
        }
        let step = (n / FILTER_SAMPLE).max(1);
        let sampled = self.keys.iter().step_by(step).take(FILTER_SAMPLE);
        let (mut seen, mut passed) = (0usize, 0usize);
        for key in sampled {
            seen += 1;
            passed += usize::from(filter(*key));
        }
        passed as f64 / seen as f64
    }

    /// Graph search: the `ef` nearest nodes from HNSW, unfiltered, then tombstones and keys the
    /// filter rejects dropped and the rest scored from the arena. Fewer than `k` hits when the
    /// graph's candidates held too few passing keys (the caller then scans exactly).
    pub(crate) fn search_graph(
        &self,
        g: &GraphState,
        dim: usize,
        q: &[f32],
        k: usize,
        ef: usize,
        filter: &dyn Fn(u64) -> bool,
    ) -> Vec<Hit> {
        let nodes = g.graph.search(q, ef.max(k));
        let mut hits: Vec<Hit> = nodes
            .into_iter()
            .filter_map(|node| {
                if !g.live.get(node).copied().unwrap_or(false) {
                    return None;
                }
                let key = g.node_keys[node];
                if !filter(key) {
                    return None;
                }
                let e = self.entries.get(&key)?;
                Some(Hit {
                    key,
                    score: dot(q, self.row(e.slot, dim)),
                })
            })
            .collect();
        hits.sort_by(rank);
        hits.truncate(k);
        hits
    }
}
