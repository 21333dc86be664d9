//! The events the job service emits, in one place. Every write records one through the outbox
//! in the transaction that makes it, carrying the entity's whole new state:
//!
//! - `talentmesh.job.v1.JobChanged` (subject: the job's name) — read by this service's
//!   projections (search index, graph, cache) and by others.
//! - `talentmesh.job.v1.ApplicationChanged` (subject: the application's name) — read by the
//!   applications graph here and by the resume service (an application opens a resume to the
//!   company).
//!
//! The job service consumes no other service's events. The `*_change_of` functions read the
//! events back into the [`Change`]s the projections apply; the consistency checker builds the
//! same `Change`s from MySQL (`store`), so both paths go through [`job_change`] and
//! [`application_change`].

use prost::Message;
use talentmesh_proto::job::v1 as pb;
use talentmesh_storage::outbox::EventDraft;
use talentmesh_storage::projection::{change_of_event, Change, ChangeOf};

use crate::domain::names::job_id;
use crate::domain::{Application, Job};
use crate::grpc::wire;

/// The type of the event every job change records.
pub const JOB_CHANGED: &str = "talentmesh.job.v1.JobChanged";
/// The type of the event every application change records.
pub const APPLICATION_CHANGED: &str = "talentmesh.job.v1.ApplicationChanged";

fn draft(event_type: &str, subject: String, version: i64, value: Vec<u8>) -> EventDraft {
    EventDraft {
        event_type: event_type.to_string(),
        subject,
        entity_version: version,
        payload: prost_types::Any {
            type_url: format!("type.googleapis.com/{event_type}"),
            value,
        },
        traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
        tracestate: String::new(),
    }
}

/// The `JobChanged` event of `job`'s current state.
pub fn job_changed(job: &Job) -> EventDraft {
    let job = wire::job_to_pb(job);
    draft(
        JOB_CHANGED,
        job.name.clone(),
        job.version,
        pb::JobChanged { job: Some(job) }.encode_to_vec(),
    )
}

/// The `ApplicationChanged` event of `app`'s current state.
pub fn application_changed(app: &Application) -> EventDraft {
    let app = wire::application_to_pb(app);
    draft(
        APPLICATION_CHANGED,
        app.name.clone(),
        app.version,
        pb::ApplicationChanged {
            application: Some(app),
        }
        .encode_to_vec(),
    )
}

/// A job's state as its projections see it: the encoded `pb::Job` (empty when deleted).
pub fn job_change(job: &Job) -> Change {
    change_of_job(&job.id, &wire::job_to_pb(job))
}

fn change_of_job(id: &str, job: &pb::Job) -> Change {
    Change {
        id: id.to_string(),
        version: job.version,
        deleted: job.deleted,
        state: if job.deleted {
            Vec::new()
        } else {
            job.encode_to_vec()
        },
    }
}

/// The job in a job projection's `Change`.
pub fn job_of(change: &Change) -> Result<pb::Job, String> {
    pb::Job::decode(change.state.as_slice()).map_err(|e| format!("undecodable job state: {e}"))
}

/// Reads `JobChanged` events into job `Change`s (other events: `None`).
pub fn jobs_change_of() -> ChangeOf {
    change_of_event(JOB_CHANGED, |event: pb::JobChanged| {
        let job = event
            .job
            .ok_or_else(|| "JobChanged without a job".to_string())?;
        let id = job_id(&job.name)
            .ok_or_else(|| format!("bad job name {}", job.name))?
            .to_string();
        Ok(change_of_job(&id, &job))
    })
}

/// An application's state as its projection sees it: the encoded `pb::Application`.
pub fn application_change(app: &Application) -> Change {
    Change {
        id: app.id.clone(),
        version: app.version,
        deleted: false,
        state: wire::application_to_pb(app).encode_to_vec(),
    }
}

fn change_of_application(app: &pb::Application) -> Option<Change> {
    let id = app.name.rsplit('/').next()?.to_string();
    Some(Change {
        id,
        version: app.version,
        deleted: false,
        state: app.encode_to_vec(),
    })
}

/// The application in an application projection's `Change`.
pub fn application_of(change: &Change) -> Result<pb::Application, String> {
    pb::Application::decode(change.state.as_slice())
        .map_err(|e| format!("undecodable application: {e}"))
}

/// Reads `ApplicationChanged` events into application `Change`s (other events: `None`).
pub fn applications_change_of() -> ChangeOf {
    change_of_event(APPLICATION_CHANGED, |event: pb::ApplicationChanged| {
        let app = event
            .application
            .ok_or_else(|| "ApplicationChanged without an application".to_string())?;
        change_of_application(&app).ok_or_else(|| format!("bad application name {}", app.name))
    })
}
