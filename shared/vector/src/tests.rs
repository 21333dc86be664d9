use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// A random unit vector.
fn unit(rng: &mut StdRng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    normalise(&mut v);
    v
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Vectors around `centres` random centres, as embeddings of similar texts cluster.
struct Clusters {
    centres: Vec<Vec<f32>>,
    spread: f32,
}

impl Clusters {
    fn new(rng: &mut StdRng, dim: usize, centres: usize, spread: f32) -> Clusters {
        Clusters {
            centres: (0..centres).map(|_| unit(rng, dim)).collect(),
            spread,
        }
    }

    fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        let c = &self.centres[rng.gen_range(0..self.centres.len())];
        let mut v: Vec<f32> = c
            .iter()
            .map(|x| x + self.spread * rng.gen_range(-1.0f32..1.0))
            .collect();
        normalise(&mut v);
        v
    }
}

/// The reference answer: every passing vector scored in f64, sorted by score then key.
fn brute_force(
    data: &[(u64, Vec<f32>)],
    query: &[f32],
    k: usize,
    filter: &dyn Fn(u64) -> bool,
) -> Vec<(u64, f64)> {
    let mut q = query.to_vec();
    normalise(&mut q);
    let mut all: Vec<(u64, f64)> = data
        .iter()
        .filter(|(key, _)| filter(*key))
        .map(|(key, v)| {
            let s = v
                .iter()
                .zip(&q)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            (*key, s)
        })
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

/// Share of the exact top keys that `hits` found.
fn recall(hits: &[Hit], exact: &[(u64, f64)]) -> f64 {
    let found: HashSet<u64> = hits.iter().map(|h| h.key).collect();
    exact.iter().filter(|(k, _)| found.contains(k)).count() as f64 / exact.len() as f64
}

fn assert_sorted_unique(hits: &[Hit]) {
    for w in hits.windows(2) {
        assert!(
            w[0].score > w[1].score || (w[0].score == w[1].score && w[0].key < w[1].key),
            "out of order: {w:?}"
        );
    }
    let keys: HashSet<u64> = hits.iter().map(|h| h.key).collect();
    assert_eq!(keys.len(), hits.len(), "a key came back twice: {hits:?}");
}

fn graph_config(exact_below: usize) -> IndexConfig {
    IndexConfig {
        exact_below,
        ..IndexConfig::default()
    }
}

/// Polls `cond` until it holds or `within` passes.
fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        // The pause between probes of a bounded poll (the deadline above ends it).
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn everything(_: u64) -> bool {
    true
}

#[test]
fn exact_search_equals_brute_force_with_and_without_filter() {
    let mut rng = StdRng::seed_from_u64(1);
    let dim = 37; // not a multiple of the 8-wide dot product, so its tail is exercised
    let data: Vec<(u64, Vec<f32>)> = (0..3000)
        .map(|i| (i * 7 + 3, unit(&mut rng, dim)))
        .collect();
    let index = VectorIndex::new(dim, IndexConfig::default()).unwrap();
    for (key, v) in &data {
        index.upsert(*key, v).unwrap();
    }
    let thirds = |key: u64| key.is_multiple_of(3);
    for _ in 0..20 {
        // Queries of any length: the index normalises them.
        let query: Vec<f32> = unit(&mut rng, dim).iter().map(|x| x * 3.5).collect();
        for filter in [&everything as &dyn Fn(u64) -> bool, &thirds] {
            let hits = index.search(&query, 15, filter).unwrap();
            let want = brute_force(&data, &query, 15, filter);
            assert_eq!(
                hits.iter().map(|h| h.key).collect::<Vec<_>>(),
                want.iter().map(|w| w.0).collect::<Vec<_>>()
            );
            for (h, w) in hits.iter().zip(&want) {
                assert!((f64::from(h.score) - w.1).abs() < 1e-5, "{h:?} vs {w:?}");
                assert!(filter(h.key));
            }
        }
    }
}

#[test]
fn equal_scores_rank_by_key() {
    let index = VectorIndex::new(2, IndexConfig::default()).unwrap();
    for key in [9, 4, 7, 1] {
        index.upsert(key, &[1.0, 0.0]).unwrap();
    }
    let hits = index.search(&[1.0, 0.0], 3, &everything).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.key).collect::<Vec<_>>(),
        vec![1, 4, 7]
    );
}

#[test]
fn upsert_replaces_the_vector() {
    let index = VectorIndex::new(3, IndexConfig::default()).unwrap();
    index.upsert(1, &[1.0, 0.0, 0.0]).unwrap();
    index.upsert(2, &[0.0, 1.0, 0.0]).unwrap();
    index.upsert(1, &[0.0, 0.0, 2.0]).unwrap();
    assert_eq!(index.len(), 2);
    assert_eq!(index.get(1), Some(vec![0.0, 0.0, 1.0]));
    let hits = index.search(&[0.0, 0.0, 1.0], 1, &everything).unwrap();
    assert_eq!(hits, vec![Hit { key: 1, score: 1.0 }]);
    let hits = index.search(&[1.0, 0.0, 0.0], 2, &everything).unwrap();
    assert!(hits.iter().all(|h| h.score.abs() < 1e-6), "{hits:?}");
}

#[test]
fn removal_hides_the_key_and_keeps_the_others_intact() {
    let mut rng = StdRng::seed_from_u64(2);
    let index = VectorIndex::new(8, IndexConfig::default()).unwrap();
    let data: Vec<(u64, Vec<f32>)> = (0..50).map(|i| (i, unit(&mut rng, 8))).collect();
    index
        .bulk_load(data.iter().map(|(k, v)| (*k, v.clone())))
        .unwrap();
    // Removing from the middle moves the last row into the hole.
    assert!(index.remove(10));
    assert!(!index.remove(10));
    assert!(index.remove(0));
    assert_eq!(index.len(), 48);
    assert_eq!(index.get(10), None);
    for (key, v) in &data {
        if *key == 10 || *key == 0 {
            continue;
        }
        let got = index.get(*key).unwrap();
        assert!(
            got.iter().zip(v).all(|(a, b)| (a - b).abs() < 1e-6),
            "key {key}"
        );
    }
    let hits = index.search(&data[10].1, 50, &everything).unwrap();
    assert_eq!(hits.len(), 48);
    assert!(hits.iter().all(|h| h.key != 10 && h.key != 0));
}

#[test]
fn bad_vectors_and_settings_are_errors_not_panics() {
    let index = VectorIndex::new(4, IndexConfig::default()).unwrap();
    let wrong = VectorError::Dimension {
        expected: 4,
        got: 3,
    };
    assert_eq!(index.upsert(1, &[1.0, 2.0, 3.0]), Err(wrong.clone()));
    assert_eq!(
        index.search(&[1.0, 2.0, 3.0], 5, &everything),
        Err(wrong.clone())
    );
    assert_eq!(
        index.search_exact(&[1.0, 2.0, 3.0], 5, &everything),
        Err(wrong)
    );
    assert_eq!(
        index.upsert(1, &[1.0, f32::NAN, 0.0, 0.0]),
        Err(VectorError::NotFinite { position: 1 })
    );
    assert_eq!(
        index.upsert(1, &[f32::MAX, f32::MAX, 0.0, 0.0]),
        Err(VectorError::NotFinite { position: 0 })
    );
    let pairs = vec![(1, vec![1.0, 0.0, 0.0, 0.0]), (2, vec![1.0])];
    assert!(matches!(
        index.bulk_load(pairs),
        Err(VectorError::Dimension { got: 1, .. })
    ));
    // The pair before the bad one stays loaded.
    assert_eq!(index.len(), 1);
    assert!(matches!(
        VectorIndex::new(0, IndexConfig::default()),
        Err(VectorError::Config(_))
    ));
    for config in [
        IndexConfig {
            m: 1000,
            ..IndexConfig::default()
        },
        IndexConfig {
            ef_search: 0,
            ..IndexConfig::default()
        },
        IndexConfig {
            rebuild_tombstone_fraction: 0.0,
            ..IndexConfig::default()
        },
        IndexConfig {
            filter_widening: 1.5,
            ..IndexConfig::default()
        },
        IndexConfig {
            filter_widening: f64::NAN,
            ..IndexConfig::default()
        },
    ] {
        assert!(matches!(
            VectorIndex::new(4, config),
            Err(VectorError::Config(_))
        ));
    }
}

#[test]
fn zero_vectors_and_empty_indexes_answer_without_fuss() {
    let index = VectorIndex::new(3, IndexConfig::default()).unwrap();
    assert!(index
        .search(&[1.0, 0.0, 0.0], 5, &everything)
        .unwrap()
        .is_empty());
    index.upsert(5, &[0.0, 0.0, 0.0]).unwrap();
    let hits = index.search(&[1.0, 0.0, 0.0], 5, &everything).unwrap();
    assert_eq!(hits, vec![Hit { key: 5, score: 0.0 }]);
    assert!(index
        .search(&[1.0, 0.0, 0.0], 0, &everything)
        .unwrap()
        .is_empty());
}

/// 20,000 clustered vectors in graph mode: the graph is built by `bulk_load` and finds at least
/// 95% of the exact top 10, with and without a filter; a filter few keys pass still gets every
/// one of them (the exact fallback).
#[test]
fn graph_mode_recall_and_filters() {
    let mut rng = StdRng::seed_from_u64(3);
    let dim = 32;
    let clusters = Clusters::new(&mut rng, dim, 200, 0.35);
    let data: Vec<(u64, Vec<f32>)> = (0..20_000)
        .map(|i| (i * 2 + 1, clusters.sample(&mut rng)))
        .collect();
    // A cheaper build than the default (which the benchmark tunes for 512 dimensions), so the
    // test stays quick in CI; the recall bar is the same.
    let config = IndexConfig {
        ef_construction: 48,
        ..graph_config(10_000)
    };
    let index = VectorIndex::new(dim, config).unwrap();
    let loaded = index
        .bulk_load(data.iter().map(|(k, v)| (*k, v.as_slice())))
        .unwrap();
    assert_eq!(loaded, 20_000);
    let stats = index.stats();
    assert_eq!(
        (stats.len, stats.graph_nodes, stats.tombstones),
        (20_000, 20_000, 0)
    );

    let queries: Vec<Vec<f32>> = (0..200).map(|_| clusters.sample(&mut rng)).collect();
    let half = |key: u64| (key / 2).is_multiple_of(2);
    let third = |key: u64| (key / 2).is_multiple_of(3);
    for (name, filter) in [
        ("none", &everything as &dyn Fn(u64) -> bool),
        ("a half", &half),
        ("a third", &third),
    ] {
        let mut total = 0.0;
        for q in &queries {
            let hits = index.search(q, 10, filter).unwrap();
            assert_eq!(hits.len(), 10);
            assert_sorted_unique(&hits);
            assert!(
                hits.iter().all(|h| filter(h.key)),
                "filter {name}: {hits:?}"
            );
            total += recall(&hits, &brute_force(&data, q, 10, filter));
        }
        let mean = total / queries.len() as f64;
        assert!(mean >= 0.95, "recall@10 with filter {name}: {mean:.3}");
    }

    // Only five keys pass: HNSW alone would miss some, the fallback finds them all, in order.
    let few: HashSet<u64> = [1, 4001, 8001, 12_001, 39_999].into_iter().collect();
    let selective = |key: u64| few.contains(&key);
    let hits = index.search(&queries[0], 10, &selective).unwrap();
    let want = brute_force(&data, &queries[0], 10, &selective);
    assert_eq!(
        hits.iter().map(|h| h.key).collect::<Vec<_>>(),
        want.iter().map(|w| w.0).collect::<Vec<_>>()
    );
    assert_eq!(
        index.search_hinted(&queries[0], 10, &selective, 5).unwrap(),
        hits
    );
}

/// In graph mode, removed keys never come back, replaced keys score with their new vector, and
/// once tombstones pass the configured fraction the graph is rebuilt in the background.
#[test]
fn graph_mode_tombstones_and_background_rebuild() {
    let mut rng = StdRng::seed_from_u64(4);
    let dim = 32;
    let clusters = Clusters::new(&mut rng, dim, 50, 0.4);
    let config = IndexConfig {
        exact_below: 2_000,
        rebuild_tombstone_fraction: 0.3,
        ..IndexConfig::default()
    };
    let index = VectorIndex::new(dim, config).unwrap();
    let mut data: Vec<(u64, Vec<f32>)> =
        (0..4_000).map(|i| (i, clusters.sample(&mut rng))).collect();
    index
        .bulk_load(data.iter().map(|(k, v)| (*k, v.clone())))
        .unwrap();
    assert_eq!(index.stats().graph_nodes, 4_000);

    // 10% removed, 10% replaced: 800 tombstones of 4,400 nodes, below the 30% that rebuilds.
    let removed: HashSet<u64> = (0..4_000).step_by(10).collect();
    for key in &removed {
        assert!(index.remove(*key));
    }
    for (key, v) in data.iter_mut().filter(|(k, _)| k % 10 == 5) {
        *v = clusters.sample(&mut rng);
        index.upsert(*key, v).unwrap();
    }
    data.retain(|(k, _)| !removed.contains(k));
    let stats = index.stats();
    assert_eq!((stats.graph_nodes, stats.tombstones), (4_400, 800));

    for (key, v) in data.iter().filter(|(k, _)| k % 10 == 5).take(50) {
        let hits = index.search(v, 10, &everything).unwrap();
        assert_eq!(hits[0].key, *key, "a replaced vector is found by itself");
        assert!((hits[0].score - 1.0).abs() < 1e-5);
    }
    for _ in 0..50 {
        let q = clusters.sample(&mut rng);
        let hits = index.search(&q, 20, &everything).unwrap();
        assert_sorted_unique(&hits);
        for h in &hits {
            assert!(!removed.contains(&h.key), "removed key {} returned", h.key);
            let current = &data.iter().find(|(k, _)| *k == h.key).unwrap().1;
            let want: f32 = current.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>()
                / q.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((h.score - want).abs() < 1e-5, "stale score for {}", h.key);
        }
    }

    // Another 800 removals pass 30% (1,600 of 4,400) and start a rebuild.
    let more: HashSet<u64> = data
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| k % 10 == 3 || k % 10 == 4)
        .collect();
    for key in &more {
        index.remove(*key);
    }
    data.retain(|(k, _)| !more.contains(k));
    // The rebuild starts at the removal that crosses 30% and runs beside the rest of them;
    // those it did not see are tombstones of the new graph (at most the 800 of this round),
    // and the old graph's 1,600 are gone.
    let rebuilt = eventually(Duration::from_secs(30), || {
        let s = index.stats();
        !s.rebuilding && s.graph_nodes < 4_400 && s.graph_nodes == s.len + s.tombstones
    });
    assert!(rebuilt, "no rebuild: {:?}", index.stats());
    assert_eq!(index.len(), data.len());
    let q = clusters.sample(&mut rng);
    let hits = index.search(&q, 10, &everything).unwrap();
    assert!(recall(&hits, &brute_force(&data, &q, 10, &everything)) >= 0.8);
}

#[test]
fn crossing_the_threshold_builds_a_graph_in_the_background() {
    let mut rng = StdRng::seed_from_u64(5);
    let index = VectorIndex::new(16, graph_config(500)).unwrap();
    for key in 0..499 {
        index.upsert(key, &unit(&mut rng, 16)).unwrap();
    }
    assert_eq!(
        index.stats().graph_nodes,
        0,
        "exact mode below the threshold"
    );
    for key in 499..600 {
        index.upsert(key, &unit(&mut rng, 16)).unwrap();
    }
    let built = eventually(Duration::from_secs(30), || {
        let s = index.stats();
        !s.rebuilding && s.graph_nodes == 600 && s.tombstones == 0
    });
    assert!(built, "no graph: {:?}", index.stats());
}

/// Searches run while other threads upsert, replace and remove (crossing into graph mode and
/// through rebuilds): nothing panics, answers stay ordered and full, and keys removed before
/// the searches started never come back.
#[test]
fn searches_run_concurrently_with_writes() {
    let mut rng = StdRng::seed_from_u64(6);
    let dim = 24;
    let config = IndexConfig {
        exact_below: 1_000,
        rebuild_tombstone_fraction: 0.2,
        ..IndexConfig::default()
    };
    let index = VectorIndex::new(dim, config).unwrap();
    let initial: Vec<(u64, Vec<f32>)> = (0..900).map(|i| (i, unit(&mut rng, dim))).collect();
    index.bulk_load(initial).unwrap();
    let gone: Vec<u64> = (0..900).step_by(3).collect();
    for key in &gone {
        index.remove(*key);
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut rng = StdRng::seed_from_u64(7);
            for round in 0..4_000u64 {
                let key = 1_000 + rng.gen_range(0..1_500u64);
                if round % 5 == 4 {
                    index.remove(key);
                } else {
                    index.upsert(key, &unit(&mut rng, dim)).unwrap();
                }
            }
            done.store(true, Ordering::Release);
        });
        let searchers: Vec<_> = (0..2)
            .map(|seed| {
                let (index, gone, done) = (&index, &gone, &done);
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(100 + seed);
                    let mut searches = 0;
                    while !done.load(Ordering::Acquire) || searches < 100 {
                        let q = unit(&mut rng, dim);
                        let odd = |key: u64| key % 2 == 1;
                        let filter: &dyn Fn(u64) -> bool =
                            if searches % 2 == 0 { &everything } else { &odd };
                        let hits = index.search(&q, 10, filter).unwrap();
                        assert_eq!(hits.len(), 10);
                        assert_sorted_unique(&hits);
                        assert!(hits.iter().all(|h| filter(h.key) && !gone.contains(&h.key)));
                        searches += 1;
                    }
                    searches
                })
            })
            .collect();
        writer.join().unwrap();
        for s in searchers {
            assert!(s.join().unwrap() >= 100);
        }
    });
    let graph = eventually(Duration::from_secs(30), || {
        let s = index.stats();
        !s.rebuilding && s.len > 1_000 && s.graph_nodes >= s.len
    });
    assert!(graph, "no graph after the writes: {:?}", index.stats());
}

#[test]
fn quantised_vectors_keep_dot_products_close() {
    use crate::graph::{dot_quantised, quantise};
    // The largest value maps to ±127 and the scale comes back exactly.
    let q = quantise(&[0.6, -0.8, 0.0]);
    assert_eq!(&q[4..], &[95, -127, 0]);
    assert!((dot_quantised(&q, &q) - 1.0).abs() < 1e-2);
    // An all-zero vector has no direction: every dot product with it is 0.
    let zero = quantise(&[0.0; 8]);
    assert_eq!(dot_quantised(&zero, &quantise(&[1.0; 8])), 0.0);
    let mut rng = StdRng::seed_from_u64(16);
    for dim in [3, 8, 17, 512] {
        for _ in 0..50 {
            let (a, b) = (unit(&mut rng, dim), unit(&mut rng, dim));
            let exact: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let approx = dot_quantised(&quantise(&a), &quantise(&b));
            assert!((exact - approx).abs() < 1e-2, "{dim}: {exact} vs {approx}");
        }
    }
}

#[test]
fn filter_widening_is_tunable_and_clamped() {
    let index = VectorIndex::new(4, IndexConfig::default()).unwrap();
    assert_eq!(index.filter_widening(), 0.35);
    index.set_filter_widening(0.25);
    assert_eq!(index.filter_widening(), 0.25);
    index.set_filter_widening(3.0);
    assert_eq!(index.filter_widening(), 1.0);
    index.set_filter_widening(-1.0);
    assert_eq!(index.filter_widening(), 0.0);
    index.set_filter_widening(f64::NAN);
    assert_eq!(index.filter_widening(), 1.0);
}
