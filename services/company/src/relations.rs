//! Declared relations between companies and the network queries over them (Neo4j).

use talentmesh_mesh::auth::Caller;
use talentmesh_mesh::ApiError;
use talentmesh_proto::company::v1 as pb;

use crate::audit::AuditLog;
use crate::core::{
    already_exists, child_id, company_id, failed_precondition, invalid, is_duplicate, not_found,
    now, timestamp, Core, Privacy,
};
use crate::domain::permissions::Permission;
use crate::network::{kind_of, Edge, Node};
use crate::state::{db, RelationRow, RELATION_COLUMNS};

/// Relations one company declares, at most.
pub const MAX_RELATIONS: i64 = 200;

fn relation_pb(r: &RelationRow) -> pb::Relation {
    pb::Relation {
        name: format!("companies/{}/relations/{}", r.source_id, r.id),
        target: format!("companies/{}", r.target_id),
        kind: i32::from(r.kind),
        disputed: r.disputed,
        dispute_reason: r.dispute_reason.clone(),
        source: format!("companies/{}", r.source_id),
        create_time: Some(timestamp(r.created_at)),
    }
}

fn node_pb(n: Node) -> pb::NetworkNode {
    pb::NetworkNode {
        company: format!("companies/{}", n.id),
        display_name: n.display_name,
        distance: i32::try_from(n.distance).unwrap_or(0),
    }
}

fn edge_pb(e: Edge) -> pb::NetworkEdge {
    pb::NetworkEdge {
        source: format!("companies/{}", e.source),
        target: format!("companies/{}", e.target),
        kind: kind_of(&e.kind) as i32,
        disputed: e.disputed,
    }
}

impl Core {
    pub async fn create_relation(
        &self,
        caller: &Caller,
        parent: &str,
        relation: Option<pb::Relation>,
    ) -> Result<pb::Relation, ApiError> {
        let source = company_id("parent", parent)?.to_string();
        let r = relation.ok_or_else(|| invalid("relation", "is required"))?;
        let target = company_id("relation.target", &r.target)?.to_string();
        if target == source {
            return Err(invalid(
                "relation.target",
                "a company cannot relate to itself",
            ));
        }
        let kind = match pb::RelationKind::try_from(r.kind) {
            Ok(k) if k != pb::RelationKind::Unspecified => k,
            _ => {
                return Err(invalid(
                    "relation.kind",
                    "one of parent_of, subsidiary_of, partner, competitor",
                ))
            }
        };
        self.require(caller, &source, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = self.begin_change(&source).await?;
        let target_live: Option<bool> =
            sqlx::query_scalar("SELECT deleted FROM companies WHERE id = ?")
                .bind(&target)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if target_live != Some(false) {
            return Err(not_found("target company"));
        }
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM company_relations WHERE source_id = ?")
                .bind(&source)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        if count >= MAX_RELATIONS {
            return Err(failed_precondition(
                "a company declares at most 200 relations",
                "TOO_MANY_RELATIONS",
            ));
        }
        let row = RelationRow {
            id: uuid::Uuid::now_v7().to_string(),
            source_id: source.clone(),
            target_id: target.clone(),
            kind: i8::try_from(kind as i32).unwrap_or(0),
            disputed: false,
            dispute_reason: String::new(),
            created_at: now(),
        };
        let inserted = sqlx::query(&format!(
            "INSERT INTO company_relations ({RELATION_COLUMNS}, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&row.id)
        .bind(&row.source_id)
        .bind(&row.target_id)
        .bind(row.kind)
        .bind(row.disputed)
        .bind(&row.dispute_reason)
        .bind(row.created_at)
        .bind(&caller.user_id)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(if is_duplicate(&e) {
                already_exists("this relation is already declared", "RELATION_EXISTS")
            } else {
                db(e)
            });
        }
        AuditLog::record(
            &mut tx,
            &source,
            "relation.declared",
            &caller.user_id,
            &format!("companies/{source}/relations/{}", row.id),
            serde_json::json!({"target": r.target, "kind": crate::network::kind_name(kind as i32)}),
        )
        .await?;
        self.finish_change(tx, &source).await?;
        Ok(relation_pb(&row))
    }

    pub async fn list_relations(
        &self,
        parent: &str,
    ) -> Result<(Vec<pb::Relation>, Vec<pb::Relation>), ApiError> {
        let id = company_id("parent", parent)?;
        let deleted: Option<bool> =
            sqlx::query_scalar("SELECT deleted FROM companies WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        if deleted != Some(false) {
            return Err(not_found("company"));
        }
        let rows: Vec<RelationRow> = sqlx::query_as(&format!(
            "SELECT {RELATION_COLUMNS} FROM company_relations WHERE source_id = ? OR target_id = ? \
             ORDER BY created_at, id LIMIT 1000"
        ))
        .bind(id)
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let (declared, received): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.source_id == id);
        Ok((
            declared.into_iter().map(relation_pb).collect(),
            received.into_iter().map(relation_pb).collect(),
        ))
    }

    pub async fn delete_relation(&self, caller: &Caller, name: &str) -> Result<(), ApiError> {
        let (source, relation) = child_id("name", name, "relations")?;
        let source = source.to_string();
        self.require(caller, &source, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = self.begin_change(&source).await?;
        let gone = sqlx::query("DELETE FROM company_relations WHERE id = ? AND source_id = ?")
            .bind(relation)
            .bind(&source)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if gone.rows_affected() == 0 {
            return Err(not_found("relation"));
        }
        AuditLog::record(
            &mut tx,
            &source,
            "relation.withdrawn",
            &caller.user_id,
            name,
            serde_json::json!({}),
        )
        .await?;
        self.finish_change(tx, &source).await?;
        Ok(())
    }

    /// The other side disputes: the relation stays, marked, and the declaring company's state
    /// (which carries its relations) moves to a new version.
    pub async fn dispute_relation(
        &self,
        caller: &Caller,
        name: &str,
        reason: &str,
    ) -> Result<pb::Relation, ApiError> {
        let (source, relation) = child_id("name", name, "relations")?;
        let source = source.to_string();
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(invalid("reason", "required, at most 1000 characters"));
        }
        let row: Option<RelationRow> = sqlx::query_as(&format!(
            "SELECT {RELATION_COLUMNS} FROM company_relations WHERE id = ? AND source_id = ?"
        ))
        .bind(relation)
        .bind(&source)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let row = row.ok_or_else(|| not_found("relation"))?;
        self.require(
            caller,
            &row.target_id,
            Permission::CompanyUpdate,
            Privacy::Public,
        )
        .await?;
        let mut tx = self.begin_change(&source).await?;
        let changed = sqlx::query(
            "UPDATE company_relations SET disputed = TRUE, dispute_reason = ? WHERE id = ? AND source_id = ?",
        )
        .bind(reason)
        .bind(relation)
        .bind(&source)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if changed.rows_affected() == 0 {
            return Err(not_found("relation"));
        }
        AuditLog::record(
            &mut tx,
            &row.target_id,
            "relation.disputed",
            &caller.user_id,
            name,
            serde_json::json!({"reason": reason}),
        )
        .await?;
        self.finish_change(tx, &source).await?;
        Ok(relation_pb(&RelationRow {
            disputed: true,
            dispute_reason: reason.to_string(),
            ..row
        }))
    }

    pub async fn network(
        &self,
        name: &str,
        depth: i32,
        include_derived: bool,
    ) -> Result<(Vec<pb::NetworkNode>, Vec<pb::NetworkEdge>), ApiError> {
        let id = company_id("name", name)?;
        let depth = match depth {
            0 => 1,
            d @ 1..=3 => d,
            _ => return Err(invalid("depth", "between 1 and 3")),
        };
        let (mut nodes, mut edges) = match self.network.around(id, i64::from(depth)).await {
            Ok(found) => found,
            // Not in the graph yet (just created; the projection trails by milliseconds):
            // a live company is then a network of one.
            Err(e) if e.code == talentmesh_mesh::error::ErrorCode::NotFound => {
                let row: Option<(String, bool)> =
                    sqlx::query_as("SELECT display_name, deleted FROM companies WHERE id = ?")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                match row {
                    Some((display_name, false)) => (
                        vec![Node {
                            id: id.to_string(),
                            display_name,
                            distance: 0,
                        }],
                        Vec::new(),
                    ),
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        if include_derived {
            for (node, edge) in self.network.derived(id).await? {
                if !nodes.iter().any(|n| n.id == node.id) {
                    nodes.push(node);
                }
                edges.push(edge);
            }
        }
        Ok((
            nodes.into_iter().map(node_pb).collect(),
            edges.into_iter().map(edge_pb).collect(),
        ))
    }

    pub async fn path(
        &self,
        from: &str,
        to: &str,
    ) -> Result<(Vec<pb::NetworkNode>, Vec<pb::NetworkEdge>), ApiError> {
        let a = company_id("from", from)?;
        let b = company_id("to", to)?;
        let (nodes, edges) = self.network.path(a, b).await?;
        Ok((
            nodes.into_iter().map(node_pb).collect(),
            edges.into_iter().map(edge_pb).collect(),
        ))
    }

    pub async fn competitors(
        &self,
        caller: &Caller,
        name: &str,
        limit: i32,
    ) -> Result<Vec<pb::Competitor>, ApiError> {
        let id = company_id("name", name)?;
        let limit = match limit {
            0 => 10,
            n @ 1..=50 => n,
            _ => return Err(invalid("limit", "between 1 and 50")),
        };
        self.require(caller, id, Permission::AnalyticsRead, Privacy::Private)
            .await?;
        Ok(self
            .network
            .competitors(id, i64::from(limit))
            .await?
            .into_iter()
            .map(|r| pb::Competitor {
                company: format!("companies/{}", r.id),
                display_name: r.display_name,
                score: r.score,
                reasons: r.reasons,
            })
            .collect())
    }
}
