//! Relations companies declare about each other (part of the declaring company's state) and
//! the network queries over them, read from the Neo4j projection.

use talentmesh_mesh::CallContext;

use super::{begin_change, caller, Access, Privacy};
use crate::domain::names::{child_id, company_id, company_name};
use crate::domain::relation::MAX_RELATIONS;
use crate::domain::{Competitor, Network, Node, Permission, Relation, RelationKind};
use crate::error::{Error, Result};
use crate::store::audit::Record;
use crate::store::{self, now, AuditLog, CompanyStore, RelationStore};

/// A relation as a client declares it.
#[derive(Debug, Clone)]
pub struct RelationInput {
    /// `companies/{id}`.
    pub target: String,
    /// `None`: no kind, or one this server does not know.
    pub kind: Option<RelationKind>,
}

/// Declared relations and the company network.
pub struct Relations {
    companies: CompanyStore,
    relations: RelationStore,
    network: store::NetworkGraph,
    access: Access,
}

impl Relations {
    /// The service over its stores, the network and the access rule.
    pub fn new(
        companies: CompanyStore,
        relations: RelationStore,
        network: store::NetworkGraph,
        access: Access,
    ) -> Relations {
        Relations {
            companies,
            relations,
            network,
            access,
        }
    }

    /// Company `parent` declares a relation to another live company (at most
    /// [`MAX_RELATIONS`]; each (target, kind) once).
    pub async fn create(
        &self,
        ctx: &CallContext,
        parent: &str,
        relation: Option<RelationInput>,
    ) -> Result<Relation> {
        let caller = caller(ctx)?;
        let source = company_id("parent", parent)?.to_string();
        let input = relation.ok_or_else(|| Error::invalid("relation", "is required"))?;
        let target = company_id("relation.target", &input.target)?.to_string();
        if target == source {
            return Err(Error::invalid(
                "relation.target",
                "a company cannot relate to itself",
            ));
        }
        const DECLARABLE: &str = "one of parent_of, subsidiary_of, partner, competitor";
        let kind = input
            .kind
            .ok_or_else(|| Error::invalid("relation.kind", DECLARABLE))?;
        if !kind.is_declarable() {
            return Err(Error::invalid(
                "relation.kind",
                format!(
                    "{} is derived by the platform, never declared; {DECLARABLE}",
                    kind.name()
                ),
            ));
        }
        self.access
            .require(caller, &source, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = begin_change(&self.companies, &source).await?;
        if !store::is_live(&mut tx, &target).await? {
            return Err(Error::not_found("target company"));
        }
        if self.relations.count(&mut tx, &source).await? >= MAX_RELATIONS {
            return Err(Error::TooManyRelations);
        }
        let relation = Relation {
            id: uuid::Uuid::now_v7().to_string(),
            source_id: source.clone(),
            target_id: target,
            kind,
            disputed: false,
            dispute_reason: String::new(),
            created_at: now(),
        };
        if !self
            .relations
            .insert(&mut tx, &relation, &caller.user_id)
            .await?
        {
            return Err(Error::RelationExists);
        }
        AuditLog::record(
            &mut tx,
            Record {
                company: &source,
                action: "relation.declared",
                actor: &caller.user_id,
                target: &format!("{}/relations/{}", company_name(&source), relation.id),
                detail: serde_json::json!({"target": input.target, "kind": kind.name()}),
            },
        )
        .await?;
        self.companies.finish_change(tx, &source).await?;
        Ok(relation)
    }

    /// Relation `name` (`companies/{company}/relations/{relation}`) of a live company: what a
    /// replayed create answers.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the company or the relation is gone.
    pub async fn get(&self, name: &str) -> Result<Relation> {
        let (source, id) = child_id("name", name, "relations")?;
        if !self.companies.is_live(source).await? {
            return Err(Error::not_found("company"));
        }
        self.relations
            .get(source, id)
            .await?
            .ok_or_else(|| Error::not_found("relation"))
    }

    /// The relations live company `parent` declared and those it received.
    pub async fn list(&self, parent: &str) -> Result<(Vec<Relation>, Vec<Relation>)> {
        let id = company_id("parent", parent)?;
        if !self.companies.is_live(id).await? {
            return Err(Error::not_found("company"));
        }
        let all = self.relations.involving(id).await?;
        Ok(all.into_iter().partition(|r| r.source_id == id))
    }

    /// The declaring company withdraws a relation.
    pub async fn delete(&self, ctx: &CallContext, name: &str) -> Result<()> {
        let caller = caller(ctx)?;
        let (source, relation) = child_id("name", name, "relations")?;
        let source = source.to_string();
        self.access
            .require(caller, &source, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = begin_change(&self.companies, &source).await?;
        if !self.relations.delete(&mut tx, &source, relation).await? {
            return Err(Error::not_found("relation"));
        }
        AuditLog::record(
            &mut tx,
            Record {
                company: &source,
                action: "relation.withdrawn",
                actor: &caller.user_id,
                target: name,
                detail: serde_json::json!({}),
            },
        )
        .await?;
        self.companies.finish_change(tx, &source).await?;
        Ok(())
    }

    /// The other side disputes: the relation stays, marked, and the declaring company's state
    /// (which carries its relations) moves to a new version.
    pub async fn dispute(&self, ctx: &CallContext, name: &str, reason: &str) -> Result<Relation> {
        let caller = caller(ctx)?;
        let (source, id) = child_id("name", name, "relations")?;
        let source = source.to_string();
        if let Some(problem) =
            crate::domain::text_problem("reason", reason, talentmesh_text::Lines::Multi)
        {
            return Err(problem.into());
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(Error::invalid(
                "reason",
                "required, at most 1000 characters",
            ));
        }
        let relation = self
            .relations
            .get(&source, id)
            .await?
            .ok_or_else(|| Error::not_found("relation"))?;
        self.access
            .require(
                caller,
                &relation.target_id,
                Permission::CompanyUpdate,
                Privacy::Public,
            )
            .await?;
        let mut tx = begin_change(&self.companies, &source).await?;
        if !self.relations.dispute(&mut tx, &source, id, reason).await? {
            return Err(Error::not_found("relation"));
        }
        AuditLog::record(
            &mut tx,
            Record {
                company: &relation.target_id,
                action: "relation.disputed",
                actor: &caller.user_id,
                target: name,
                detail: serde_json::json!({"reason": reason}),
            },
        )
        .await?;
        self.companies.finish_change(tx, &source).await?;
        Ok(Relation {
            disputed: true,
            dispute_reason: reason.to_string(),
            ..relation
        })
    }

    /// Companies within `depth` (1–3, 0 for 1) declared relations of company `name`, with
    /// the edges among them; `include_derived` adds the same-industry-and-city and
    /// shared-skills neighbours.
    pub async fn network(&self, name: &str, depth: i32, include_derived: bool) -> Result<Network> {
        let id = company_id("name", name)?;
        let depth = match depth {
            0 => 1,
            d @ 1..=3 => d,
            _ => return Err(Error::invalid("depth", "between 1 and 3")),
        };
        let (mut nodes, mut edges) = match self.network.around(id, i64::from(depth)).await? {
            Some(found) => found,
            // Not in the graph yet (just created; the projection trails by milliseconds):
            // a live company is then a network of one.
            None => match self.companies.live_name(id).await? {
                Some(display_name) => (
                    vec![Node {
                        id: id.to_string(),
                        display_name,
                        distance: 0,
                    }],
                    Vec::new(),
                ),
                None => return Err(Error::not_found(format!("company {id}"))),
            },
        };
        if include_derived {
            for (node, edge) in self.network.derived(id).await? {
                if !nodes.iter().any(|n| n.id == node.id) {
                    nodes.push(node);
                }
                edges.push(edge);
            }
        }
        Ok(Network { nodes, edges })
    }

    /// The shortest chain of declared relations (at most six) between two companies; empty
    /// when there is none.
    pub async fn path(&self, from: &str, to: &str) -> Result<Network> {
        let a = company_id("from", from)?;
        let b = company_id("to", to)?;
        let (nodes, edges) = self.network.path(a, b).await?;
        Ok(Network { nodes, edges })
    }

    /// Companies ranked by overlap with company `name` (`limit` 1–50, 0 for 10; analytics
    /// readers only).
    pub async fn competitors(
        &self,
        ctx: &CallContext,
        name: &str,
        limit: i32,
    ) -> Result<Vec<Competitor>> {
        let caller = caller(ctx)?;
        let id = company_id("name", name)?;
        let limit = match limit {
            0 => 10,
            n @ 1..=50 => n,
            _ => return Err(Error::invalid("limit", "between 1 and 50")),
        };
        self.access
            .require(caller, id, Permission::AnalyticsRead, Privacy::Private)
            .await?;
        self.network.competitors(id, i64::from(limit)).await
    }
}
