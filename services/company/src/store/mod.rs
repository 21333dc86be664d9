//! Every query of the company service. MySQL holds the truth: companies with their
//! verification (`companies`), members and invitations, offices, relations and the audit log;
//! a change to a company's state runs in one transaction ([`Tx`]) that holds the company row's
//! lock and ends by recording the `CompanyChanged` event. Redis caches permission decisions
//! (`decisions`). The projections of the company state live here too, with their queries: the
//! PostgreSQL search table (`search`), the Redis geo index (`geo_index`) and the Neo4j network
//! (`network`); `source` is the consistency checker's view of MySQL.

pub mod audit;
pub mod companies;
pub mod decisions;
pub mod geo_index;
pub mod members;
pub mod network;
pub mod offices;
pub mod relations;
pub mod search;
pub mod source;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{MySql, MySqlConnection, Transaction};

pub use audit::AuditLog;
pub use companies::CompanyStore;
pub use decisions::DecisionCache;
pub use geo_index::GeoIndex;
pub use members::MemberStore;
pub use network::NetworkGraph;
pub use offices::OfficeStore;
pub use relations::RelationStore;
pub use search::SearchIndex;

/// A MySQL transaction. A change to a company's state holds the company row's lock in it
/// ([`CompanyStore::begin_change`]).
pub type Tx = Transaction<'static, MySql>;

/// Now, at the precision MySQL keeps (microseconds), so what is returned equals what is read
/// back.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A unique-key violation (MySQL error 1062, SQLSTATE 23000).
pub fn is_duplicate(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23000"))
}

/// Whether company `id` exists and is not deleted, read on `conn`.
pub async fn is_live(conn: &mut MySqlConnection, id: &str) -> Result<bool, sqlx::Error> {
    let deleted: Option<bool> = sqlx::query_scalar("SELECT deleted FROM companies WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(deleted == Some(false))
}

/// `SELECT ... IN (` `ids` `)`: `head` ends with the opening parenthesis.
fn in_list<'a>(head: &str, ids: &'a [String]) -> sqlx::QueryBuilder<'a, MySql> {
    let mut q = sqlx::QueryBuilder::new(head);
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    q.push(")");
    q
}
