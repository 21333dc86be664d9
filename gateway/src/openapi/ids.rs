//! What a path segment that carries an id may hold, so the document promises no more than the
//! services accept (`GET /v1/companies/0` is a 400: no company id looks like that).
//!
//! The contracts say where ids go (`companies/*/jobs/*`) but not what they look like, so one
//! mesh-wide convention fills the gap: the ids a service assigns (`uuid::Uuid::now_v7` in every
//! service that creates resources) are hyphenated UUIDs, and the collections below hold only
//! such ids. Any other id segment is at least one character with no `/` and no control
//! character, which is what every service's name parser requires. When the contracts gain a
//! format annotation for ids, this table gives way to it.

use serde_json::{json, Value as Json};

/// Collections (the literal segment before the id) whose ids are UUIDs the services assign.
/// A member's id is its user's id.
const UUID_COLLECTIONS: &[&str] = &[
    "companies",
    "jobs",
    "applications",
    "resumes",
    "offices",
    "relations",
    "invitations",
    "members",
    "users",
];

/// Whether the ids of `collection` are UUIDs the services assign.
pub(super) fn is_uuid_collection(collection: &str) -> bool {
    UUID_COLLECTIONS.contains(&collection)
}

/// A hyphenated UUID, any version, either case (what `uuid::Uuid::parse_str` takes at 36
/// characters).
pub(super) const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// One path segment of text: not empty, no `/`, no control characters.
const SEGMENT_PATTERN: &str = "^[^/\\u0000-\\u001f\\u007f]+$";

/// The schema of the id segment after `collection` (`None` when the template has no literal
/// before it). `rest` is a `**` segment, which may hold several segments.
pub(super) fn segment_schema(collection: Option<&str>, rest: bool) -> Json {
    match collection {
        Some(c) if !rest && UUID_COLLECTIONS.contains(&c) => {
            json!({ "type": "string", "format": "uuid", "pattern": UUID_PATTERN })
        }
        _ if rest => json!({ "type": "string" }),
        _ => json!({ "type": "string", "minLength": 1, "pattern": SEGMENT_PATTERN }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_assigned_collections_are_uuids_and_others_plain_segments() {
        assert_eq!(segment_schema(Some("companies"), false)["format"], "uuid");
        assert_eq!(segment_schema(Some("publicKeys"), false)["minLength"], 1);
        assert!(segment_schema(Some("companies"), true)
            .get("format")
            .is_none());
        assert!(segment_schema(None, false)["pattern"]
            .as_str()
            .unwrap()
            .contains('/'));
    }
}
