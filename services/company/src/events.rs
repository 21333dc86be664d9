//! The one event the company service emits, `CompanyChanged`: the company's whole state
//! (profile, offices, declared relations) after every change, recorded through the outbox in
//! the change's transaction. The projections (search, geo index, network) read it back with
//! [`change_of`] and [`state_of`]; the consistency checker builds the same [`Change`] from
//! MySQL with [`change`], so events and checks hash identically. The company service consumes
//! no other service's events.

use prost::Message;
use talentmesh_proto::company::v1 as pb;
use talentmesh_storage::outbox::EventDraft;
use talentmesh_storage::projection::{change_of_event, Change, ChangeOf};

use crate::domain::names::company_name;
use crate::domain::CompanyAggregate;

/// The entity type of the projections and the checker.
pub const ENTITY: &str = "companies";
/// The event's type (and its payload's protobuf type).
pub const EVENT_TYPE: &str = "talentmesh.company.v1.CompanyChanged";

/// The state projections see. Offices and relations sort by id so the encoding (and the hash
/// the checker compares) does not depend on read order; a deleted company is a tombstone.
pub fn state(aggregate: &CompanyAggregate) -> pb::CompanyState {
    let c = &aggregate.company;
    if c.deleted {
        return pb::CompanyState {
            id: c.id.clone(),
            version: c.version,
            deleted: true,
            ..Default::default()
        };
    }
    let mut offices: Vec<pb::OfficeState> = aggregate
        .offices
        .iter()
        .map(|o| pb::OfficeState {
            id: o.id.clone(),
            city_code: o.city_code.clone(),
            latitude: o.position.lat,
            longitude: o.position.lng,
            headquarters: o.headquarters,
            label: o.label.clone(),
            address: o.address.clone(),
        })
        .collect();
    offices.sort_by(|a, b| a.id.cmp(&b.id));
    let mut relations: Vec<pb::RelationState> = aggregate
        .relations
        .iter()
        .map(|r| pb::RelationState {
            id: r.id.clone(),
            target_id: r.target_id.clone(),
            kind: r.kind.code(),
            disputed: r.disputed,
        })
        .collect();
    relations.sort_by(|a, b| a.id.cmp(&b.id));
    pb::CompanyState {
        id: c.id.clone(),
        version: c.version,
        deleted: false,
        display_name: c.profile.display_name.clone(),
        description: c.profile.description.clone(),
        industry: c.profile.industry.clone(),
        city_code: c.profile.city_code.clone(),
        verification_state: c.verification.state.code(),
        offices,
        relations,
        size: c.profile.size.code(),
    }
}

/// The checker's and the projections' view of a company.
pub fn change(aggregate: &CompanyAggregate) -> Change {
    change_of_state(&state(aggregate))
}

/// The `CompanyChanged` event recording `aggregate`'s state, for the outbox.
pub fn changed(aggregate: &CompanyAggregate) -> EventDraft {
    let state = state(aggregate);
    EventDraft {
        event_type: EVENT_TYPE.to_string(),
        subject: company_name(&state.id),
        entity_version: state.version,
        payload: prost_types::Any {
            type_url: format!("type.googleapis.com/{EVENT_TYPE}"),
            value: pb::CompanyChanged {
                company: Some(state),
            }
            .encode_to_vec(),
        },
        traceparent: talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default(),
        tracestate: String::new(),
    }
}

/// A state as a projection change: the encoded state, empty for a tombstone.
pub fn change_of_state(state: &pb::CompanyState) -> Change {
    Change {
        id: state.id.clone(),
        version: state.version,
        deleted: state.deleted,
        state: if state.deleted {
            Vec::new()
        } else {
            state.encode_to_vec()
        },
    }
}

/// Reads the company out of a `CompanyChanged` event; other events are not ours.
pub fn change_of() -> ChangeOf {
    change_of_event(EVENT_TYPE, |event: pb::CompanyChanged| {
        let state = event
            .company
            .ok_or_else(|| "CompanyChanged without a company".to_string())?;
        Ok(change_of_state(&state))
    })
}

/// The state inside a change (for projections).
///
/// # Errors
/// A message naming the decoding problem.
pub fn state_of(change: &Change) -> Result<pb::CompanyState, String> {
    pb::CompanyState::decode(change.state.as_slice())
        .map_err(|e| format!("undecodable company state: {e}"))
}
