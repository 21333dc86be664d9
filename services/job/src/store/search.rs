//! The public search index in PostgreSQL (projection `jobs_search`, table `job_search`): its
//! definition (the document of a job, generated columns, partial indexes) and the search
//! queries over it. The index trails MySQL; the service re-reads the jobs it finds there.

use std::sync::Arc;

use sqlx::PgPool;
use talentmesh_storage::projection::{Change, PgDocuments};

use super::jobs::ENTITY;
use crate::domain::search::{document_tokens, skill_key, Query, SearchKey};
use crate::error::{Error, Result};
use crate::events::job_of;

/// The projection's name.
pub const SEARCH: &str = "jobs_search";

fn micros(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref()
        .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000))
}

/// The search index as a projection: one JSONB document per job in `job_search`, with
/// generated columns and partial indexes for the live (published) jobs.
pub fn search(pool: PgPool) -> talentmesh_storage::Result<PgDocuments> {
    Ok(PgDocuments::new(
        SEARCH,
        ENTITY,
        "job_search",
        pool,
        Arc::new(|c: &Change| {
            let j = job_of(c)?;
            let skills: Vec<String> = j
                .required_skills
                .iter()
                .chain(&j.preferred_skills)
                .map(|s| skill_key(s))
                .collect();
            let text = format!("{} {} {}", j.title, j.description, skills.join(" "));
            Ok(serde_json::json!({
                "company_id": j.name.split('/').nth(1).unwrap_or_default(),
                "state": j.state,
                "city_code": j.city_code,
                "recruit_type": j.recruit_type,
                "salary_min": j.salary_min,
                "salary_max": j.salary_max,
                "published_at": micros(&j.publish_time),
                "skills": skills.join("|"),
                "tokens": document_tokens(&text).join(" "),
                "title_tokens": document_tokens(&j.title).join(" "),
                "text_form": talentmesh_text::SEARCH_FORM,
            }))
        }),
    )?
    // Rows indexed under an older normal form of the text are marked stale (their hash no
    // longer matches); install reports them and the sync runtime re-projects them in the
    // current form right after start.
    .with_ddl(format!("UPDATE job_search SET content_hash = '' WHERE NOT deleted AND doc->>'text_form' IS DISTINCT FROM '{}'", talentmesh_text::SEARCH_FORM))
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS state INT GENERATED ALWAYS AS ((doc->>'state')::int) STORED")
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS company_id TEXT GENERATED ALWAYS AS (doc->>'company_id') STORED")
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS city_code TEXT GENERATED ALWAYS AS (doc->>'city_code') STORED")
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS recruit_type INT GENERATED ALWAYS AS ((doc->>'recruit_type')::int) STORED")
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS salary_min INT GENERATED ALWAYS AS ((doc->>'salary_min')::int) STORED")
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS salary_max INT GENERATED ALWAYS AS ((doc->>'salary_max')::int) STORED")
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS published_at BIGINT GENERATED ALWAYS AS ((doc->>'published_at')::bigint) STORED")
    // Arrays split from strings: `string_to_array` is immutable, so generated columns may use it.
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS tokens TEXT[] GENERATED ALWAYS AS (string_to_array(doc->>'tokens', ' ')) STORED")
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS title_tokens TEXT[] GENERATED ALWAYS AS (string_to_array(doc->>'title_tokens', ' ')) STORED")
    .with_ddl("ALTER TABLE job_search ADD COLUMN IF NOT EXISTS skills TEXT[] GENERATED ALWAYS AS (string_to_array(doc->>'skills', '|')) STORED")
    .with_ddl("CREATE INDEX IF NOT EXISTS job_search_tokens ON job_search USING gin (tokens) WHERE state = 2 AND NOT deleted")
    .with_ddl("CREATE INDEX IF NOT EXISTS job_search_skills ON job_search USING gin (skills) WHERE state = 2 AND NOT deleted")
    // Newest first, carrying what the filters read: searches walk it without the table.
    .with_ddl(format!("CREATE INDEX IF NOT EXISTS job_search_newest ON job_search (published_at DESC, id) INCLUDE (tokens, title_tokens, skills, city_code, salary_min, salary_max, recruit_type, company_id) WHERE {LIVE}"))
    .with_ddl("DROP INDEX IF EXISTS job_search_recent"))
}

/// Searches of the index.
pub struct SearchIndex {
    pool: PgPool,
}

impl SearchIndex {
    /// The index in `pool` (this service's schema).
    pub fn new(pool: PgPool) -> SearchIndex {
        SearchIndex { pool }
    }

    /// Up to `limit` published jobs matching `q` (their keys), best first, after `after`;
    /// and whether more follow (see [`find`]).
    pub async fn find(
        &self,
        q: &Query,
        after: Option<&SearchKey>,
        limit: i64,
    ) -> Result<(Vec<SearchKey>, bool)> {
        find(&self.pool, q, after, limit).await
    }
}

/// The published, live jobs: the predicate of the partial indexes. A literal, not a bind: a
/// partial index serves only queries whose plan can see the value, and a prepared
/// statement's generic plan cannot.
const LIVE: &str = "state = 2 AND NOT deleted";

/// The conditions of `q`, each after " AND ", on the columns the recency index covers.
fn push_filters(b: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, q: &Query) {
    if !q.tokens.is_empty() {
        b.push(" AND tokens @> ").push_bind(q.tokens.clone());
    }
    if !q.city_code.is_empty() {
        b.push(" AND city_code = ").push_bind(q.city_code.clone());
    }
    if !q.skill.is_empty() {
        b.push(" AND skills @> ")
            .push_bind(vec![skill_key(&q.skill)]);
    }
    if q.salary_min > 0 {
        // Overlap: the job pays at least the asked minimum somewhere in its range.
        b.push(" AND (salary_max = 0 OR salary_max >= ")
            .push_bind(q.salary_min)
            .push(")");
    }
    if q.salary_max > 0 {
        b.push(" AND salary_min <= ").push_bind(q.salary_max);
    }
    if q.recruit_type != 0 {
        b.push(" AND recruit_type = ").push_bind(q.recruit_type);
    }
    if !q.company_id.is_empty() {
        b.push(" AND company_id = ").push_bind(q.company_id.clone());
    }
}

/// Up to `limit` published jobs matching `q` (their keys), best first, after `after` (a
/// keyset on [`SearchKey`]: pages stay put while jobs are published); and whether more follow.
///
/// Relevance has two tiers: jobs whose title holds every query word come first, then jobs
/// that hold them elsewhere (description, skills); the newest first within each. Each tier is
/// a top-k query by recency after the cursor, which PostgreSQL answers from the recency index
/// when the words are common and from the token index when they are rare, so a page costs
/// about the same over 100 jobs or 100,000, on page one or page 500 (ranking every match by a
/// computed score would read them all).
pub async fn find(
    pool: &PgPool,
    q: &Query,
    after: Option<&SearchKey>,
    limit: i64,
) -> Result<(Vec<SearchKey>, bool)> {
    if q.matches_nothing {
        return Ok((Vec::new(), false));
    }
    // One row past the page says whether more follow.
    let wanted = limit + 1;
    let mut found = if q.by_relevance && !q.tokens.is_empty() {
        let mut found = if after.is_none_or(|a| a.tier == 0) {
            newest(pool, q, Tier::Title, after, wanted).await?
        } else {
            Vec::new()
        };
        let short = wanted - i64::try_from(found.len()).unwrap_or(wanted);
        if short > 0 {
            // The title tier is done: the rest from its start, or after a cursor in it.
            let after = after.filter(|a| a.tier == 1);
            found.extend(newest(pool, q, Tier::Rest, after, short).await?);
        }
        found
    } else {
        newest(pool, q, Tier::Any, after, wanted).await?
    };
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = found.len() > limit;
    found.truncate(limit);
    Ok((found, more))
}

/// Which matches of a query a tier query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    /// Every query word in the title (relevance tier 0).
    Title,
    /// Matches whose title lacks a query word (relevance tier 1).
    Rest,
    /// Every match (by recency, or a search without words; tier 0).
    Any,
}

/// Rows after `after` in the order (published_at DESC, id), each after " AND ".
fn push_after(b: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, after: Option<&SearchKey>) {
    if let Some(a) = after {
        b.push(" AND (published_at < ")
            .push_bind(a.published_at)
            .push(" OR (published_at = ")
            .push_bind(a.published_at)
            .push(" AND id > ")
            .push_bind(a.id.clone())
            .push("))");
    }
}

/// How many of the newest jobs a search reads, widening, before PostgreSQL picks its plan.
const RECENT_WINDOWS: [i64; 2] = [1_000, 10_000];

/// The columns the recency index carries beside its key, so a search can filter the newest
/// jobs without reading the table.
const COVERED: &str = "id, published_at, tokens, title_tokens, skills, city_code, salary_min, \
    salary_max, recruit_type, company_id";

/// The newest `n` matches of `q` in `tier` after `after`, as keys of that tier.
///
/// Common words are answered from the newest [`RECENT_WINDOWS`] jobs past the cursor alone,
/// a bounded walk of the recency index that never reads the table. Only when those hold
/// fewer than `n` matches (rare words, narrow filters) does PostgreSQL pick its own plan,
/// which then has few rows to read. Left to itself, the planner takes bigrams as independent
/// and so expects a phrase like 数据分析 to be thousands of times rarer than it is, and reads
/// every match through the token index, a table read per match.
async fn newest(
    pool: &PgPool,
    q: &Query,
    tier: Tier,
    after: Option<&SearchKey>,
    n: i64,
) -> Result<Vec<SearchKey>> {
    let selective = !q.tokens.is_empty() || !q.skill.is_empty();
    let mut rows: Option<Vec<(String, i64)>> = None;
    for window in RECENT_WINDOWS {
        if !selective || n > window / 10 {
            break;
        }
        // Only covered columns, so this is an index-only scan of the recency index. The
        // window is the newest jobs past the cursor, so its matches are the first matches.
        let mut b = sqlx::QueryBuilder::new(format!(
            "SELECT id, published_at FROM (SELECT {COVERED} FROM job_search WHERE {LIVE}"
        ));
        push_after(&mut b, after);
        b.push(format!(
            " ORDER BY published_at DESC, id LIMIT {window}) recent WHERE TRUE"
        ));
        push_matches(&mut b, q, tier);
        b.push(" ORDER BY published_at DESC, id LIMIT ")
            .push_bind(n);
        let found: Vec<(String, i64)> = b
            .build_query_as()
            .fetch_all(pool)
            .await
            .map_err(Error::postgres)?;
        if i64::try_from(found.len()).unwrap_or(i64::MAX) >= n {
            rows = Some(found);
            break;
        }
    }
    let rows = match rows {
        Some(rows) => rows,
        None => {
            let mut b = sqlx::QueryBuilder::new(format!(
                "SELECT id, published_at FROM job_search WHERE {LIVE}"
            ));
            push_after(&mut b, after);
            push_matches(&mut b, q, tier);
            b.push(" ORDER BY published_at DESC, id LIMIT ")
                .push_bind(n);
            b.build_query_as()
                .fetch_all(pool)
                .await
                .map_err(Error::postgres)?
        }
    };
    let tier = u8::from(tier == Tier::Rest);
    Ok(rows
        .into_iter()
        .map(|(id, published_at)| SearchKey {
            tier,
            published_at,
            id,
        })
        .collect())
}

fn push_matches(b: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, q: &Query, tier: Tier) {
    push_filters(b, q);
    match tier {
        Tier::Title => {
            b.push(" AND title_tokens @> ").push_bind(q.tokens.clone());
        }
        Tier::Rest => {
            b.push(" AND NOT coalesce(title_tokens @> ")
                .push_bind(q.tokens.clone())
                .push(", false)");
        }
        Tier::Any => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::JobState;

    #[test]
    fn the_live_predicate_names_the_published_state() {
        assert!(LIVE.starts_with(&format!("state = {} ", JobState::Published.code())));
    }
}
