//! The PostgreSQL projection: the analysis of each resume's newest version as a JSONB document
//! in `resume_analysis` (what matching and search read), with a GIN index over its skills.
//! Built from the `ResumeChanged` payload (the wire `Resume`).

use std::sync::Arc;

use talentmesh_proto::resume::v1 as pb;
use talentmesh_storage::projection::{Change, PgDocuments};

use super::ENTITY;

/// The projection's name in the sync admin API.
pub const NAME: &str = "resumes_analysis";

/// The projection over `pool` (the service's schema).
///
/// `doc`: `{owner, title, visibility, city_code, completeness, missing, total_years,
/// seniority, skills: [{name, declared, level, years}]}`.
pub fn projection(pool: sqlx::PgPool) -> talentmesh_storage::Result<PgDocuments> {
    Ok(PgDocuments::new(
        NAME,
        ENTITY,
        "resume_analysis",
        pool,
        Arc::new(|c: &Change| {
            let r: pb::Resume = prost::Message::decode(c.state.as_slice())
                .map_err(|e| format!("undecodable resume: {e}"))?;
            let a = r.analysis.unwrap_or_default();
            Ok(serde_json::json!({
                "owner": r.owner,
                "title": r.title,
                "visibility": r.visibility,
                "city_code": r.location.map(|l| l.city_code).unwrap_or_default(),
                "completeness": a.completeness,
                "missing": a.missing,
                "total_years": a.total_years,
                "seniority": a.seniority,
                "skills": a.skills.iter().map(|s| serde_json::json!({
                    "name": s.name, "declared": s.declared, "level": s.level, "years": s.years,
                })).collect::<Vec<_>>(),
            }))
        }),
    )?
    .with_ddl(
        "CREATE INDEX IF NOT EXISTS resume_analysis_skills ON resume_analysis \
         USING gin ((doc->'skills') jsonb_path_ops) WHERE NOT deleted",
    ))
}
