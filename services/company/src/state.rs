//! A company's state as the rest of the system sees it: the `companies` row with its offices and
//! the relations it declared. Every change writes the whole state into a `CompanyChanged` event
//! in the same transaction (through the outbox), and the consistency checker reads the same
//! state back from MySQL, so events and checks hash identically.

use chrono::{DateTime, Utc};
use prost::Message;
use sqlx::{MySql, MySqlConnection, MySqlPool};
use talentmesh_mesh::ApiError;
use talentmesh_proto::company::v1 as pb;
use talentmesh_storage::outbox::EventDraft;
use talentmesh_storage::projection::{Change, Source};

pub const ENTITY: &str = "companies";
pub const EVENT_TYPE: &str = "talentmesh.company.v1.CompanyChanged";

/// A MySQL failure as the caller sees it (UNAVAILABLE when the store is down).
pub fn db(e: sqlx::Error) -> ApiError {
    talentmesh_storage::Error::MySql(e).into()
}

/// One `companies` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CompanyRow {
    pub id: String,
    pub version: i64,
    pub deleted: bool,
    pub display_name: String,
    pub description: String,
    pub industry: String,
    pub city_code: String,
    pub website: String,
    pub size: i8,
    pub creator: String,
    pub verification_state: i8,
    pub uscc: Option<String>,
    pub legal_name: String,
    pub legal_representative: String,
    pub licence_document: String,
    pub reject_reason: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewer: Option<String>,
    pub permission_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const COMPANY_COLUMNS: &str = "id, version, deleted, display_name, description, industry, \
    city_code, website, size, creator, verification_state, uscc, legal_name, \
    legal_representative, licence_document, reject_reason, submitted_at, reviewed_at, reviewer, \
    permission_version, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfficeRow {
    pub id: String,
    pub company_id: String,
    pub label: String,
    pub address: String,
    pub city_code: String,
    pub latitude: f64,
    pub longitude: f64,
    pub headquarters: bool,
}

pub const OFFICE_COLUMNS: &str =
    "id, company_id, label, address, city_code, latitude, longitude, headquarters";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RelationRow {
    pub id: String,
    pub source_id: String,
    pub target_id: String,
    pub kind: i8,
    pub disputed: bool,
    pub dispute_reason: String,
    pub created_at: DateTime<Utc>,
}

pub const RELATION_COLUMNS: &str =
    "id, source_id, target_id, kind, disputed, dispute_reason, created_at";

/// A company with everything its state includes.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub company: CompanyRow,
    pub offices: Vec<OfficeRow>,
    pub relations: Vec<RelationRow>,
}

impl Aggregate {
    /// The state projections see. Offices and relations sort by id so the encoding (and the
    /// hash the checker compares) does not depend on read order.
    pub fn state(&self) -> pb::CompanyState {
        let c = &self.company;
        if c.deleted {
            return pb::CompanyState {
                id: c.id.clone(),
                version: c.version,
                deleted: true,
                ..Default::default()
            };
        }
        let mut offices: Vec<pb::OfficeState> = self
            .offices
            .iter()
            .map(|o| pb::OfficeState {
                id: o.id.clone(),
                city_code: o.city_code.clone(),
                latitude: o.latitude,
                longitude: o.longitude,
                headquarters: o.headquarters,
                label: o.label.clone(),
                address: o.address.clone(),
            })
            .collect();
        offices.sort_by(|a, b| a.id.cmp(&b.id));
        let mut relations: Vec<pb::RelationState> = self
            .relations
            .iter()
            .map(|r| pb::RelationState {
                id: r.id.clone(),
                target_id: r.target_id.clone(),
                kind: i32::from(r.kind),
                disputed: r.disputed,
            })
            .collect();
        relations.sort_by(|a, b| a.id.cmp(&b.id));
        pb::CompanyState {
            id: c.id.clone(),
            version: c.version,
            deleted: false,
            display_name: c.display_name.clone(),
            description: c.description.clone(),
            industry: c.industry.clone(),
            city_code: c.city_code.clone(),
            verification_state: i32::from(c.verification_state),
            offices,
            relations,
            size: i32::from(c.size),
        }
    }

    pub fn change(&self) -> Change {
        change_of_state(&self.state())
    }

    /// The event this state is recorded as.
    pub fn draft(&self) -> EventDraft {
        let state = self.state();
        EventDraft {
            event_type: EVENT_TYPE.to_string(),
            subject: format!("companies/{}", state.id),
            entity_version: state.version,
            payload: prost_types::Any {
                type_url: format!("type.googleapis.com/{EVENT_TYPE}"),
                value: pb::CompanyChanged {
                    company: Some(state),
                }
                .encode_to_vec(),
            },
            traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
            tracestate: String::new(),
        }
    }
}

pub fn change_of_state(state: &pb::CompanyState) -> Change {
    Change {
        id: state.id.clone(),
        version: state.version,
        deleted: state.deleted,
        state: if state.deleted {
            Vec::new()
        } else {
            state.encode_to_vec()
        },
    }
}

/// Reads companies `ids` with their offices and relations, using `conn` (a transaction's
/// connection sees its own uncommitted writes).
pub async fn load_many(
    conn: &mut MySqlConnection,
    ids: &[String],
) -> Result<Vec<Aggregate>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let companies: Vec<CompanyRow> = in_list(
        &format!("SELECT {COMPANY_COLUMNS} FROM companies WHERE id IN ("),
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await?;
    let offices: Vec<OfficeRow> = in_list(
        &format!("SELECT {OFFICE_COLUMNS} FROM company_offices WHERE company_id IN ("),
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await?;
    let relations: Vec<RelationRow> = in_list(
        &format!("SELECT {RELATION_COLUMNS} FROM company_relations WHERE source_id IN ("),
        ids,
    )
    .build_query_as()
    .fetch_all(&mut *conn)
    .await?;
    Ok(companies
        .into_iter()
        .map(|company| Aggregate {
            offices: offices
                .iter()
                .filter(|o| o.company_id == company.id)
                .cloned()
                .collect(),
            relations: relations
                .iter()
                .filter(|r| r.source_id == company.id)
                .cloned()
                .collect(),
            company,
        })
        .collect())
}

pub async fn load_one(
    conn: &mut MySqlConnection,
    id: &str,
) -> Result<Option<Aggregate>, sqlx::Error> {
    Ok(load_many(conn, &[id.to_string()]).await?.into_iter().next())
}

fn in_list<'a>(head: &str, ids: &'a [String]) -> sqlx::QueryBuilder<'a, MySql> {
    let mut q = sqlx::QueryBuilder::new(head);
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    q.push(")");
    q
}

/// The checker's view of MySQL.
pub struct CompanySource {
    pool: MySqlPool,
}

impl CompanySource {
    pub fn new(pool: MySqlPool) -> CompanySource {
        CompanySource { pool }
    }
}

fn store_err(e: sqlx::Error) -> talentmesh_storage::Error {
    talentmesh_storage::Error::MySql(e)
}

#[tonic::async_trait]
impl Source for CompanySource {
    fn entity_type(&self) -> &str {
        ENTITY
    }

    async fn page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> talentmesh_storage::Result<Vec<Change>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM companies WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after.unwrap_or(""))
                .bind(u64::try_from(limit).unwrap_or(500))
                .fetch_all(&self.pool)
                .await
                .map_err(store_err)?;
        let mut changes = self.load(&ids).await?;
        changes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(changes)
    }

    async fn load(&self, ids: &[String]) -> talentmesh_storage::Result<Vec<Change>> {
        let mut conn = self.pool.acquire().await.map_err(store_err)?;
        Ok(load_many(&mut conn, ids)
            .await
            .map_err(store_err)?
            .iter()
            .map(Aggregate::change)
            .collect())
    }

    async fn count(&self) -> talentmesh_storage::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM companies")
            .fetch_one(&self.pool)
            .await
            .map_err(store_err)
    }
}

/// Reads the company out of a `CompanyChanged` event; other events are not ours.
pub fn change_of() -> talentmesh_storage::projection::ChangeOf {
    std::sync::Arc::new(|envelope| {
        if envelope.r#type != EVENT_TYPE {
            return Ok(None);
        }
        let payload = envelope
            .payload
            .as_ref()
            .ok_or_else(|| "event has no payload".to_string())?;
        let event = pb::CompanyChanged::decode(payload.value.as_slice())
            .map_err(|e| format!("undecodable CompanyChanged: {e}"))?;
        let state = event
            .company
            .ok_or_else(|| "CompanyChanged without a company".to_string())?;
        Ok(Some(change_of_state(&state)))
    })
}

/// The state inside a change (for projections).
pub fn state_of(change: &Change) -> Result<pb::CompanyState, String> {
    pb::CompanyState::decode(change.state.as_slice())
        .map_err(|e| format!("undecodable company state: {e}"))
}
