//! Related skills, learned from co-occurrence: two skills that the same jobs and resumes keep
//! mentioning together are related (a Go developer is a partial match for a Rust job). The
//! strength of a pair is the Ochiai coefficient of their document sets,
//! `together / sqrt(count(a) × count(b))` (Ochiai 1957; the cosine of the two occurrence
//! vectors), kept when the pair occurs together at least [`MIN_TOGETHER`] times. The result
//! is written to Neo4j as `(:Skill)-[:RELATED_TO {strength, together}]->(:Skill)` on the shared
//! graph's skill nodes (both directions) and read back into memory for scoring.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use prost::Message;
use sqlx::MySqlPool;
use talentmesh_proto::matching::v1 as pb;

use crate::domain::RelatedSkills;
use crate::error::Result;

/// Pairs seen together fewer times than this are noise.
pub const MIN_TOGETHER: usize = 2;
/// Pairs weaker than this are not related.
pub const MIN_STRENGTH: f64 = 0.1;
/// At most this many related skills per skill, strongest first.
pub const MAX_RELATED: usize = 8;

/// Learns related skills from the canonical skills of `documents` (each a set).
pub fn learn(documents: &[BTreeSet<String>]) -> BTreeMap<(String, String), (f64, usize)> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    let mut together: HashMap<(&str, &str), usize> = HashMap::new();
    for skills in documents {
        let list: Vec<&str> = skills.iter().map(String::as_str).collect();
        for (i, a) in list.iter().enumerate() {
            *count.entry(a).or_default() += 1;
            for b in &list[i + 1..] {
                *together.entry((a, b)).or_default() += 1;
            }
        }
    }
    let mut pairs = BTreeMap::new();
    for ((a, b), n) in together {
        if n < MIN_TOGETHER {
            continue;
        }
        let strength = n as f64 / ((count[a] * count[b]) as f64).sqrt();
        if strength >= MIN_STRENGTH {
            pairs.insert((a.to_string(), b.to_string()), (strength, n));
        }
    }
    pairs
}

/// The pairs as the domain's map (both directions, strongest first): a pair is kept when each
/// skill is among the other's [`MAX_RELATED`] strongest relations.
pub fn related(pairs: &BTreeMap<(String, String), (f64, usize)>) -> RelatedSkills {
    let mut by_skill: HashMap<&str, Vec<(&str, f64)>> = HashMap::new();
    for ((a, b), (strength, _)) in pairs {
        by_skill.entry(a).or_default().push((b, *strength));
        by_skill.entry(b).or_default().push((a, *strength));
    }
    let mut top: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (skill, list) in &mut by_skill {
        list.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(y.0)));
        top.insert(
            skill,
            list.iter().take(MAX_RELATED).map(|(s, _)| *s).collect(),
        );
    }
    let mut related = RelatedSkills::new();
    for ((a, b), (strength, _)) in pairs {
        let kept = |x: &str, y: &str| top.get(x).is_some_and(|t| t.contains(y));
        if kept(a, b) && kept(b, a) {
            related.insert(a, b, *strength);
        }
    }
    related
}

/// The canonical known skills of every live document (from its embedded text).
pub async fn document_skills(pool: &MySqlPool) -> Result<Vec<BTreeSet<String>>> {
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT document FROM documents WHERE NOT deleted")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|bytes| pb::MatchDocument::decode(bytes.as_slice()).ok())
        .map(|d| {
            talentmesh_embed::skills::extract(&d.text)
                .into_iter()
                .collect()
        })
        .collect())
}

/// Replaces the learned RELATED_TO edges in namespace `ns` with `pairs`.
pub async fn store(
    graph: &neo4rs::Graph,
    ns: &str,
    pairs: &BTreeMap<(String, String), (f64, usize)>,
) -> Result<()> {
    let rows: Vec<neo4rs::BoltType> = pairs
        .iter()
        .map(|((a, b), (strength, together))| {
            let mut m = std::collections::HashMap::new();
            m.insert("a".to_string(), neo4rs::BoltType::from(a.as_str()));
            m.insert("b".to_string(), neo4rs::BoltType::from(b.as_str()));
            m.insert("strength".to_string(), neo4rs::BoltType::from(*strength));
            m.insert(
                "together".to_string(),
                neo4rs::BoltType::from(i64::try_from(*together).unwrap_or(i64::MAX)),
            );
            neo4rs::BoltType::from(m)
        })
        .collect();
    let mut tx = graph
        .start_txn()
        .await
        .map_err(talentmesh_storage::Error::from)?;
    tx.run(
        neo4rs::query(
            "MATCH (:Skill {ns: $ns})-[r:RELATED_TO {learned: true}]->(:Skill {ns: $ns}) DELETE r",
        )
        .param("ns", ns),
    )
    .await
    .map_err(talentmesh_storage::Error::from)?;
    tx.run(
        neo4rs::query(
            "UNWIND $rows AS row
             MERGE (a:Skill {ns: $ns, name: row.a})
             MERGE (b:Skill {ns: $ns, name: row.b})
             MERGE (a)-[r:RELATED_TO]->(b)
             SET r.strength = row.strength, r.together = row.together, r.learned = true
             MERGE (b)-[s:RELATED_TO]->(a)
             SET s.strength = row.strength, s.together = row.together, s.learned = true",
        )
        .param("ns", ns)
        .param("rows", rows),
    )
    .await
    .map_err(talentmesh_storage::Error::from)?;
    tx.commit().await.map_err(talentmesh_storage::Error::from)?;
    Ok(())
}

/// The RELATED_TO edges of namespace `ns` as (a, b) → strength (each direction once).
pub async fn load(
    graph: &neo4rs::Graph,
    ns: &str,
) -> Result<BTreeMap<(String, String), (f64, usize)>> {
    let mut rows = graph
        .execute(
            neo4rs::query(
                "MATCH (a:Skill {ns: $ns})-[r:RELATED_TO]->(b:Skill {ns: $ns}) WHERE a.name < b.name
                 RETURN a.name AS a, b.name AS b, r.strength AS strength, coalesce(r.together, 0) AS together",
            )
            .param("ns", ns),
        )
        .await
        .map_err(talentmesh_storage::Error::from)?;
    let mut pairs = BTreeMap::new();
    while let Some(row) = rows.next().await.map_err(talentmesh_storage::Error::from)? {
        let a: String = row.get("a").unwrap_or_default();
        let b: String = row.get("b").unwrap_or_default();
        let strength: f64 = row.get("strength").unwrap_or_default();
        let together: i64 = row.get("together").unwrap_or_default();
        pairs.insert((a, b), (strength, usize::try_from(together).unwrap_or(0)));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(sets: &[&[&str]]) -> Vec<BTreeSet<String>> {
        sets.iter()
            .map(|s| s.iter().map(|x| (*x).to_string()).collect())
            .collect()
    }

    #[test]
    fn skills_seen_together_often_enough_are_related_by_their_ochiai_coefficient() {
        let learned = learn(&docs(&[
            &["go", "rust", "kubernetes"],
            &["go", "rust"],
            &["rust", "kubernetes"],
            &["java", "spring"],
            &["java", "spring", "go"],
            &["react"],
        ]));
        // go: 3 documents, rust: 3, together 2 → 2/√9.
        let (strength, together) = learned[&("go".to_string(), "rust".to_string())];
        assert_eq!(together, 2);
        assert!((strength - 2.0 / 3.0).abs() < 1e-12);
        // Seen together once: noise.
        assert!(!learned.contains_key(&("go".to_string(), "kubernetes".to_string())));
        assert!(learned.contains_key(&("java".to_string(), "spring".to_string())));
        let related = related(&learned);
        assert!((related.strength("rust", "go") - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(related.strength("react", "go"), 0.0);
    }

    #[test]
    fn each_skill_keeps_its_strongest_relations_only() {
        let mut sets: Vec<Vec<String>> = Vec::new();
        for i in 0..(MAX_RELATED + 4) {
            for _ in 0..(2 + i) {
                sets.push(vec!["hub".to_string(), format!("s{i:02}")]);
            }
        }
        let learned = learn(
            &sets
                .into_iter()
                .map(|s| s.into_iter().collect())
                .collect::<Vec<_>>(),
        );
        let related = related(&learned);
        assert_eq!(related.related("hub").len(), MAX_RELATED);
    }
}
