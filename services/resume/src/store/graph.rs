//! The resume graph in Neo4j: `(:Candidate)-[:OWNS]->(:Resume)-[:HAS_SKILL {years}]->(:Skill)`.
//! Candidates and skills live in the shared graph namespace (the company service's, by default)
//! where jobs hang their `REQUIRES` edges, so matching can walk from a candidate's skills to the
//! jobs that seek them. Built from the `ResumeChanged` payload (the wire `Resume`).

use std::sync::Arc;

use neo4rs::Graph;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_storage::config::is_identifier;
use talentmesh_storage::projection::{Change, Neo4jNodes};

use super::ENTITY;

/// The projection's name in the sync admin API.
pub const NAME: &str = "resumes_graph";

/// The projection: `Resume` nodes in namespace `ns`, candidates and skills in `shared_ns`.
///
/// # Errors
/// `InvalidUpdate` when `shared_ns` is not a plain identifier (it is spliced into Cypher;
/// config already refuses such a value).
pub fn projection(
    ns: &str,
    shared_ns: &str,
    graph: Graph,
) -> talentmesh_storage::Result<Neo4jNodes> {
    if !is_identifier(shared_ns) {
        return Err(talentmesh_storage::Error::InvalidUpdate(format!(
            "bad shared graph namespace {shared_ns}"
        )));
    }
    Ok(Neo4jNodes::new(
        NAME,
        ENTITY,
        "Resume",
        ns,
        graph,
        Arc::new(|c: &Change| {
            let r: pb::Resume = prost::Message::decode(c.state.as_slice())
                .map_err(|e| format!("undecodable resume: {e}"))?;
            let skills = r.analysis.map(|a| a.skills).unwrap_or_default();
            Ok(serde_json::json!({
                "owner": r.owner.trim_start_matches("users/"),
                "title": r.title,
                "skills": skills.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
                "years": skills.iter().map(|s| s.years).collect::<Vec<_>>(),
            }))
        }),
    )?
    .with_schema("CREATE INDEX candidate_ns_id IF NOT EXISTS FOR (c:Candidate) ON (c.ns, c.id)")
    .with_schema("CREATE INDEX skill_ns_name IF NOT EXISTS FOR (s:Skill) ON (s.ns, s.name)")
    // A newer version replaces the resume's edges; a tombstone drops them.
    .with_relationships(format!(
        "UNWIND $rows AS r
         MATCH (n:Resume {{key: r.key}}) WHERE n.version = r.version
         OPTIONAL MATCH (n)-[old:HAS_SKILL]->()
         DELETE old
         WITH DISTINCT n, r
         OPTIONAL MATCH ()-[owns:OWNS]->(n)
         DELETE owns
         WITH DISTINCT n, r
         FOREACH (_ IN CASE WHEN r.deleted THEN [] ELSE [1] END |
           MERGE (c:Candidate {{ns: '{shared_ns}', id: r.props.owner}})
           MERGE (c)-[:OWNS]->(n))
         FOREACH (i IN CASE WHEN r.deleted THEN [] ELSE range(0, size(coalesce(r.props.skills, [])) - 1) END |
           MERGE (k:Skill {{ns: '{shared_ns}', name: r.props.skills[i]}})
           MERGE (n)-[h:HAS_SKILL]->(k)
           SET h.years = r.props.years[i])"
    )))
}
