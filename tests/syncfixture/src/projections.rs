//! The fixture's three projections of notes, one per derived store, and the mapping from its
//! events to changes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use prost::Message;
use talentmesh_proto::events::v1::Envelope;
use talentmesh_storage::projection::{
    Change, ChangeOf, Neo4jNodes, PgDocuments, Projection, RedisHashes,
};
use talentmesh_storage::{Result, Stores};

use crate::notes::{change_of_note, EVENT_TYPE};
use crate::pb::{Note, NoteChanged};

pub const SEARCH: &str = "notes_search";
pub const GRAPH: &str = "notes_graph";
pub const CACHE: &str = "notes_cache";

/// Reads the note out of a `NoteChanged` event; other events are not ours.
pub fn change_of() -> ChangeOf {
    Arc::new(|envelope: &Envelope| {
        if envelope.r#type != EVENT_TYPE {
            return Ok(None);
        }
        let payload = envelope
            .payload
            .as_ref()
            .ok_or_else(|| "event has no payload".to_string())?;
        let event = NoteChanged::decode(payload.value.as_slice())
            .map_err(|e| format!("undecodable NoteChanged: {e}"))?;
        let note = event
            .note
            .ok_or_else(|| "NoteChanged without a note".to_string())?;
        if note.version != envelope.entity_version {
            return Err(format!(
                "note version {} differs from the envelope's {}",
                note.version, envelope.entity_version
            ));
        }
        Ok(Some(change_of_note(&note)))
    })
}

fn note_of(change: &Change) -> std::result::Result<Note, String> {
    Note::decode(change.state.as_slice()).map_err(|e| format!("undecodable note state: {e}"))
}

/// Turns notes titled "poison…" into failures while set: how tests make a poison event and
/// then "deploy the fix" by clearing it.
#[derive(Clone, Default)]
pub struct PoisonSwitch(Arc<AtomicBool>);

impl PoisonSwitch {
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }

    fn check(&self, note: &Note) -> std::result::Result<(), String> {
        if self.0.load(Ordering::SeqCst) && note.title.starts_with("poison") {
            Err(format!("note {} cannot be indexed (poison)", note.id))
        } else {
            Ok(())
        }
    }
}

/// The three projections over `stores`.
pub fn all(stores: &Stores, poison: &PoisonSwitch) -> Result<Vec<Arc<dyn Projection>>> {
    let pg = stores.postgres()?.clone();
    let graph = stores.neo4j()?.clone();
    let redis = stores.redis()?.clone();
    let switch = poison.clone();
    let search = PgDocuments::new(
        SEARCH,
        crate::notes::ENTITY,
        "note_search",
        pg,
        Arc::new(move |c: &Change| {
            let note = note_of(c)?;
            switch.check(&note)?;
            Ok(serde_json::json!({"title": note.title, "body": note.body, "tags": note.tags}))
        }),
    )?
    // What the service searches by: words of title, body and tags.
    .with_ddl(
        "ALTER TABLE note_search ADD COLUMN IF NOT EXISTS search tsvector GENERATED ALWAYS AS \
         (to_tsvector('simple', coalesce(doc->>'title', '') || ' ' || coalesce(doc->>'body', '') \
          || ' ' || coalesce(doc->>'tags', ''))) STORED",
    )
    .with_ddl(
        // fastupdate off: every insert updates the index itself. With the default pending list,
        // the insert that finds it full merges it, a stall of a few hundred ms for that batch.
        "CREATE INDEX IF NOT EXISTS note_search_search ON note_search USING gin (search) \
         WITH (fastupdate = off)",
    );
    let tags = Neo4jNodes::new(
        GRAPH,
        crate::notes::ENTITY,
        "Note",
        &stores.neo4j_namespace,
        graph,
        Arc::new(|c: &Change| {
            let note = note_of(c)?;
            Ok(serde_json::json!({"title": note.title, "tags": note.tags}))
        }),
    )?
    .with_schema("CREATE INDEX tag_ns_name IF NOT EXISTS FOR (t:Tag) ON (t.ns, t.name)")
    // Each note links to its tags; a newer version replaces the links, a tombstone drops them.
    .with_relationships(
        "UNWIND $rows AS r
         MATCH (n:Note {key: r.key}) WHERE n.version = r.version
         OPTIONAL MATCH (n)-[old:TAGGED]->(:Tag)
         DELETE old
         WITH DISTINCT n, r
         UNWIND (CASE WHEN r.deleted THEN [] ELSE coalesce(r.props.tags, []) END) AS tag
         MERGE (t:Tag {ns: $ns, name: tag})
         MERGE (n)-[:TAGGED]->(t)",
    );
    let cache = RedisHashes::new(
        CACHE,
        crate::notes::ENTITY,
        "note",
        redis,
        Arc::new(|c: &Change| {
            let note = note_of(c)?;
            Ok(serde_json::json!({"title": note.title, "body": note.body, "tags": note.tags}))
        }),
    );
    Ok(vec![Arc::new(search), Arc::new(tags), Arc::new(cache)])
}
