//! What can go wrong computing embeddings: only a model server can fail.

/// Why [`Embedder::embed`](crate::Embedder::embed) gave no vectors.
///
/// [`is_transient`](EmbedError::is_transient) tells the failures worth another try (the server
/// down, slow or overloaded) from those where the same request fails the same way again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// The model server could not be reached: connection refused (nothing listens there), no
    /// route, the connection dropped before an answer. Transient.
    #[error("embedding server {url} unreachable: {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What the HTTP client reported.
        reason: String,
    },
    /// The model server did not answer within the configured timeout. Transient.
    #[error("embedding server {url} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The URL called.
        url: String,
        /// The timeout of one request, in milliseconds.
        timeout_ms: u64,
    },
    /// The model server answered with an HTTP error status. `message` is the server's own
    /// (`error.message` of an OpenAI-style error body), or the start of the body otherwise.
    /// Transient for 429, 502, 503 and 504 only.
    #[error("embedding server {url} answered {status}: {message}")]
    Status {
        /// The URL called.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// What the server said went wrong (at most 300 characters).
        message: String,
    },
    /// The server answered vectors of another length than configured: the server runs another
    /// model than the one the embedder was set up for.
    #[error("embedding server answered vectors of {got} values, expected {expected}")]
    WrongDimensions {
        /// The configured [`Embedder::dimensions`](crate::Embedder::dimensions).
        expected: usize,
        /// The length of the vector the server answered.
        got: usize,
    },
    /// The server answered another number of vectors than texts were sent.
    #[error("embedding server answered {got} vectors for {expected} texts")]
    WrongCount {
        /// Texts sent in the request.
        expected: usize,
        /// Vectors in the answer.
        got: usize,
    },
    /// The model server answered, but not with the vectors asked for: a body that is not the
    /// expected JSON, a repeated or out-of-range index, non-finite values.
    #[error("embedding server gave a bad answer: {0}")]
    BadAnswer(String),
    /// The embedder was configured with values it cannot work with (no URL, zero dimensions).
    #[error("bad embedder configuration: {0}")]
    Config(String),
}

impl EmbedError {
    /// Whether the same request may succeed if tried again later: the server unreachable, slow,
    /// rate-limiting (429) or behind a failing proxy or restarting (502, 503, 504).
    pub fn is_transient(&self) -> bool {
        match self {
            EmbedError::Unreachable { .. } | EmbedError::Timeout { .. } => true,
            EmbedError::Status { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            EmbedError::WrongDimensions { .. }
            | EmbedError::WrongCount { .. }
            | EmbedError::BadAnswer(_)
            | EmbedError::Config(_) => false,
        }
    }
}
