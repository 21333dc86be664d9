use super::*;
use crate::domain::score::ComponentKind;

/// A fixed-seed generator (SplitMix64), so the synthetic sets are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Queries whose grades depend on one component only; the others are noise.
fn synthetic(
    seed: u64,
    queries: usize,
    per_query: usize,
    signal: ComponentKind,
) -> Vec<FeedbackSample> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for q in 0..queries {
        for _ in 0..per_query {
            let components: [f64; 8] = std::array::from_fn(|_| rng.next());
            let grade = (components[signal.index()] * 5.0).floor().min(4.0) as u8;
            out.push(FeedbackSample {
                query: format!("resumes/{q}"),
                components,
                grade,
            });
        }
    }
    out
}

#[test]
fn ndcg_of_known_rankings() {
    assert_eq!(ndcg_at(10, &[3, 2, 1, 0]), 1.0);
    assert_eq!(ndcg_at(10, &[0, 0]), 0.0);
    assert_eq!(ndcg_at(0, &[1]), 0.0);
    // [0, 1]: DCG = 1/log2(3), ideal = 1.
    let v = ndcg_at(10, &[0, 1]);
    assert!((v - 1.0 / 3f64.log2()).abs() < 1e-12, "{v}");
    // Beyond the cutoff nothing counts.
    assert_eq!(ndcg_at(1, &[0, 4]), 0.0);
    let worse = ndcg_at(10, &[1, 2, 3]);
    assert!(worse > 0.0 && worse < 1.0);
}

#[test]
fn evaluate_skips_queries_without_a_positive_grade() {
    let s = |query: &str, v: f64, grade: u8| FeedbackSample {
        query: query.into(),
        components: [v, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        grade,
    };
    let samples = [
        s("a", 0.9, 2),
        s("a", 0.1, 0),
        s("b", 0.9, 0),
        s("b", 0.1, 0),
    ];
    assert_eq!(evaluate(&samples, &Weights::default()), 1.0);
    assert_eq!(evaluate(&[], &Weights::default()), 0.0);
}

#[test]
fn tuning_finds_the_component_that_decides_outcomes() {
    let signal = ComponentKind::Distance;
    let train = synthetic(7, 40, 20, signal);
    let held_back = synthetic(8, 40, 20, signal);
    let start = Weights::default();
    let tuned = tune(&train, &start);

    let (before, after) = (evaluate(&held_back, &start), evaluate(&held_back, &tuned));
    assert!(
        after > before + 0.1,
        "held-back NDCG@10 {before:.3} → {after:.3}"
    );
    assert!(evaluate(&train, &tuned) >= evaluate(&train, &start));

    let w = tuned.to_array();
    assert!(tuned.get(signal) > start.get(signal), "{tuned:?}");
    assert!(
        w.iter().all(|&x| x <= tuned.get(signal)),
        "the signal should weigh most: {tuned:?}"
    );
    assert!(w.iter().all(|&x| x >= 0.0));
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
}

#[test]
fn tuning_is_deterministic_and_safe_on_degenerate_input() {
    let train = synthetic(11, 10, 10, ComponentKind::Semantic);
    assert_eq!(
        tune(&train, &Weights::default()),
        tune(&train, &Weights::default())
    );
    let nothing = tune(&[], &Weights::default());
    assert_eq!(nothing, Weights::default().normalised());
    let zero = Weights::from_array([0.0; 8]);
    let w = tune(&train, &zero).to_array();
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
}

#[test]
fn weights_round_trip_through_json_and_missing_fields_take_defaults() {
    let w = Weights::default();
    let json = serde_json::to_string(&w).unwrap();
    assert!(json.contains("\"required_skills\":0.2"), "{json}");
    assert_eq!(serde_json::from_str::<Weights>(&json).unwrap(), w);
    let partial: Weights = serde_json::from_str(r#"{"semantic": 0.5}"#).unwrap();
    assert_eq!(partial.semantic, 0.5);
    assert_eq!(partial.distance, w.distance);
    assert!((w.to_array().iter().sum::<f64>() - 1.0).abs() < 1e-12);
}
