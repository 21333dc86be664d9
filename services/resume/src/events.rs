//! The events of the resume service, in one place.
//!
//! Emitted: `talentmesh.resume.v1.ResumeChanged` for every save (the whole new version) and
//! every delete (a tombstone: name and version only, `deleted` set), recorded in the outbox
//! with the change ([`changed`], [`deleted`]). Its payload is what the projections read
//! ([`change_of`]).
//!
//! Consumed: the job service's `talentmesh.job.v1.ApplicationChanged`: an application opens the
//! resume it was made with to the job's company ([`ApplicationAccess`] records it through
//! `store::access`).

use prost::Message;
use sqlx::MySqlPool;
use talentmesh_proto::job::v1 as jpb;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_storage::bus::{Event, Handler, HandlerError};
use talentmesh_storage::outbox::EventDraft;
use talentmesh_storage::projection::{change_of_event, Change, ChangeOf};

use crate::domain::{Resume, ResumeId};
use crate::grpc::convert;
use crate::store::access::{self, Application};

/// The event type of a resume's change.
pub const RESUME_CHANGED: &str = "talentmesh.resume.v1.ResumeChanged";
/// The job service's event type for a change of an application.
pub const APPLICATION_CHANGED: &str = "talentmesh.job.v1.ApplicationChanged";

fn draft(resume: pb::Resume, deleted: bool) -> EventDraft {
    EventDraft {
        event_type: RESUME_CHANGED.to_string(),
        subject: resume.name.clone(),
        entity_version: resume.version,
        payload: prost_types::Any {
            type_url: format!("type.googleapis.com/{RESUME_CHANGED}"),
            value: pb::ResumeChanged {
                resume: Some(resume),
                deleted,
            }
            .encode_to_vec(),
        },
        traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
        tracestate: String::new(),
    }
}

/// The event of a saved version: the whole version.
pub fn changed(resume: &Resume) -> EventDraft {
    draft(convert::resume_to_pb(resume), false)
}

/// The event of a delete: a tombstone at the row's new `version`.
pub fn deleted(id: &ResumeId, version: i64) -> EventDraft {
    draft(
        pb::Resume {
            name: id.name(),
            version,
            ..Default::default()
        },
        true,
    )
}

/// A projection change of resume `id` at `version`: `state` is the encoded wire `Resume`, or
/// `None` for a deleted resume.
pub fn change(id: &str, version: i64, state: Option<Vec<u8>>) -> Change {
    Change {
        id: id.to_string(),
        version,
        deleted: state.is_none(),
        state: state.unwrap_or_default(),
    }
}

/// Reads a `ResumeChanged` envelope as a projection change (other events: `None`).
pub fn change_of() -> ChangeOf {
    change_of_event(RESUME_CHANGED, |event: pb::ResumeChanged| {
        let resume = event
            .resume
            .ok_or_else(|| "ResumeChanged without a resume".to_string())?;
        let id = resume
            .name
            .strip_prefix("resumes/")
            .ok_or_else(|| format!("bad resume name {}", resume.name))?
            .to_string();
        let state = (!event.deleted).then(|| resume.encode_to_vec());
        Ok(change(&id, resume.version, state))
    })
}

/// The reaction to the job service's `ApplicationChanged`: keeps, per application, which
/// company may see which version of which resume and at what stage it is.
pub struct ApplicationAccess {
    pool: MySqlPool,
}

impl ApplicationAccess {
    /// The reaction writing into `pool` (the service's MySQL database).
    pub fn new(pool: MySqlPool) -> ApplicationAccess {
        ApplicationAccess { pool }
    }
}

/// The application in an `ApplicationChanged` event; a malformed event is a permanent error.
fn application(e: &Event) -> Result<jpb::Application, HandlerError> {
    let payload = e
        .envelope
        .payload
        .as_ref()
        .ok_or_else(|| HandlerError::Permanent("event has no payload".into()))?;
    jpb::ApplicationChanged::decode(payload.value.as_slice())
        .map_err(|err| HandlerError::Permanent(format!("undecodable ApplicationChanged: {err}")))?
        .application
        .ok_or_else(|| HandlerError::Permanent("ApplicationChanged without an application".into()))
}

#[tonic::async_trait]
impl Handler for ApplicationAccess {
    async fn handle(&self, events: &[Event]) -> Result<(), HandlerError> {
        for e in events {
            if e.envelope.r#type != APPLICATION_CHANGED {
                continue;
            }
            let app = application(e)?;
            // "companies/{company}/jobs/{job}/applications/{application}"
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
            let row = Application {
                id,
                company,
                resume,
                resume_version: app.resume_version,
                stage: i8::try_from(app.stage).unwrap_or(0),
                version: app.version,
            };
            access::record(&self.pool, &row).await.map_err(|err| {
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
