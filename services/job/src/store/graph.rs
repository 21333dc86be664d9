//! The graphs in Neo4j: jobs (projection `jobs_graph`, `Job` nodes posted by the company
//! service's `Company` nodes and requiring its shared `Skill` nodes) and applications
//! (projection `applications_graph`, `(:Candidate)-[:APPLIED_TO]->(:Job)`).

use std::sync::Arc;

use neo4rs::Graph;
use talentmesh_storage::projection::{Change, Neo4jNodes};

use crate::domain::search::skill_key;
use crate::domain::JobState;
use crate::events::{application_of, job_of};

/// The jobs graph projection's name.
pub const JOBS_GRAPH: &str = "jobs_graph";
/// The applications graph projection's name.
pub const APPLICATIONS_GRAPH: &str = "applications_graph";

/// Namespaces are spliced into Cypher as literals: only plain names (config checks them too).
fn plain(what: &str, ns: &str) -> talentmesh_storage::Result<()> {
    if ns.is_empty()
        || !ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(talentmesh_storage::Error::InvalidUpdate(format!(
            "bad {what} graph namespace {ns}"
        )));
    }
    Ok(())
}

/// `company_ns` is the company service's Neo4j namespace: jobs hang off its `Company` nodes
/// (`POSTED`), and skills are shared `Skill` nodes there, so the company network sees them.
pub fn jobs_graph(
    ns: &str,
    company_ns: &str,
    graph: Graph,
) -> talentmesh_storage::Result<Neo4jNodes> {
    plain("company", company_ns)?;
    Ok(Neo4jNodes::new(
        JOBS_GRAPH,
        super::jobs::ENTITY,
        "Job",
        ns,
        graph,
        Arc::new(|c: &Change| {
            let j = job_of(c)?;
            let skills: Vec<String> = j
                .required_skills
                .iter()
                .chain(&j.preferred_skills)
                .map(|s| skill_key(s))
                .collect();
            Ok(serde_json::json!({
                "company_id": j.name.split('/').nth(1).unwrap_or_default(),
                "title": j.title,
                "state": j.state,
                "city_code": j.city_code,
                "skills": skills,
            }))
        }),
    )?
    .with_schema("CREATE INDEX skill_ns_name IF NOT EXISTS FOR (s:Skill) ON (s.ns, s.name)")
    // A newer version replaces the job's edges; only published jobs seek skills.
    .with_relationships(format!(
        "UNWIND $rows AS r
         MATCH (j:Job {{key: r.key}}) WHERE j.version = r.version
         OPTIONAL MATCH (j)-[old:REQUIRES]->()
         DELETE old
         WITH DISTINCT j, r
         OPTIONAL MATCH ()-[posted:POSTED]->(j)
         DELETE posted
         WITH DISTINCT j, r
         FOREACH (_ IN CASE WHEN r.deleted THEN [] ELSE [1] END |
           MERGE (c:Company {{key: '{company_ns}/' + r.props.company_id}})
           ON CREATE SET c.version = -1, c.hash = '', c.deleted = true, c.ns = '{company_ns}',
                         c.id = r.props.company_id
           MERGE (c)-[:POSTED]->(j))
         FOREACH (s IN CASE WHEN r.deleted OR r.props.state <> {published} THEN [] ELSE coalesce(r.props.skills, []) END |
           MERGE (k:Skill {{ns: '{company_ns}', name: s}})
           MERGE (j)-[:REQUIRES]->(k))",
        published = JobState::Published.code()
    )))
}

/// One `Application` node per application (what the checker compares), and the candidate's
/// `APPLIED_TO` edge to the job, in the namespace shared with the resume graph.
pub fn applications_graph(
    ns: &str,
    shared_ns: &str,
    graph: Graph,
) -> talentmesh_storage::Result<Neo4jNodes> {
    plain("shared", shared_ns)?;
    Ok(Neo4jNodes::new(
        APPLICATIONS_GRAPH,
        super::applications::ENTITY,
        "Application",
        ns,
        graph,
        Arc::new(|c: &Change| {
            let app = application_of(c)?;
            let parts: Vec<&str> = app.name.split('/').collect();
            Ok(serde_json::json!({
                "candidate": app.candidate.trim_start_matches("users/"),
                "company_id": parts.get(1).copied().unwrap_or_default(),
                "job_id": parts.get(3).copied().unwrap_or_default(),
                "stage": app.stage,
            }))
        }),
    )?
    .with_schema("CREATE INDEX candidate_ns_id IF NOT EXISTS FOR (c:Candidate) ON (c.ns, c.id)")
    .with_relationships(format!(
        "UNWIND $rows AS r
         MATCH (n:Application {{key: r.key}}) WHERE n.version = r.version AND NOT r.deleted
         MERGE (c:Candidate {{ns: '{shared_ns}', id: r.props.candidate}})
         MERGE (j:Job {{key: $ns + '/' + r.props.job_id}})
         ON CREATE SET j.version = -1, j.hash = '', j.deleted = true, j.ns = $ns,
                       j.id = r.props.job_id
         MERGE (c)-[e:APPLIED_TO {{application: r.id}}]->(j)
         SET e.stage = r.props.stage"
    )))
}
