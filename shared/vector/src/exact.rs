//! Exact top-k: a dot product written so the compiler vectorises it, and a bounded heap that
//! keeps the best `k` hits in the index's order (score descending, then key ascending).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::Hit;

/// The dot product of two equally long slices. Eight independent partial sums let the compiler
/// use SIMD registers without reassociating float additions on its own (which it may not do).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The order of results: higher score first, then lower key, so equal scores rank the same way
/// on every call. `Less` means `a` ranks before `b`.
pub(crate) fn rank(a: &Hit, b: &Hit) -> Ordering {
    b.score.total_cmp(&a.score).then(a.key.cmp(&b.key))
}

/// A hit ordered so that the heap's top is the worst of those kept.
struct Kept(Hit);

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        rank(&self.0, &other.0)
    }
}

/// The best `k` hits offered so far.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Kept>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Whether `score` could enter: cheaper than building a hit when the heap is full.
    pub(crate) fn admits(&self, score: f32) -> bool {
        self.heap.len() < self.k || self.heap.peek().is_some_and(|w| score >= w.0.score)
    }

    pub(crate) fn offer(&mut self, hit: Hit) {
        if self.heap.len() < self.k {
            self.heap.push(Kept(hit));
        } else if self
            .heap
            .peek()
            .is_some_and(|worst| rank(&hit, &worst.0) == Ordering::Less)
        {
            self.heap.pop();
            self.heap.push(Kept(hit));
        }
    }

    /// The kept hits, best first.
    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|k| k.0)
            .collect()
    }
}
