//! Resumes opened by applications. The job service records an `ApplicationChanged` event for
//! every change of an application; this reaction keeps, per application, which company may see
//! which version of which resume and at what stage it is. Reads then need no call to the job
//! service.

use prost::Message;
use sqlx::MySqlPool;
use talentmesh_proto::job::v1 as jpb;
use talentmesh_storage::bus::{Event, Handler, HandlerError};

pub const EVENT_TYPE: &str = "talentmesh.job.v1.ApplicationChanged";

/// What an application opens to its company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The version applied with (the newest such, when there are several applications).
    pub version: i64,
    /// Past screening: contact details may be shown.
    pub contact: bool,
}

pub struct ApplicationAccess {
    pool: MySqlPool,
}

impl ApplicationAccess {
    pub fn new(pool: MySqlPool) -> ApplicationAccess {
        ApplicationAccess { pool }
    }
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
    let past_screening = |s: i8| {
        matches!(
            jpb::Stage::try_from(i32::from(s)),
            Ok(jpb::Stage::Interview | jpb::Stage::Offer | jpb::Stage::Hired)
        )
    };
    Ok(rows.iter().map(|(v, _)| *v).max().map(|version| Opened {
        version,
        contact: rows.iter().any(|(_, s)| past_screening(*s)),
    }))
}

#[tonic::async_trait]
impl Handler for ApplicationAccess {
    async fn handle(&self, events: &[Event]) -> Result<(), HandlerError> {
        for e in events {
            if e.envelope.r#type != EVENT_TYPE {
                continue;
            }
            let payload = e
                .envelope
                .payload
                .as_ref()
                .ok_or_else(|| HandlerError::Permanent("event has no payload".into()))?;
            let app = jpb::ApplicationChanged::decode(payload.value.as_slice())
                .map_err(|err| {
                    HandlerError::Permanent(format!("undecodable ApplicationChanged: {err}"))
                })?
                .application
                .ok_or_else(|| {
                    HandlerError::Permanent("ApplicationChanged without an application".into())
                })?;
            let parts: Vec<&str> = app.name.split('/').collect();
            let (Some(company), Some(id)) = (parts.get(1), parts.get(5)) else {
                return Err(HandlerError::Permanent(format!(
                    "bad application name {}",
                    app.name
                )));
            };
            let resume = app.resume.strip_prefix("resumes/").ok_or_else(|| {
                HandlerError::Permanent(format!("bad resume name {}", app.resume))
            })?;
            // Assignments run left to right: the stage is compared with the old version first.
            sqlx::query(
                "INSERT INTO application_access (application_id, company_id, resume_id, resume_version, stage, version) \
                 VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
                 stage = IF(VALUES(version) > version, VALUES(stage), stage), \
                 version = GREATEST(version, VALUES(version))",
            )
            .bind(*id)
            .bind(*company)
            .bind(resume)
            .bind(app.resume_version)
            .bind(i8::try_from(app.stage).unwrap_or(0))
            .bind(app.version)
            .execute(&self.pool)
            .await
            .map_err(|err| {
                let err = talentmesh_storage::Error::MySql(err);
                if err.is_transient() {
                    HandlerError::Transient(err.to_string())
                } else {
                    HandlerError::Permanent(err.to_string())
                }
            })?;
        }
        Ok(())
    }
}
