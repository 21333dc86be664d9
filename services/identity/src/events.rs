//! The events identity emits, in one place. Identity consumes no events; it announces new
//! accounts (`UserRegistered`) through the transactional outbox, recorded in the same MySQL
//! transaction as the row (see `store::users`), so other services (resume, company) can react.

use prost::Message;
use talentmesh_proto::events::v1::UserRegistered;
use talentmesh_storage::outbox::EventDraft;

use crate::domain::{Email, Role};

/// The outbox source name of identity's events.
pub const SOURCE: &str = "identity";

/// The event type (and `Any` type name) of [`UserRegistered`].
pub const USER_REGISTERED: &str = "talentmesh.events.v1.UserRegistered";

/// The outbox draft of `UserRegistered` for the new account `id` (subject `users/{id}`,
/// entity version 1, roles by their token names), carrying the current trace context.
pub fn user_registered(id: &str, email: &Email, roles: &[Role]) -> EventDraft {
    let event = UserRegistered {
        user: format!("users/{id}"),
        email: email.as_str().to_string(),
        roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
    };
    EventDraft {
        event_type: USER_REGISTERED.to_string(),
        subject: format!("users/{id}"),
        entity_version: 1,
        payload: prost_types::Any {
            type_url: format!("type.googleapis.com/{USER_REGISTERED}"),
            value: event.encode_to_vec(),
        },
        traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
        tracestate: String::new(),
    }
}
