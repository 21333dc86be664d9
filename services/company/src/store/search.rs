//! The company search index in PostgreSQL: a JSONB document per company (from the projection)
//! with generated columns for the filters and the name and description in the search normal
//! form (`talentmesh_text`), and the query `ListCompanies` runs on it.

use std::sync::Arc;

use sqlx::PgPool;
use talentmesh_storage::projection::{Change, PgDocuments};

use crate::domain::{CompanyFilter, StateFilter};
use crate::error::Result;
use crate::events::{state_of, ENTITY};

/// The projection's name (in the checker's reports and the sync admin API).
pub const NAME: &str = "companies_search";
const TABLE: &str = "company_search";

/// The projection of company states into `company_search` on `pool`.
///
/// # Errors
/// A bad table name (never, it is a constant).
pub fn projection(pool: PgPool) -> talentmesh_storage::Result<PgDocuments> {
    Ok(PgDocuments::new(
        NAME,
        ENTITY,
        TABLE,
        pool,
        Arc::new(|c: &Change| {
            let s = state_of(c)?;
            Ok(serde_json::json!({
                "display_name": s.display_name,
                "description": s.description,
                "industry": s.industry,
                "city_code": s.city_code,
                "verification_state": s.verification_state,
                "size": s.size,
                "offices": s.offices.len(),
                "search_normal": talentmesh_text::normalise_for_search(&format!(
                    "{} {}",
                    s.display_name, s.description
                )),
                "text_form": talentmesh_text::SEARCH_FORM,
            }))
        }),
    )?
    .with_ddl(
        "ALTER TABLE company_search ADD COLUMN IF NOT EXISTS industry TEXT \
         GENERATED ALWAYS AS (doc->>'industry') STORED",
    )
    .with_ddl(
        "ALTER TABLE company_search ADD COLUMN IF NOT EXISTS city_code TEXT \
         GENERATED ALWAYS AS (doc->>'city_code') STORED",
    )
    .with_ddl(
        "ALTER TABLE company_search ADD COLUMN IF NOT EXISTS verification_state INT \
         GENERATED ALWAYS AS ((doc->>'verification_state')::int) STORED",
    )
    // Name and description in the search normal form (computed by the projection: NFKC,
    // lower case, simplified Chinese), for substring search in any script (Chinese has no word
    // boundaries for a tokenizer to find). It replaces `search_text`, which SQL `lower()`
    // computed and so missed full-width and traditional forms.
    .with_ddl("ALTER TABLE company_search DROP COLUMN IF EXISTS search_text")
    .with_ddl(
        "ALTER TABLE company_search ADD COLUMN IF NOT EXISTS search_normal TEXT \
         GENERATED ALWAYS AS (doc->>'search_normal') STORED",
    )
    // Rows projected under an older normal form are marked stale (their hash no longer
    // matches); install reports them and the sync runtime re-projects them in the current
    // form right after start.
    .with_ddl(format!(
        "UPDATE company_search SET content_hash = '' WHERE NOT deleted \
         AND doc->>'text_form' IS DISTINCT FROM '{}'",
        talentmesh_text::SEARCH_FORM
    ))
    .with_ddl(
        "CREATE INDEX IF NOT EXISTS company_search_filters ON company_search \
         (industry, city_code, verification_state, id) WHERE NOT deleted",
    ))
}

/// The search table's query side.
#[derive(Clone)]
pub struct SearchIndex {
    pool: PgPool,
}

impl SearchIndex {
    /// Queries on `pool` (the service's schema).
    pub fn new(pool: PgPool) -> SearchIndex {
        SearchIndex { pool }
    }

    /// One page of matching company ids (by id, after `after`), and the id to continue after.
    pub async fn list(
        &self,
        filter: &CompanyFilter,
        after: &str,
        limit: i64,
    ) -> Result<(Vec<String>, Option<String>)> {
        list(&self.pool, filter, after, limit).await
    }
}

async fn list(
    pool: &PgPool,
    filter: &CompanyFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<String>, Option<String>)> {
    let mut q =
        sqlx::QueryBuilder::new("SELECT id FROM company_search WHERE NOT deleted AND id > ");
    q.push_bind(after.to_string());
    if !filter.industry.is_empty() {
        q.push(" AND industry = ")
            .push_bind(filter.industry.clone());
    }
    if !filter.city_code.is_empty() {
        q.push(" AND city_code = ")
            .push_bind(filter.city_code.clone());
    }
    if let StateFilter::Only(state) = filter.verification_state {
        q.push(" AND verification_state = ").push_bind(state.code());
    }
    // The query in the index's normal form: full-width, upper-case and traditional forms
    // find what the index holds in half-width, lower-case and simplified ones.
    let words: Vec<String> = talentmesh_text::normalise_for_search(&filter.query)
        .split_whitespace()
        .map(|w| format!("%{}%", escape_like(w)))
        .collect();
    for w in words {
        q.push(" AND search_normal LIKE ")
            .push_bind(w)
            .push(" ESCAPE '\\'");
    }
    q.push(" ORDER BY id LIMIT ").push_bind(limit + 1);
    let mut ids: Vec<String> = q
        .build_query_scalar()
        .fetch_all(pool)
        .await
        .map_err(talentmesh_storage::Error::Postgres)?;
    let next = if ids.len() > usize::try_from(limit).unwrap_or(0) {
        ids.truncate(usize::try_from(limit).unwrap_or(0));
        ids.last().cloned()
    } else {
        None
    };
    Ok((ids, next))
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::escape_like("50%_a\\"), "50\\%\\_a\\\\");
    }
}
