//! Text as the mesh receives it from people: one normal form for everything that is searched,
//! and one validator for every text field a service accepts.
//!
//! - [`normalise_for_search`] folds what a reader takes for the same text to the same string:
//!   Unicode NFKC (full-width `Ｒｕｓｔ` and half-width `ｶﾅ` to their usual forms, ligatures and
//!   circled digits apart), lower case, and traditional Chinese to simplified (`工程師` →
//!   `工程师`). Indexes store text in this form and queries are put in it before they are
//!   compared, so both sides always agree. [`document_tokens`] and [`query_tokens`] cut the
//!   normal form into the terms an inverted index holds (words, and Chinese characters and
//!   character pairs).
//! - [`check_text`] is the boundary rule for text fields: no control characters (tab, line feed
//!   and carriage return only in multi-line fields), no Unicode noncharacters, and in a
//!   single-line field no line or paragraph separator. PostgreSQL cannot store U+0000 in `text`
//!   or `jsonb` at all, so text refused here never reaches a projection that would fail on it.
//!
//! Pure functions, no I/O: services call them in their domain checks and store projections.

mod normalise;
mod tokens;
mod validate;

pub use normalise::{is_han, normalise_for_search, search_key};
pub use tokens::{document_tokens, query_tokens};
pub use validate::{check_text, Lines};

/// The version of the search normal form ([`normalise_for_search`], [`document_tokens`]).
/// Projections store it beside the terms they index and mark rows of another version stale
/// when they install, so the repair the sync runtime starts right after install re-projects
/// text indexed under an older form. Bump it whenever the form of existing text changes.
pub const SEARCH_FORM: u32 = 1;
