//! `MembershipService`: members, invitations, permission checks and the audit log.

use std::sync::Arc;

use talentmesh_mesh::CallContext;
use talentmesh_proto::company::v1 as pb;
use talentmesh_storage::idempotency::Idempotency;
use tonic::Request;

use super::convert;
use super::{caller_id, ok, Reply};
use crate::domain::names::child_name;
use crate::domain::Invitation;
use crate::service::Members;

/// The adapter of `talentmesh.company.v1.MembershipService`.
pub struct MembershipGrpc {
    pub members: Arc<Members>,
    /// AIP-155 request ids of CreateInvitation.
    pub idempotency: Idempotency,
}

#[tonic::async_trait]
impl pb::membership_service_server::MembershipService for MembershipGrpc {
    #[tracing::instrument(skip_all, fields(rpc = "ListMembers"))]
    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Reply<pb::ListMembersResponse> {
        let ctx = CallContext::of(&request);
        let members = self
            .members
            .list(&ctx, &request.into_inner().parent)
            .await?;
        ok(pb::ListMembersResponse {
            members: members.iter().map(convert::member).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "CreateInvitation"))]
    async fn create_invitation(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> Reply<pb::CreateInvitationResponse> {
        let ctx = &CallContext::of(&request);
        let req = request.into_inner();
        let input = req.invitation.map(convert::invitation_input);
        // A replay reads the invitation back: no second row, audit entry or spent invitation.
        let invitation = self
            .idempotency
            .once(
                caller_id(ctx),
                "CreateInvitation",
                &req.request_id,
                || self.members.invite(ctx, &req.parent, input),
                |i: &Invitation| child_name(&i.company_id, "invitations", &i.id),
                |name| async move { self.members.invitation(ctx, &name).await },
            )
            .await?;
        ok(pb::CreateInvitationResponse {
            invitation: Some(convert::invitation(&invitation)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListInvitations"))]
    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Reply<pb::ListInvitationsResponse> {
        let ctx = CallContext::of(&request);
        let invitations = self
            .members
            .invitations(&ctx, &request.into_inner().parent)
            .await?;
        ok(pb::ListInvitationsResponse {
            invitations: invitations.iter().map(convert::invitation).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "AcceptInvitation"))]
    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Reply<pb::AcceptInvitationResponse> {
        let ctx = CallContext::of(&request);
        let member = self
            .members
            .accept(&ctx, &request.into_inner().name)
            .await?;
        ok(pb::AcceptInvitationResponse {
            member: Some(convert::member(&member)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "UpdateMemberRole"))]
    async fn update_member_role(
        &self,
        request: Request<pb::UpdateMemberRoleRequest>,
    ) -> Reply<pb::UpdateMemberRoleResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let member = self
            .members
            .set_role(&ctx, &req.name, convert::role_from(req.role))
            .await?;
        ok(pb::UpdateMemberRoleResponse {
            member: Some(convert::member(&member)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "DeleteMember"))]
    async fn delete_member(
        &self,
        request: Request<pb::DeleteMemberRequest>,
    ) -> Reply<pb::DeleteMemberResponse> {
        let ctx = CallContext::of(&request);
        self.members
            .remove(&ctx, &request.into_inner().name)
            .await?;
        ok(pb::DeleteMemberResponse {})
    }

    #[tracing::instrument(skip_all, fields(rpc = "CheckPermission"))]
    async fn check_permission(
        &self,
        request: Request<pb::CheckPermissionRequest>,
    ) -> Reply<pb::CheckPermissionResponse> {
        let ctx = CallContext::of(&request);
        let query = request.into_inner().check.map(convert::permission_query);
        let decision = self.members.check(&ctx, query).await?;
        ok(pb::CheckPermissionResponse {
            decision: Some(convert::decision(decision)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "BatchCheckPermissions"))]
    async fn batch_check_permissions(
        &self,
        request: Request<pb::BatchCheckPermissionsRequest>,
    ) -> Reply<pb::BatchCheckPermissionsResponse> {
        let ctx = CallContext::of(&request);
        let queries: Vec<_> = request
            .into_inner()
            .checks
            .into_iter()
            .map(convert::permission_query)
            .collect();
        let decisions = self.members.check_batch(&ctx, &queries).await?;
        ok(pb::BatchCheckPermissionsResponse {
            decisions: decisions.into_iter().map(convert::decision).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListAuditEvents"))]
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let (entries, next_page_token) = self
            .members
            .audit(
                &ctx,
                &req.parent,
                &req.action_prefix,
                &req.page_token,
                req.page_size,
            )
            .await?;
        ok(pb::ListAuditEventsResponse {
            events: entries.into_iter().map(convert::audit_event).collect(),
            next_page_token,
        })
    }
}
