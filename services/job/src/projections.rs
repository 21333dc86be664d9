//! The job's projections: the search index in PostgreSQL and the job graph in Neo4j.

use std::sync::Arc;

use base64::Engine;
use neo4rs::Graph;
use sqlx::PgPool;
use talentmesh_mesh::ApiError;
use talentmesh_proto::job::v1 as pb;
use talentmesh_storage::projection::{Change, Neo4jNodes, PgDocuments, RedisHashes};
use talentmesh_storage::RedisPool;

use crate::domain::tokens;
use crate::store::{job_of, ENTITY};

pub const SEARCH: &str = "jobs_search";
pub const GRAPH: &str = "jobs_graph";
pub const CACHE: &str = "jobs_cache";

/// The read cache in Redis: one hash per job with its encoded state, so a public read of a
/// published job costs one Redis call. Versions guard every write, so the cache never goes
/// back to an older state; it trails MySQL by the projection's lag.
pub fn cache(redis: RedisPool) -> RedisHashes {
    RedisHashes::new(
        CACHE,
        ENTITY,
        "jobcache",
        redis,
        Arc::new(|c: &Change| {
            let j = job_of(c)?;
            Ok(serde_json::json!({
                "state": j.state,
                "job": base64::engine::general_purpose::STANDARD.encode(&c.state),
            }))
        }),
    )
}

/// A published job from the cache, if it is there (None on a miss or any doubt).
pub async fn cached_published(cache: &RedisHashes, id: &str) -> Option<pb::Job> {
    let (_, fields) = cache.live(id, &["state", "job"]).await?;
    let [state, encoded] = fields.as_slice() else {
        return None;
    };
    if state.as_deref()?.parse::<i32>().ok()? != pb::JobState::Published as i32 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_deref()?)
        .ok()?;
    prost::Message::decode(bytes.as_slice()).ok()
}

fn micros(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref()
        .map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000))
}

/// Skill names as the index and the graph keep them.
pub fn skill_key(s: &str) -> String {
    s.trim().to_lowercase()
}

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
                "tokens": tokens(&text).join(" "),
                "title_tokens": tokens(&j.title).join(" "),
            }))
        }),
    )?
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

/// `company_ns` is the company service's Neo4j namespace: jobs hang off its `Company` nodes
/// (`POSTED`), and skills are shared `Skill` nodes there, so the company network sees them.
pub fn graph(ns: &str, company_ns: &str, graph: Graph) -> talentmesh_storage::Result<Neo4jNodes> {
    // Spliced into Cypher as a literal: only plain names.
    if company_ns.is_empty()
        || !company_ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(talentmesh_storage::Error::InvalidUpdate(format!(
            "bad company graph namespace {company_ns}"
        )));
    }
    Ok(Neo4jNodes::new(
        GRAPH,
        ENTITY,
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
        published = pb::JobState::Published as i32
    )))
}

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub tokens: Vec<String>,
    pub city_code: String,
    pub skill: String,
    pub salary_min: i32,
    pub salary_max: i32,
    pub recruit_type: i32,
    pub company_id: String,
    pub by_relevance: bool,
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

/// Ids of published jobs matching `q`, best first, from `offset`; and whether more follow.
///
/// Relevance has two tiers: jobs whose title holds every query word come first, then jobs
/// that hold them elsewhere (description, skills); the newest first within each. Each tier is
/// a top-k query by recency, which PostgreSQL answers from the recency index when the words
/// are common and from the token index when they are rare, so a page costs about the same
/// over 100 jobs or 100,000 (ranking every match by a computed score would read them all).
pub async fn find(
    pool: &PgPool,
    q: &Query,
    offset: i64,
    limit: i64,
) -> Result<(Vec<String>, bool), ApiError> {
    // One row past the page says whether more follow.
    let depth = offset + limit + 1;
    let ranked = if q.by_relevance && !q.tokens.is_empty() {
        let titled = newest(pool, q, true, depth).await?;
        if i64::try_from(titled.len()).unwrap_or(i64::MAX) >= depth {
            titled
        } else {
            // Every title match is in `titled`, so the rest of the matches, newest first,
            // are the second tier. At most `titled.len()` of `depth` rows are title matches.
            let seen: std::collections::HashSet<&String> = titled.iter().collect();
            let rest: Vec<String> = newest(pool, q, false, depth)
                .await?
                .into_iter()
                .filter(|id| !seen.contains(id))
                .collect();
            titled.iter().cloned().chain(rest).collect()
        }
    } else {
        newest(pool, q, false, depth).await?
    };
    let start = usize::try_from(offset).unwrap_or(0);
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = ranked.len() > start + limit;
    Ok((ranked.into_iter().skip(start).take(limit).collect(), more))
}

/// How many of the newest jobs a search reads, widening, before PostgreSQL picks its plan.
const RECENT_WINDOWS: [i64; 2] = [1_000, 10_000];

/// The columns the recency index carries beside its key, so a search can filter the newest
/// jobs without reading the table.
const COVERED: &str = "id, published_at, tokens, title_tokens, skills, city_code, salary_min, \
    salary_max, recruit_type, company_id";

/// The newest `n` matches of `q`; with `in_title`, only jobs whose title holds every word.
///
/// Common words are answered from the newest [`RECENT_WINDOWS`] jobs alone, a bounded walk
/// of the recency index that never reads the table. Only when those hold fewer than `n`
/// matches (rare words, narrow filters, deep pages) does PostgreSQL pick its own plan, which
/// then has few rows to read. Left to itself, the planner takes bigrams as independent and so
/// expects a phrase like 数据分析 to be thousands of times rarer than it is, and reads every
/// match through the token index, a table read per match.
async fn newest(pool: &PgPool, q: &Query, in_title: bool, n: i64) -> Result<Vec<String>, ApiError> {
    let selective = !q.tokens.is_empty() || !q.skill.is_empty();
    for window in RECENT_WINDOWS {
        if !selective || n > window / 10 {
            break;
        }
        // Only covered columns, so this is an index-only scan of the recency index.
        let mut b = sqlx::QueryBuilder::new(format!(
            "SELECT id FROM (SELECT {COVERED} FROM job_search WHERE {LIVE} \
             ORDER BY published_at DESC, id LIMIT {window}) recent WHERE TRUE"
        ));
        push_matches(&mut b, q, in_title);
        b.push(" ORDER BY published_at DESC, id LIMIT ")
            .push_bind(n);
        let ids: Vec<String> = b
            .build_query_scalar()
            .fetch_all(pool)
            .await
            .map_err(|e| ApiError::from(talentmesh_storage::Error::Postgres(e)))?;
        if i64::try_from(ids.len()).unwrap_or(i64::MAX) >= n {
            return Ok(ids);
        }
    }
    let mut b = sqlx::QueryBuilder::new(format!("SELECT id FROM job_search WHERE {LIVE}"));
    push_matches(&mut b, q, in_title);
    b.push(" ORDER BY published_at DESC, id LIMIT ")
        .push_bind(n);
    b.build_query_scalar()
        .fetch_all(pool)
        .await
        .map_err(|e| ApiError::from(talentmesh_storage::Error::Postgres(e)))
}

fn push_matches(b: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, q: &Query, in_title: bool) {
    push_filters(b, q);
    if in_title {
        b.push(" AND title_tokens @> ").push_bind(q.tokens.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_predicate_names_the_published_state() {
        assert!(LIVE.starts_with(&format!("state = {} ", pb::JobState::Published as i32)));
    }
}
