//! Proto ↔ domain: requests' messages into the service layer's inputs, domain results into
//! response messages. Enum values this server does not know become `None` here; the service
//! layer refuses them, naming the field.

use chrono::Utc;
use talentmesh_mesh::time::timestamp;
use talentmesh_proto::company::v1 as pb;

use crate::domain::geo::{from_wgs84, Datum, LatLng};
use crate::domain::names::{child_name, company_name, user_name};
use crate::domain::office::GivenPoint;
use crate::domain::{
    AuditEntry, CompanyFilter, CompanySize, CompanyView, Competitor, Decision, Edge, Invitation,
    InvitationState, Member, NearbyCompany, NearbyQuery, Node, Office, OfficeInput, ProfileInput,
    Relation, RelationKind, Role, StateFilter, VerificationInput, VerificationState,
};
use crate::service::members::{InvitationInput, PermissionQuery};
use crate::service::relations::RelationInput;

/// A company as one caller sees it: the verification documents only when private.
pub fn company(view: &CompanyView) -> pb::Company {
    let c = &view.company;
    let v = &c.verification;
    let verification = view.private.then(|| pb::Verification {
        state: v.state.code(),
        uscc: v.uscc.clone().unwrap_or_default(),
        legal_name: v.legal_name.clone(),
        legal_representative: v.legal_representative.clone(),
        licence_document: v.licence_document.clone(),
        reject_reason: v.reject_reason.clone(),
        submit_time: v.submitted_at.map(timestamp),
        review_time: v.reviewed_at.map(timestamp),
        reviewer: v.reviewer.as_deref().map(user_name).unwrap_or_default(),
    });
    pb::Company {
        name: company_name(&c.id),
        display_name: c.profile.display_name.clone(),
        description: c.profile.description.clone(),
        industry: c.profile.industry.clone(),
        city_code: c.profile.city_code.clone(),
        website: c.profile.website.clone(),
        size: c.profile.size.code(),
        verification_state: v.state.code(),
        verification,
        version: c.version,
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        creator: user_name(&c.creator),
        caller_role: view
            .role
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// The profile fields of a company message (the rest is the server's and ignored).
pub fn profile_input(c: pb::Company) -> ProfileInput {
    ProfileInput {
        size: pb::CompanySize::try_from(c.size)
            .ok()
            .and_then(|s| CompanySize::from_code(s as i32)),
        display_name: c.display_name,
        description: c.description,
        industry: c.industry,
        city_code: c.city_code,
        website: c.website,
    }
}

/// The filters of a listing.
pub fn company_filter(req: &pb::ListCompaniesRequest) -> CompanyFilter {
    let verification_state = match pb::VerificationState::try_from(req.verification_state) {
        Ok(pb::VerificationState::Unspecified) => StateFilter::Any,
        Ok(s) => {
            VerificationState::from_code(s as i32).map_or(StateFilter::Unknown, StateFilter::Only)
        }
        Err(_) => StateFilter::Unknown,
    };
    CompanyFilter {
        industry: req.industry.clone(),
        city_code: req.city_code.clone(),
        verification_state,
        query: req.query.clone(),
    }
}

/// A verification submission.
pub fn verification_input(req: pb::SubmitVerificationRequest) -> VerificationInput {
    VerificationInput {
        uscc: req.uscc,
        legal_name: req.legal_name,
        legal_representative: req.legal_representative,
        licence_document: req.licence_document,
    }
}

/// A coordinate system (unset means WGS-84); `None` for one this server does not know.
pub fn datum(system: i32) -> Option<Datum> {
    match pb::CoordinateSystem::try_from(system).ok()? {
        pb::CoordinateSystem::Unspecified | pb::CoordinateSystem::Wgs84 => Some(Datum::Wgs84),
        pb::CoordinateSystem::Gcj02 => Some(Datum::Gcj02),
        pb::CoordinateSystem::Bd09 => Some(Datum::Bd09),
    }
}

fn system(datum: Datum) -> pb::CoordinateSystem {
    match datum {
        Datum::Wgs84 => pb::CoordinateSystem::Wgs84,
        Datum::Gcj02 => pb::CoordinateSystem::Gcj02,
        Datum::Bd09 => pb::CoordinateSystem::Bd09,
    }
}

/// A stored (WGS-84) position shown in `datum`.
fn point(position: LatLng, datum: Datum) -> pb::GeoPoint {
    let p = from_wgs84(position, datum);
    pb::GeoPoint {
        latitude: p.lat,
        longitude: p.lng,
        system: system(datum) as i32,
    }
}

/// An office, its position shown in `datum`.
pub fn office(o: &Office, datum: Datum) -> pb::Office {
    pb::Office {
        name: child_name(&o.company_id, "offices", &o.id),
        label: o.label.clone(),
        address: o.address.clone(),
        city_code: o.city_code.clone(),
        location: Some(point(o.position, datum)),
        headquarters: o.headquarters,
    }
}

/// A new office.
pub fn office_input(o: pb::Office) -> OfficeInput {
    OfficeInput {
        location: o.location.map(|l| GivenPoint {
            latitude: l.latitude,
            longitude: l.longitude,
            datum: datum(l.system),
        }),
        label: o.label,
        address: o.address,
        city_code: o.city_code,
        headquarters: o.headquarters,
    }
}

/// A nearby search.
pub fn nearby_query(req: pb::SearchNearbyCompaniesRequest) -> NearbyQuery {
    NearbyQuery {
        latitude: req.latitude,
        longitude: req.longitude,
        datum: datum(req.coordinate_system),
        radius_km: req.radius_km,
        industry: req.industry,
        verified_only: req.verified_only,
        limit: req.limit,
    }
}

/// A nearby hit, positions shown in `datum`.
pub fn nearby(h: NearbyCompany, datum: Datum) -> pb::NearbyCompany {
    pb::NearbyCompany {
        company: company_name(&h.company_id),
        office: h.office.map(|o| pb::Office {
            name: format!("{}/offices/{}", company_name(&h.company_id), h.office_id),
            label: o.label,
            address: o.address,
            city_code: o.city_code,
            location: Some(point(o.position, datum)),
            headquarters: o.headquarters,
        }),
        display_name: h.display_name,
        distance_km: h.distance_km,
        industry: h.industry,
        verification_state: h.verification_state.map_or(0, VerificationState::code),
    }
}

/// A member role on the wire.
pub fn role(role: Role) -> pb::MemberRole {
    match role {
        Role::Owner => pb::MemberRole::Owner,
        Role::Admin => pb::MemberRole::Admin,
        Role::Recruiter => pb::MemberRole::Recruiter,
        Role::Viewer => pb::MemberRole::Viewer,
    }
}

/// A member role from the wire; `None` when unset or unknown.
pub fn role_from(value: i32) -> Option<Role> {
    match pb::MemberRole::try_from(value).ok()? {
        pb::MemberRole::Owner => Some(Role::Owner),
        pb::MemberRole::Admin => Some(Role::Admin),
        pb::MemberRole::Recruiter => Some(Role::Recruiter),
        pb::MemberRole::Viewer => Some(Role::Viewer),
        pb::MemberRole::Unspecified => None,
    }
}

/// A member.
pub fn member(m: &Member) -> pb::Member {
    pb::Member {
        name: format!("{}/members/{}", company_name(&m.company_id), m.user_id),
        user: user_name(&m.user_id),
        email: m.email.clone(),
        role: role(m.role) as i32,
        join_time: Some(timestamp(m.joined_at)),
    }
}

/// An invitation, its state as of now.
pub fn invitation(i: &Invitation) -> pb::Invitation {
    let state = match i.state(Utc::now()) {
        InvitationState::Pending => pb::InvitationState::Pending,
        InvitationState::Accepted => pb::InvitationState::Accepted,
        InvitationState::Expired => pb::InvitationState::Expired,
    };
    pb::Invitation {
        name: child_name(&i.company_id, "invitations", &i.id),
        email: i.email.clone(),
        role: role(i.role) as i32,
        state: state as i32,
        inviter: user_name(&i.inviter),
        create_time: Some(timestamp(i.created_at)),
        expire_time: Some(timestamp(i.expires_at)),
    }
}

/// A new invitation (the role `None` when unset or unknown).
pub fn invitation_input(i: pb::Invitation) -> InvitationInput {
    InvitationInput {
        email: i.email,
        role: role_from(i.role),
    }
}

/// One permission check as asked.
pub fn permission_query(c: pb::PermissionCheck) -> PermissionQuery {
    PermissionQuery {
        subject: c.subject,
        company: c.company,
        permission: c.permission,
    }
}

/// A permission decision (role 0 for a non-member).
pub fn decision(d: Decision) -> pb::PermissionDecision {
    pb::PermissionDecision {
        allowed: d.allowed,
        role: d.role.map_or(0, |r| role(r) as i32),
        permission_version: d.permission_version,
    }
}

/// An audit log entry.
pub fn audit_event(e: AuditEntry) -> pb::AuditEvent {
    pb::AuditEvent {
        id: e.id,
        action: e.action,
        actor: user_name(&e.actor),
        target: e.target,
        detail: e.detail,
        create_time: Some(timestamp(e.created_at)),
    }
}

fn kind(k: RelationKind) -> pb::RelationKind {
    match k {
        RelationKind::ParentOf => pb::RelationKind::ParentOf,
        RelationKind::SubsidiaryOf => pb::RelationKind::SubsidiaryOf,
        RelationKind::Partner => pb::RelationKind::Partner,
        RelationKind::Competitor => pb::RelationKind::Competitor,
        RelationKind::SameIndustryAndCity => pb::RelationKind::SameIndustryAndCity,
        RelationKind::SharedSkills => pb::RelationKind::SharedSkills,
    }
}

fn kind_from(value: i32) -> Option<RelationKind> {
    match pb::RelationKind::try_from(value).ok()? {
        pb::RelationKind::ParentOf => Some(RelationKind::ParentOf),
        pb::RelationKind::SubsidiaryOf => Some(RelationKind::SubsidiaryOf),
        pb::RelationKind::Partner => Some(RelationKind::Partner),
        pb::RelationKind::Competitor => Some(RelationKind::Competitor),
        pb::RelationKind::SameIndustryAndCity => Some(RelationKind::SameIndustryAndCity),
        pb::RelationKind::SharedSkills => Some(RelationKind::SharedSkills),
        pb::RelationKind::Unspecified => None,
    }
}

/// A declared relation.
pub fn relation(r: &Relation) -> pb::Relation {
    pb::Relation {
        name: child_name(&r.source_id, "relations", &r.id),
        target: company_name(&r.target_id),
        kind: kind(r.kind) as i32,
        disputed: r.disputed,
        dispute_reason: r.dispute_reason.clone(),
        source: company_name(&r.source_id),
        create_time: Some(timestamp(r.created_at)),
    }
}

/// A relation to declare (the kind `None` when unset or unknown).
pub fn relation_input(r: pb::Relation) -> RelationInput {
    RelationInput {
        kind: kind_from(r.kind),
        target: r.target,
    }
}

/// A company of a network answer.
pub fn node(n: Node) -> pb::NetworkNode {
    pb::NetworkNode {
        company: company_name(&n.id),
        display_name: n.display_name,
        distance: i32::try_from(n.distance).unwrap_or(0),
    }
}

/// A relation of a network answer (kind 0 when unknown).
pub fn edge(e: Edge) -> pb::NetworkEdge {
    pb::NetworkEdge {
        source: company_name(&e.source),
        target: company_name(&e.target),
        kind: e.kind.map_or(pb::RelationKind::Unspecified, kind) as i32,
        disputed: e.disputed,
    }
}

/// A ranked competitor.
pub fn competitor(c: Competitor) -> pb::Competitor {
    pb::Competitor {
        company: company_name(&c.id),
        display_name: c.display_name,
        score: c.score,
        reasons: c.reasons,
    }
}
