//! The `application_access` table: per application, which company may see which version of
//! which resume and at what stage the application is (the job service's `Stage` numbers),
//! written by the reaction to the job service's events (`events::ApplicationAccess`) so reads
//! need no call to the job service.

use sqlx::MySqlPool;
use talentmesh_proto::job::v1 as jpb;

use crate::domain::Opened;

/// One application as the job service last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application<'a> {
    pub id: &'a str,
    pub company: &'a str,
    pub resume: &'a str,
    pub resume_version: i64,
    /// `talentmesh.job.v1.Stage` number.
    pub stage: i8,
    /// The application's version: an older report never overwrites a newer stage.
    pub version: i64,
}

/// Records `app`, keeping the stage of the newest application version seen.
pub async fn record(pool: &MySqlPool, app: &Application<'_>) -> Result<(), sqlx::Error> {
    // Assignments run left to right: the stage is compared with the old version first.
    sqlx::query(
        "INSERT INTO application_access (application_id, company_id, resume_id, resume_version, stage, version) \
         VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
         stage = IF(VALUES(version) > version, VALUES(stage), stage), \
         version = GREATEST(version, VALUES(version))",
    )
    .bind(app.id)
    .bind(app.company)
    .bind(app.resume)
    .bind(app.resume_version)
    .bind(app.stage)
    .bind(app.version)
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether an application at `stage` is past screening (interview, offer, hired).
fn past_screening(stage: i8) -> bool {
    matches!(
        jpb::Stage::try_from(i32::from(stage)),
        Ok(jpb::Stage::Interview | jpb::Stage::Offer | jpb::Stage::Hired)
    )
}

/// What the company of an open or ended (not withdrawn) application may see of `resume`.
pub async fn opened(
    pool: &MySqlPool,
    resume: &str,
    company: &str,
) -> Result<Option<Opened>, sqlx::Error> {
    let rows: Vec<(i64, i8)> = sqlx::query_as(
        "SELECT resume_version, stage FROM application_access \
         WHERE resume_id = ? AND company_id = ? AND stage <> ?",
    )
    .bind(resume)
    .bind(company)
    .bind(jpb::Stage::Withdrawn as i8)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(|(v, _)| *v).max().map(|version| Opened {
        version,
        contact: rows.iter().any(|(_, s)| past_screening(*s)),
    }))
}
