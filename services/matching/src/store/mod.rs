//! Every query of the matching service.
//!
//! - `documents` — MySQL: the jobs and resumes matching keeps (the source of the embeddings),
//!   resume versions, companies, applications (feedback), weights; the outbox.
//! - `embeddings` — PostgreSQL: the embeddings projection (one vector per live document).
//! - `index` — the in-memory vector index each instance keeps from the embeddings.
//! - `skills` — related skills learned from co-occurrence, in Neo4j.

pub mod documents;
pub mod embeddings;
pub mod index;
pub mod skills;

pub use documents::{Application, Documents, Kind, Stored};
pub use embeddings::Embeddings;
pub use index::{Found, Index};
