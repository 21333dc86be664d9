//! A combination of two embedders: each text's two vectors, weighted and concatenated.
//!
//! For unit blocks `a`, `b` with weights `wa`, `wb`, the cosine of two hybrid vectors is
//! `(wa² cos(a, a') + wb² cos(b, b')) / (wa² + wb²)`: a weighted mean of the two embedders'
//! cosines, so one vector index serves the combined score (the usual dense + sparse fusion by
//! concatenation, e.g. Lin and Ma, *A Few Brief Notes on DeepImpact, COIL, and a Conceptual
//! Framework for Information Retrieval Techniques*, 2021, and Weaviate/Vespa hybrid scoring).
//! A block that is the zero vector (no known skill, say) adds nothing.

use crate::vector::concat_weighted;
use crate::{EmbedError, EmbedRole, Embedder};

/// An [`Embedder`] whose vector of a text is `[wa·a, wb·b]` L2-normalised, `a` and `b` being the
/// vectors of `first` and `second`: [`dimensions`](Embedder::dimensions) is the sum of theirs.
/// Both embedders see the same role. Errors are those of either embedder (first first).
///
/// The name, `hybrid:{wa}*{first}+{wb}*{second}`, holds both names and both weights, so
/// stored vectors are stale when any of them changes.
#[derive(Debug, Clone)]
pub struct HybridEmbedder<A, B> {
    first: A,
    first_weight: f32,
    second: B,
    second_weight: f32,
    name: String,
}

impl<A: Embedder, B: Embedder> HybridEmbedder<A, B> {
    /// `first` weighted `first_weight`, `second` weighted `second_weight`. Only the ratio of
    /// the weights matters. [`EmbedError::Config`] for a negative or non-finite weight, or two
    /// zero weights.
    pub fn new(
        first: A,
        first_weight: f32,
        second: B,
        second_weight: f32,
    ) -> Result<HybridEmbedder<A, B>, EmbedError> {
        let ok = |w: f32| w.is_finite() && w >= 0.0;
        if !ok(first_weight) || !ok(second_weight) || first_weight + second_weight == 0.0 {
            return Err(EmbedError::Config(format!(
                "hybrid weights must be finite, at least 0 and not both 0 \
                 (got {first_weight} and {second_weight})"
            )));
        }
        let name = format!(
            "hybrid:{first_weight}*{}+{second_weight}*{}",
            first.name(),
            second.name()
        );
        Ok(HybridEmbedder {
            first,
            first_weight,
            second,
            second_weight,
            name,
        })
    }
}

impl<A, B> Embedder for HybridEmbedder<A, B>
where
    A: Embedder + Sync,
    B: Embedder + Sync,
{
    async fn embed(&self, role: EmbedRole, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let a = self.first.embed(role, texts).await?;
        let b = self.second.embed(role, texts).await?;
        Ok(a.iter()
            .zip(&b)
            .map(|(a, b)| concat_weighted(&[(a, self.first_weight), (b, self.second_weight)]))
            .collect())
    }

    fn dimensions(&self) -> usize {
        self.first.dimensions() + self.second.dimensions()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{cosine, BuiltinEmbedder, VocabularyEmbedder};

    #[tokio::test]
    async fn the_cosine_is_the_weighted_mean_of_the_blocks_cosines() {
        let (b, s) = (BuiltinEmbedder::new(), VocabularyEmbedder::skills());
        let h = HybridEmbedder::new(b, 1.0, s.clone(), 2.0).unwrap();
        assert_eq!(h.dimensions(), b.dimensions() + s.dimensions());
        let texts = [
            "熟悉k8s和Rust的后端",
            "Kubernetes, Rust and Go backend engineer",
        ]
        .map(String::from)
        .to_vec();
        let v = h.embed(EmbedRole::Passage, &texts).await.unwrap();
        let cb = cosine(&b.embed_text(&texts[0]), &b.embed_text(&texts[1]));
        let cs = cosine(&s.embed_text(&texts[0]), &s.embed_text(&texts[1]));
        let expected = (cb + 4.0 * cs) / 5.0;
        assert!((cosine(&v[0], &v[1]) - expected).abs() < 1e-5);
        assert_eq!(h.name(), format!("hybrid:1*{}+2*{}", b.name(), s.name()));
    }

    #[test]
    fn weights_are_checked() {
        let (b, s) = (BuiltinEmbedder::new(), VocabularyEmbedder::skills());
        for (wa, wb) in [
            (-1.0, 1.0),
            (0.0, 0.0),
            (f32::NAN, 1.0),
            (1.0, f32::INFINITY),
        ] {
            assert!(matches!(
                HybridEmbedder::new(b, wa, s.clone(), wb),
                Err(EmbedError::Config(_))
            ));
        }
    }
}
