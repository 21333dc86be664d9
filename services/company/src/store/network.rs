//! The company network in Neo4j: one `Company` node per company (projected from MySQL), its
//! declared relations as `RELATED` edges, and `IN_INDUSTRY` / `IN_CITY` edges to shared
//! `Industry` and `City` nodes from which the derived relations (same industry in the same
//! city) are read. The job service adds `(:Company)-[:POSTED]->(:Job)-[:REQUIRES]->(:Skill)`;
//! the competitor analysis already counts skills sought by both through it.
//!
//! Relations go to a node keyed by the target's id. When the target's own node has not been
//! projected yet (a rebuild runs in id order), a placeholder stands in: version -1 and marked
//! deleted, so the checker neither compares it nor counts it live; the target's projection
//! then fills it in.

use std::sync::Arc;

use neo4rs::{Graph, Query};
use talentmesh_storage::projection::{Change, Neo4jNodes};

use crate::domain::{Competitor, Edge, Node, RelationKind};
use crate::error::Result;
use crate::events::{state_of, ENTITY};

/// The projection's name (in the checker's reports and the sync admin API).
pub const NAME: &str = "companies_graph";

/// A stored relation kind code as an edge property (readable in Cypher, stable across proto
/// renames).
fn kind_name(code: i32) -> &'static str {
    RelationKind::from_code(code).map_or("unspecified", RelationKind::name)
}

/// The projection of company states into `Company` nodes of namespace `ns`, with their
/// relation, industry and city edges.
///
/// # Errors
/// A bad namespace.
pub fn projection(ns: &str, graph: Graph) -> talentmesh_storage::Result<Neo4jNodes> {
    Ok(Neo4jNodes::new(
        NAME,
        ENTITY,
        "Company",
        ns,
        graph,
        Arc::new(|c: &Change| {
            let s = state_of(c)?;
            // Node properties must be flat: the relations travel as parallel lists.
            Ok(serde_json::json!({
                "display_name": s.display_name,
                "industry": s.industry,
                "city_code": s.city_code,
                "verification_state": s.verification_state,
                "rel_ids": s.relations.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
                "rel_targets": s.relations.iter().map(|r| r.target_id.clone()).collect::<Vec<_>>(),
                "rel_kinds": s.relations.iter().map(|r| kind_name(r.kind)).collect::<Vec<_>>(),
                "rel_disputed": s.relations.iter().map(|r| r.disputed).collect::<Vec<_>>(),
            }))
        }),
    )?
    .with_schema("CREATE INDEX industry_ns_name IF NOT EXISTS FOR (i:Industry) ON (i.ns, i.name)")
    .with_schema("CREATE INDEX city_ns_code IF NOT EXISTS FOR (c:City) ON (c.ns, c.code)")
    // A newer version replaces the company's outgoing edges; a tombstone drops them.
    .with_relationships(
        "UNWIND $rows AS r
         MATCH (n:Company {key: r.key}) WHERE n.version = r.version
         OPTIONAL MATCH (n)-[old:RELATED|IN_INDUSTRY|IN_CITY]->()
         DELETE old
         WITH DISTINCT n, r
         FOREACH (_ IN CASE WHEN r.deleted OR coalesce(r.props.industry, '') = '' THEN [] ELSE [1] END |
           MERGE (i:Industry {ns: $ns, name: r.props.industry})
           MERGE (n)-[:IN_INDUSTRY]->(i))
         FOREACH (_ IN CASE WHEN r.deleted OR coalesce(r.props.city_code, '') = '' THEN [] ELSE [1] END |
           MERGE (c:City {ns: $ns, code: r.props.city_code})
           MERGE (n)-[:IN_CITY]->(c))
         FOREACH (i IN CASE WHEN r.deleted THEN [] ELSE range(0, size(coalesce(r.props.rel_ids, [])) - 1) END |
           MERGE (t:Company {key: $ns + '/' + r.props.rel_targets[i]})
           ON CREATE SET t.version = -1, t.hash = '', t.deleted = true, t.ns = $ns,
                         t.id = r.props.rel_targets[i]
           MERGE (n)-[e:RELATED {id: r.props.rel_ids[i]}]->(t)
           SET e.kind = r.props.rel_kinds[i], e.disputed = r.props.rel_disputed[i])",
    ))
}

/// Queries over the projected network of namespace `ns`.
#[derive(Clone)]
pub struct NetworkGraph {
    graph: Graph,
    ns: String,
}

fn neo(e: neo4rs::Error) -> crate::Error {
    talentmesh_storage::Error::Neo4j(e).into()
}

fn de(e: neo4rs::DeError) -> crate::Error {
    neo(neo4rs::Error::DeserializationError(e))
}

fn edge_kind(name: &str) -> Option<RelationKind> {
    RelationKind::from_name(name)
}

impl NetworkGraph {
    /// Queries on `graph`, in namespace `ns`.
    pub fn new(graph: Graph, ns: &str) -> NetworkGraph {
        NetworkGraph {
            graph,
            ns: ns.to_string(),
        }
    }

    fn key(&self, id: &str) -> String {
        format!("{}/{id}", self.ns)
    }

    /// Companies within `depth` declared relations of `id` (at most 200), with the edges among
    /// them; `None` when the company is not in the graph (or deleted there).
    pub async fn around(&self, id: &str, depth: i64) -> Result<Option<(Vec<Node>, Vec<Edge>)>> {
        // The depth is a literal in the pattern (Cypher takes no parameter there); it is
        // clamped to 1..=3 by the caller.
        let depth = depth.clamp(1, 3);
        let mut rows = self
            .graph
            .execute(
                Query::new(format!(
                    "MATCH (c:Company {{key: $key}}) WHERE c.deleted = false
                     OPTIONAL MATCH p = (c)-[:RELATED*1..{depth}]-(o:Company)
                     WHERE o.deleted = false AND o <> c
                       AND all(x IN nodes(p) WHERE x.deleted = false)
                     WITH c, o, min(length(p)) AS d
                     ORDER BY d, o.display_name
                     LIMIT 200
                     RETURN c.id AS cid, c.display_name AS cname,
                            collect(CASE WHEN o IS NULL THEN null ELSE [o.id, o.display_name, toString(d)] END) AS others"
                ))
                .param("key", self.key(id)),
            )
            .await
            .map_err(neo)?;
        let mut nodes = Vec::new();
        while let Some(row) = rows.next().await.map_err(neo)? {
            if nodes.is_empty() {
                nodes.push(Node {
                    id: row.get("cid").map_err(de)?,
                    display_name: row.get("cname").unwrap_or_default(),
                    distance: 0,
                });
            }
            let others: Vec<Vec<String>> = row.get("others").unwrap_or_default();
            for o in others {
                if let [oid, name, d] = o.as_slice() {
                    nodes.push(Node {
                        id: oid.clone(),
                        display_name: name.clone(),
                        distance: d.parse().unwrap_or(0),
                    });
                }
            }
        }
        if nodes.is_empty() {
            return Ok(None);
        }
        let keys: Vec<String> = nodes.iter().map(|n| self.key(&n.id)).collect();
        let edges = self.edges_among(keys).await?;
        Ok(Some((nodes, edges)))
    }

    /// The derived neighbours of `id`: companies in the same industry and city, and companies
    /// whose jobs seek some of the same skills (at most 50 of each), as edges from `id`.
    pub async fn derived(&self, id: &str) -> Result<Vec<(Node, Edge)>> {
        let mut out = Vec::new();
        for (kind, cypher) in [
            (
                RelationKind::SameIndustryAndCity,
                "MATCH (c:Company {key: $key})-[:IN_INDUSTRY]->(:Industry)<-[:IN_INDUSTRY]-(o:Company),
                       (c)-[:IN_CITY]->(:City)<-[:IN_CITY]-(o)
                 WHERE c.deleted = false AND o.deleted = false AND o <> c
                 RETURN DISTINCT o.id AS id, coalesce(o.display_name, '') AS name
                 ORDER BY name, id LIMIT 50",
            ),
            (
                RelationKind::SharedSkills,
                "MATCH (c:Company {key: $key})-[:POSTED]->(:Job)-[:REQUIRES]->(:Skill)
                       <-[:REQUIRES]-(:Job)<-[:POSTED]-(o:Company)
                 WHERE c.deleted = false AND o.deleted = false AND o <> c
                 RETURN DISTINCT o.id AS id, coalesce(o.display_name, '') AS name
                 ORDER BY name, id LIMIT 50",
            ),
        ] {
            let mut rows = self
                .graph
                .execute(Query::new(cypher.to_string()).param("key", self.key(id)))
                .await
                .map_err(neo)?;
            while let Some(row) = rows.next().await.map_err(neo)? {
                let other: String = row.get("id").map_err(de)?;
                out.push((
                    Node {
                        id: other.clone(),
                        display_name: row.get("name").unwrap_or_default(),
                        distance: 1,
                    },
                    Edge {
                        source: id.to_string(),
                        target: other,
                        kind: Some(kind),
                        disputed: false,
                    },
                ));
            }
        }
        Ok(out)
    }

    async fn edges_among(&self, keys: Vec<String>) -> Result<Vec<Edge>> {
        let mut rows = self
            .graph
            .execute(
                Query::new(
                    "MATCH (a:Company)-[e:RELATED]->(b:Company)
                     WHERE a.key IN $keys AND b.key IN $keys
                     RETURN a.id AS s, b.id AS t, e.kind AS kind, e.disputed AS disputed
                     ORDER BY s, t, kind"
                        .to_string(),
                )
                .param("keys", keys),
            )
            .await
            .map_err(neo)?;
        let mut edges = Vec::new();
        while let Some(row) = rows.next().await.map_err(neo)? {
            edges.push(Edge {
                source: row.get("s").map_err(de)?,
                target: row.get("t").map_err(de)?,
                kind: edge_kind(&row.get::<String>("kind").unwrap_or_default()),
                disputed: row.get("disputed").unwrap_or(false),
            });
        }
        Ok(edges)
    }

    /// The shortest chain of declared relations between two companies (at most six), or empty.
    pub async fn path(&self, from: &str, to: &str) -> Result<(Vec<Node>, Vec<Edge>)> {
        let mut rows = self
            .graph
            .execute(
                Query::new(
                    "MATCH (a:Company {key: $from}), (b:Company {key: $to})
                     WHERE a.deleted = false AND b.deleted = false
                     MATCH p = shortestPath((a)-[:RELATED*..6]-(b))
                     WHERE all(x IN nodes(p) WHERE x.deleted = false)
                     RETURN [x IN nodes(p) | x.id] AS ids,
                            [x IN nodes(p) | coalesce(x.display_name, '')] AS names,
                            [e IN relationships(p) | startNode(e).id] AS srcs,
                            [e IN relationships(p) | endNode(e).id] AS dsts,
                            [e IN relationships(p) | e.kind] AS kinds,
                            [e IN relationships(p) | e.disputed] AS disputed"
                        .to_string(),
                )
                .param("from", self.key(from))
                .param("to", self.key(to)),
            )
            .await
            .map_err(neo)?;
        let Some(row) = rows.next().await.map_err(neo)? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let ids: Vec<String> = row.get("ids").map_err(de)?;
        let names: Vec<String> = row.get("names").map_err(de)?;
        let srcs: Vec<String> = row.get("srcs").map_err(de)?;
        let dsts: Vec<String> = row.get("dsts").map_err(de)?;
        let kinds: Vec<String> = row.get("kinds").map_err(de)?;
        let disputed: Vec<bool> = row.get("disputed").map_err(de)?;
        let nodes = ids
            .into_iter()
            .zip(names)
            .enumerate()
            .map(|(i, (id, display_name))| Node {
                id,
                display_name,
                distance: i64::try_from(i).unwrap_or(0),
            })
            .collect();
        let edges = srcs
            .into_iter()
            .zip(dsts)
            .zip(kinds.into_iter().zip(disputed))
            .map(|((source, target), (kind, disputed))| Edge {
                source,
                target,
                kind: edge_kind(&kind),
                disputed,
            })
            .collect();
        Ok((nodes, edges))
    }

    /// Companies ranked by overlap with `id`: a declared competition (either direction; half
    /// when disputed), the same industry, the same city, and skills their jobs both seek.
    pub async fn competitors(&self, id: &str, limit: i64) -> Result<Vec<Competitor>> {
        let mut rows = self
            .graph
            .execute(
                Query::new(
                    "MATCH (c:Company {key: $key}) WHERE c.deleted = false
                     CALL {
                       WITH c
                       MATCH (c)-[:IN_INDUSTRY]->(:Industry)<-[:IN_INDUSTRY]-(o:Company)
                       RETURN o LIMIT 2000
                       UNION
                       WITH c
                       MATCH (c)-[:RELATED {kind: 'competitor'}]-(o:Company)
                       RETURN o
                       UNION
                       WITH c
                       MATCH (c)-[:POSTED]->(:Job)-[:REQUIRES]->(:Skill)<-[:REQUIRES]-(:Job)<-[:POSTED]-(o:Company)
                       RETURN o LIMIT 2000
                     }
                     WITH c, o WHERE o.deleted = false AND o <> c
                     WITH DISTINCT c, o
                     OPTIONAL MATCH (c)-[d:RELATED {kind: 'competitor'}]-(o)
                     WITH c, o, collect(d.disputed) AS declared
                     OPTIONAL MATCH (c)-[:POSTED]->(:Job)-[:REQUIRES]->(s:Skill)<-[:REQUIRES]-(:Job)<-[:POSTED]-(o)
                     WITH c, o, declared, collect(DISTINCT s.name) AS skills
                     WITH o, declared, skills,
                          o.industry <> '' AND o.industry = c.industry AS same_industry,
                          o.city_code <> '' AND o.city_code = c.city_code AS same_city
                     WITH o, declared, skills, same_industry, same_city,
                          (CASE WHEN size(declared) = 0 THEN 0.0
                                WHEN any(x IN declared WHERE x = false) THEN 3.0 ELSE 1.5 END)
                          + (CASE WHEN same_industry THEN 2.0 ELSE 0.0 END)
                          + (CASE WHEN same_city THEN 1.0 ELSE 0.0 END)
                          + 0.5 * (CASE WHEN size(skills) > 6 THEN 6 ELSE size(skills) END) AS score
                     WHERE score > 0
                     RETURN o.id AS id, coalesce(o.display_name, '') AS name, score,
                            size(declared) > 0 AS declared,
                            any(x IN declared WHERE x = false) AS undisputed,
                            same_industry, same_city, o.industry AS industry,
                            o.city_code AS city, skills
                     ORDER BY score DESC, name, id
                     LIMIT $limit"
                        .to_string(),
                )
                .param("key", self.key(id))
                .param("limit", limit),
            )
            .await
            .map_err(neo)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.map_err(neo)? {
            let mut reasons = Vec::new();
            if row.get::<bool>("declared").unwrap_or(false) {
                reasons.push(if row.get::<bool>("undisputed").unwrap_or(false) {
                    "declared competitor".to_string()
                } else {
                    "declared competitor (disputed)".to_string()
                });
            }
            if row.get::<bool>("same_industry").unwrap_or(false) {
                let industry: String = row.get("industry").unwrap_or_default();
                reasons.push(format!("same industry: {industry}"));
            }
            if row.get::<bool>("same_city").unwrap_or(false) {
                let city: String = row.get("city").unwrap_or_default();
                reasons.push(format!("same city: {city}"));
            }
            let mut skills: Vec<String> = row.get("skills").unwrap_or_default();
            if !skills.is_empty() {
                skills.sort();
                reasons.push(format!(
                    "{} skills sought by both: {}",
                    skills.len(),
                    skills.join(", ")
                ));
            }
            out.push(Competitor {
                id: row.get("id").map_err(de)?,
                display_name: row.get("name").unwrap_or_default(),
                score: row.get("score").unwrap_or(0.0),
                reasons,
            });
        }
        Ok(out)
    }
}
