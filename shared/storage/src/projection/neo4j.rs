//! A projection into Neo4j: one node per entity under a label, keyed by `key` = "<ns>/<id>"
//! (a single-property uniqueness constraint, which community edition has, so two consumers
//! creating the same node at once cannot make two). The service may add Cypher that maintains
//! the entity's relationships; it runs in the same transaction as the node write.

use std::sync::Arc;

use neo4rs::{BoltMap, BoltType, Graph, Query};

use super::{Change, Installed, Projection, Stamp, StoreKind};
use crate::{Error, Result};

/// Builds the node's own properties (a JSON object) for a live entity.
pub type PropsOf =
    Arc<dyn Fn(&Change) -> std::result::Result<serde_json::Value, String> + Send + Sync>;

pub struct Neo4jNodes {
    name: String,
    entity_type: String,
    label: String,
    ns: String,
    graph: Graph,
    props_of: PropsOf,
    relationships: Option<String>,
    /// Extra schema statements (indexes for the relationship Cypher), run at install.
    schema: Vec<String>,
}

/// Keys per read-back statement (short keys, so more fit under the write buffer).
const KEYS_PER_READ: usize = 96;

/// Rows per Cypher statement. neo4rs writes through an 8 KiB buffer without TCP_NODELAY, so a
/// larger message leaves a tail segment that Nagle holds until the server's delayed ACK (about
/// 40 ms per statement). Statements kept under the buffer go out whole at once; a big batch
/// becomes several statements in one transaction.
const ROWS_PER_STATEMENT: usize = 24;

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.as_bytes()[0].is_ascii_alphabetic()
}

impl Neo4jNodes {
    /// `label` must be alphanumeric (it is spliced into Cypher); `ns` is the service's
    /// namespace (`Stores::neo4j_namespace`).
    pub fn new(
        name: &str,
        entity_type: &str,
        label: &str,
        ns: &str,
        graph: Graph,
        props_of: PropsOf,
    ) -> Result<Neo4jNodes> {
        if !is_label(label) {
            return Err(Error::InvalidUpdate(format!("bad label {label}")));
        }
        Ok(Neo4jNodes {
            name: name.to_string(),
            entity_type: entity_type.to_string(),
            label: label.to_string(),
            ns: ns.to_string(),
            graph,
            props_of,
            relationships: None,
            schema: Vec::new(),
        })
    }

    /// Cypher run after the node writes, in the same statement, with `$rows` (maps with `id`,
    /// `key`, `version`, `deleted`, `props`) and `$ns`; it must start with `UNWIND $rows AS r`. It should only touch nodes whose `version` equals the
    /// row's (the rows that won), e.g. `UNWIND $rows AS r MATCH (n:Note {key: r.key}) WHERE
    /// n.version = r.version …`.
    pub fn with_relationships(mut self, cypher: impl Into<String>) -> Neo4jNodes {
        self.relationships = Some(cypher.into());
        self
    }

    /// A schema statement run at install, e.g. `CREATE INDEX tag_ns_name IF NOT EXISTS FOR
    /// (t:Tag) ON (t.ns, t.name)` so the relationship Cypher's MERGEs do not scan.
    pub fn with_schema(mut self, statement: impl Into<String>) -> Neo4jNodes {
        self.schema.push(statement.into());
        self
    }

    /// Reads the versions back. A Neo4j that is shutting down was seen acknowledging a
    /// transaction it never made ("could not eagerly create kernel transaction"); a write that
    /// did not land is reported as transient, so the consumer tries the batch again.
    async fn confirm(&self, changes: &[Change]) -> Result<()> {
        let ids: Vec<String> = changes.iter().map(|c| c.id.clone()).collect();
        let held: std::collections::HashMap<String, i64> = self
            .stamps(&ids)
            .await?
            .into_iter()
            .map(|s| (s.id, s.version))
            .collect();
        let missing = changes
            .iter()
            .filter(|c| held.get(&c.id).is_none_or(|v| *v < c.version))
            .count();
        if missing > 0 {
            return Err(Error::Unconfirmed(format!(
                "{missing} of {} nodes not at their version after commit",
                changes.len()
            )));
        }
        Ok(())
    }

    fn key(&self, id: &str) -> String {
        format!("{}/{id}", self.ns)
    }
}

fn bolt_map(pairs: Vec<(&str, BoltType)>) -> BoltType {
    let mut map = BoltMap::new();
    for (k, v) in pairs {
        map.put(k.into(), v);
    }
    BoltType::Map(map)
}

#[tonic::async_trait]
impl Projection for Neo4jNodes {
    fn name(&self) -> &str {
        &self.name
    }

    fn store(&self) -> StoreKind {
        StoreKind::Neo4j
    }

    fn entity_type(&self) -> &str {
        &self.entity_type
    }

    async fn install(&self) -> Result<Installed> {
        let label = &self.label;
        let mut statements = vec![format!(
            "CREATE CONSTRAINT {label}_key IF NOT EXISTS FOR (n:{label}) REQUIRE n.key IS UNIQUE"
        )];
        statements.extend(self.schema.iter().cloned());
        for statement in statements {
            // Two instances (or two tests) installing at once race on the schema: the loser of
            // `IF NOT EXISTS` fails with "equivalent … already exists" while the winner's
            // transaction commits. Once it has, the statement is a no-op, so try again.
            let mut attempt = 0;
            loop {
                match self.graph.run(Query::new(statement.clone())).await {
                    Ok(()) => break,
                    Err(e) if attempt < 5 => {
                        attempt += 1;
                        tracing::debug!(error = %e, attempt, "neo4j schema statement raced; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(Installed::Current)
    }

    async fn apply(&self, changes: &[Change]) -> Result<()> {
        let mut rows: Vec<BoltType> = Vec::with_capacity(changes.len());
        for c in changes {
            let props = if c.deleted {
                BoltType::Map(BoltMap::new())
            } else {
                let json = (self.props_of)(c).map_err(Error::InvalidEvent)?;
                BoltType::try_from(json).map_err(|e| Error::InvalidEvent(e.to_string()))?
            };
            rows.push(bolt_map(vec![
                ("id", c.id.clone().into()),
                ("key", self.key(&c.id).into()),
                ("version", c.version.into()),
                ("deleted", c.deleted.into()),
                ("hash", c.content_hash().into()),
                ("props", props),
            ]));
        }
        let label = &self.label;
        // MERGE on the unique key, then write only where the row is newer (or the same version
        // with other content, which is how a repair fixes a wrongly projected node).
        let mut statement = format!(
            "UNWIND $rows AS r
             MERGE (n:{label} {{key: r.key}})
             ON CREATE SET n.version = -1, n.hash = ''
             WITH n, r WHERE n.version < r.version OR (n.version = r.version AND n.hash <> r.hash)
             SET n = r.props
             SET n.key = r.key, n.ns = $ns, n.id = r.id, n.version = r.version,
                 n.deleted = r.deleted, n.hash = r.hash"
        );
        // The relationships follow in the same statement (one round trip per chunk): the
        // aggregation ends the node part with exactly one row, then the service's Cypher runs
        // over the rows again.
        if let Some(cypher) = &self.relationships {
            statement.push_str("\nWITH count(*) AS upserted\n");
            statement.push_str(cypher);
        }
        let chunks: Vec<Vec<BoltType>> = rows
            .chunks(ROWS_PER_STATEMENT)
            .map(<[BoltType]>::to_vec)
            .collect();
        // The transaction runs in a task of its own, which always ends it: committed, or rolled
        // back when a statement fails. Run in the caller's future, a call dropped half-way (a
        // consumer stopped or cut off by its deadline mid-batch) would drop the transaction
        // unfinished; its pooled connection would then sit idle with the transaction open,
        // holding its write locks, until the pool happened to hand that connection out again
        // (the pool resets a connection only then), and every other instance's writes to those
        // nodes would wait on the locks.
        let (graph, ns) = (self.graph.clone(), self.ns.clone());
        tokio::spawn(async move {
            let mut txn = graph.start_txn().await?;
            for chunk in chunks {
                let query = Query::new(statement.clone())
                    .param("rows", chunk)
                    .param("ns", ns.clone());
                if let Err(e) = txn.run(query).await {
                    if let Err(rollback) = txn.rollback().await {
                        tracing::warn!(error = %rollback, "neo4j rollback after a failed statement failed");
                    }
                    return Err(Error::Neo4j(e));
                }
            }
            txn.commit().await.map_err(Error::Neo4j)
        })
        .await
        .map_err(|e| Error::Unavailable(format!("neo4j write task ended: {e}")))??;
        self.confirm(changes).await
    }

    async fn stamps(&self, ids: &[String]) -> Result<Vec<Stamp>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(KEYS_PER_READ) {
            let keys: Vec<String> = chunk.iter().map(|id| self.key(id)).collect();
            let mut rows = self
                .graph
                .execute(
                    Query::new(format!(
                        "MATCH (n:{}) WHERE n.key IN $keys AND n.version >= 0
                         RETURN n.id AS id, n.version AS version, n.deleted AS deleted, n.hash AS hash",
                        self.label
                    ))
                    .param("keys", keys),
                )
                .await?;
            while let Some(row) = rows.next().await? {
                let get = |e: neo4rs::DeError| Error::Neo4j(neo4rs::Error::DeserializationError(e));
                out.push(Stamp {
                    id: row.get("id").map_err(get)?,
                    version: row.get("version").map_err(get)?,
                    deleted: row.get("deleted").map_err(get)?,
                    hash: row.get("hash").map_err(get)?,
                });
            }
        }
        Ok(out)
    }

    async fn live_ids(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>)> {
        // Keys sort within the namespace prefix; the unique constraint's index serves the range.
        let prefix = format!("{}/", self.ns);
        let after_key = after.map_or_else(|| prefix.clone(), |a| self.key(&a));
        let mut rows = self
            .graph
            .execute(
                Query::new(format!(
                    "MATCH (n:{}) WHERE n.key STARTS WITH $prefix AND n.key > $after
                     RETURN n.id AS id, n.deleted AS deleted ORDER BY n.key LIMIT $limit",
                    self.label
                ))
                .param("prefix", prefix)
                .param("after", after_key)
                .param("limit", i64::try_from(limit).unwrap_or(i64::MAX)),
            )
            .await?;
        let mut seen = 0usize;
        let mut last = None;
        let mut live = Vec::new();
        while let Some(row) = rows.next().await? {
            let get = |e: neo4rs::DeError| Error::Neo4j(neo4rs::Error::DeserializationError(e));
            let id: String = row.get("id").map_err(get)?;
            let deleted: bool = row.get("deleted").unwrap_or(false);
            seen += 1;
            last = Some(id.clone());
            if !deleted {
                live.push(id);
            }
        }
        let next = if seen >= limit { last } else { None };
        Ok((live, next))
    }

    async fn remove(&self, ids: &[String]) -> Result<()> {
        let keys: Vec<String> = ids.iter().map(|id| self.key(id)).collect();
        self.graph
            .run(
                Query::new(format!(
                    "MATCH (n:{}) WHERE n.key IN $keys DETACH DELETE n",
                    self.label
                ))
                .param("keys", keys),
            )
            .await?;
        Ok(())
    }
}
