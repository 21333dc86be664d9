//! What the vector index refuses: vectors of the wrong length, non-finite values, and settings
//! it cannot work with. Nothing else fails; a search over an empty index answers no hits.

/// Why an index call was refused. No call panics on bad input; it answers one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VectorError {
    /// A vector (stored or query) whose length is not the index's dimension: a vector from
    /// another embedding model than the one the index was made for.
    #[error("vector has {got} dimensions, the index has {expected}")]
    Dimension {
        /// The index's dimension ([`VectorIndex::dim`](crate::VectorIndex::dim)).
        expected: usize,
        /// The length of the vector given.
        got: usize,
    },
    /// A vector with a NaN or an infinite value, which has no place in any ranking.
    #[error("vector value {position} is not a finite number")]
    NotFinite {
        /// The index of the first bad value.
        position: usize,
    },
    /// [`IndexConfig`](crate::IndexConfig) values the index cannot work with (zero dimensions,
    /// `m` outside `2..=128`, an `ef` of zero, a rebuild fraction outside `(0, 1]`).
    #[error("bad vector index configuration: {0}")]
    Config(String),
}

/// The result of index calls.
pub type Result<T> = std::result::Result<T, VectorError>;
