//! Text embeddings for matching resumes to jobs, and the one skill vocabulary of the mesh.
//!
//! - [`skills`]: canonical skill names and the ways people write them in English and Chinese
//!   (`k8s`, `容器编排` → `kubernetes`). The resume service analyses resumes with it and the
//!   matching service embeds with it, so both always agree on what a skill is called.
//! - [`Embedder`]: texts in, one L2-normalised `f32` vector per text out, of a fixed
//!   [`Embedder::dimensions`]. Two implementations:
//!   - [`BuiltinEmbedder`]: no server, deterministic, 512 dimensions; signed feature hashing of
//!     words, Chinese character unigrams and bigrams, and canonical skills (weighted higher).
//!   - [`HttpEmbedder`]: a client of an OpenAI-compatible `POST {base}/v1/embeddings` server
//!     (a multilingual E5 model, say), with a timeout and batching.
//! - [`cosine`] and [`dot`] compare vectors (for unit vectors they are the same number).
//!
//! [`AnyEmbedder`] picks one of the two at configuration time without `dyn`.

mod builtin;
mod error;
mod http;
pub mod skills;
mod vector;

use std::future::Future;

pub use builtin::{BuiltinEmbedder, BUILTIN_DIMENSIONS, BUILTIN_NAME};
pub use error::EmbedError;
pub use http::{HttpConfig, HttpEmbedder};
pub use vector::{cosine, dot, l2_normalise};

/// A text embedding model.
///
/// Shapes: for `texts` of length `n`, `embed` answers `n` vectors in the order of `texts`, each
/// of length [`dimensions`](Embedder::dimensions), with L2 norm 1 — except the vector of a text
/// with nothing to embed (empty, or only spaces and punctuation, for the builtin embedder),
/// which is all zeros and so has cosine 0 with everything. An empty `texts` answers an empty
/// list without any work. Vectors of different [`name`](Embedder::name)s are not comparable.
pub trait Embedder {
    /// The vectors of `texts`, one per text, in order.
    ///
    /// Errors: [`EmbedError::Unreachable`] when a model server cannot be reached or does not
    /// answer in time, [`EmbedError::BadAnswer`] when it answers something other than the
    /// vectors asked for. The builtin embedder never fails.
    fn embed(
        &self,
        texts: &[String],
    ) -> impl Future<Output = Result<Vec<Vec<f32>>, EmbedError>> + Send;

    /// The length of every vector this embedder answers.
    fn dimensions(&self) -> usize;

    /// The model's name, with its version: stored vectors are recomputed when it changes.
    fn name(&self) -> &str;
}

/// One of the embedders, chosen by configuration (builtin when no model server is set up).
#[derive(Debug, Clone)]
pub enum AnyEmbedder {
    /// The deterministic, serverless [`BuiltinEmbedder`].
    Builtin(BuiltinEmbedder),
    /// A model server behind [`HttpEmbedder`].
    Http(HttpEmbedder),
}

impl Embedder for AnyEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        match self {
            AnyEmbedder::Builtin(e) => e.embed(texts).await,
            AnyEmbedder::Http(e) => e.embed(texts).await,
        }
    }

    fn dimensions(&self) -> usize {
        match self {
            AnyEmbedder::Builtin(e) => e.dimensions(),
            AnyEmbedder::Http(e) => e.dimensions(),
        }
    }

    fn name(&self) -> &str {
        match self {
            AnyEmbedder::Builtin(e) => e.name(),
            AnyEmbedder::Http(e) => e.name(),
        }
    }
}
