//! The builtin embedder: no model server, no model file, the same vector for the same text on
//! every machine and every run.
//!
//! Technique: signed feature hashing ("the hashing trick", Weinberger, Dasgupta, Langford,
//! Smola, Attenberg, *Feature Hashing for Large Scale Multitask Learning*, ICML 2009). Each
//! feature is hashed to one of [`BUILTIN_DIMENSIONS`] buckets and, by one more hash bit, to a
//! sign `±1`, so colliding features cancel in expectation instead of piling up and inner
//! products of hashed vectors are unbiased estimates of those of the unhashed ones.

use std::collections::BTreeMap;

use crate::skills;
use crate::vector::l2_normalise;
use crate::{EmbedError, EmbedRole, Embedder};

/// The length of builtin vectors. 512 buckets keep collisions rare for the few hundred distinct
/// features of a resume or a job posting while vectors stay 2 KiB.
pub const BUILTIN_DIMENSIONS: usize = 512;

/// The builtin embedder's [`Embedder::name`]. The `v1` changes whenever features, weights,
/// the hash or the vocabulary change in a way that moves existing vectors.
pub const BUILTIN_NAME: &str = "builtin-hash-512-v1";

/// Weight of an English (or any non-Han) word.
const WORD_WEIGHT: f32 = 1.0;
/// Weight of one Chinese character: some meaning alone (`师`), less than a pair.
const HAN_UNIGRAM_WEIGHT: f32 = 0.5;
/// Weight of a pair of adjacent Chinese characters, the usual length of a Chinese word (`工程`).
const HAN_BIGRAM_WEIGHT: f32 = 1.0;
/// Weight of a canonical skill of the vocabulary: what matching cares about most, and what
/// makes `k8s`, `容器编排` and `Kubernetes` meet although they share no word or character.
const SKILL_WEIGHT: f32 = 3.0;

/// A deterministic embedder of resumes and job texts: features of the
/// `talentmesh_text::normalise_for_search` form of a text (so full-width `Ｋ８ｓ`, `K8S` and
/// `k8s`, and traditional `後端` and simplified `后端`, give the same vector) are
/// - its words (runs of letters and digits, keeping `+ # .` inside: `c++`, `node.js`),
/// - of each run of Chinese characters every character and every adjacent pair,
/// - the canonical names of the [`skills`] it mentions, weighted higher,
///
/// each counted with sublinear term frequency `1 + ln(count)` times its weight, hashed into
/// [`BUILTIN_DIMENSIONS`] signed buckets, and L2-normalised.
///
/// Text with no feature (empty, only spaces or punctuation) gets the zero vector. Never fails;
/// `embed` does no I/O and completes at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinEmbedder;

impl BuiltinEmbedder {
    /// The builtin embedder (it has no settings).
    pub fn new() -> BuiltinEmbedder {
        BuiltinEmbedder
    }

    /// The vector of one text: [`BUILTIN_DIMENSIONS`] values, L2 norm 1 (or all zeros for a
    /// text with no feature). The synchronous form of [`Embedder::embed`].
    pub fn embed_text(&self, text: &str) -> Vec<f32> {
        let normal = talentmesh_text::normalise_for_search(text);
        // Ordered, so the float sums below run in one order and the vector is bit-identical
        // from run to run (a HashMap's random order would change the last bits).
        let mut counts: BTreeMap<String, (f32, usize)> = BTreeMap::new();
        let mut add = |feature: String, weight: f32, n: usize| {
            counts.entry(feature).or_insert((weight, 0)).1 += n;
        };
        for piece in pieces(&normal) {
            match piece {
                Piece::Word(w) => add(format!("w:{w}"), WORD_WEIGHT, 1),
                Piece::Han(run) => {
                    for c in &run {
                        add(format!("c:{c}"), HAN_UNIGRAM_WEIGHT, 1);
                    }
                    for pair in run.windows(2) {
                        add(format!("b:{}{}", pair[0], pair[1]), HAN_BIGRAM_WEIGHT, 1);
                    }
                }
            }
        }
        for (skill, n) in skills::mention_counts(&normal) {
            add(format!("s:{skill}"), SKILL_WEIGHT, n);
        }
        let mut v = vec![0.0f32; BUILTIN_DIMENSIONS];
        for (feature, (weight, n)) in counts {
            let h = hash(&feature);
            // Bucket from the low bits, sign from the top bit of the mixed hash.
            let bucket = (h % BUILTIN_DIMENSIONS as u64) as usize;
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            v[bucket] += sign * weight * (1.0 + (n as f32).ln());
        }
        l2_normalise(&mut v);
        v
    }
}

/// The role is ignored: queries and passages are embedded alike.
impl Embedder for BuiltinEmbedder {
    async fn embed(&self, _role: EmbedRole, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.embed_text(t)).collect())
    }

    fn dimensions(&self) -> usize {
        BUILTIN_DIMENSIONS
    }

    fn name(&self) -> &str {
        BUILTIN_NAME
    }
}

/// A stable 64-bit hash: FNV-1a over the UTF-8 bytes, then the SplitMix64 finaliser so the low
/// bits (the bucket) and the top bit (the sign) are well mixed. Written out rather than taken
/// from `std` because `DefaultHasher` may change between Rust releases and vectors are stored.
pub(crate) fn hash(feature: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in feature.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A word, or a run of Chinese characters.
enum Piece {
    Word(String),
    Han(Vec<char>),
}

/// The words and Han runs of `normal` (already in normal form), cut as `talentmesh_text`'s
/// index terms are: words of letters and digits keep `+ # .` inside, a trailing `.` is
/// punctuation. Every occurrence is kept: the embedder counts them.
fn pieces(normal: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    fn flush(word: &mut String, run: &mut Vec<char>, out: &mut Vec<Piece>) {
        let kept = word.trim_end_matches('.');
        if !kept.is_empty() {
            out.push(Piece::Word(kept.to_string()));
        }
        word.clear();
        if !run.is_empty() {
            out.push(Piece::Han(std::mem::take(run)));
        }
    }
    for c in normal.chars() {
        if talentmesh_text::is_han(c) {
            if !word.is_empty() {
                flush(&mut word, &mut Vec::new(), &mut out);
            }
            run.push(c);
        } else if c.is_alphanumeric() || (!word.is_empty() && matches!(c, '+' | '#' | '.')) {
            if !run.is_empty() {
                flush(&mut String::new(), &mut run, &mut out);
            }
            word.push(c);
        } else {
            flush(&mut word, &mut run, &mut out);
        }
    }
    flush(&mut word, &mut run, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "builtin_tests.rs"]
mod tests;
