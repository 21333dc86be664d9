//! What can go wrong computing embeddings: only a model server can fail.

/// Why [`Embedder::embed`](crate::Embedder::embed) gave no vectors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// The model server could not be reached, refused the connection, or did not answer within
    /// the timeout. Worth retrying later.
    #[error("embedding server {url} unreachable: {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What the HTTP client reported.
        reason: String,
    },
    /// The model server answered, but not with the vectors asked for: an error status, a body
    /// that is not the expected JSON, a missing or repeated index, a vector of the wrong length
    /// or with non-finite values. Retrying the same request will not help.
    #[error("embedding server gave a bad answer: {0}")]
    BadAnswer(String),
    /// The embedder was configured with values it cannot work with (no URL, zero dimensions).
    #[error("bad embedder configuration: {0}")]
    Config(String),
}
