//! The gRPC adapters: requests to `Core` calls, results to responses.

use std::sync::Arc;

use talentmesh_mesh::auth::{caller, Caller};
use talentmesh_proto::company::v1 as pb;
use tonic::{Request, Response, Status};

use crate::core::Core;

/// Methods callable without an access token (a token, when sent, is still used).
pub const PUBLIC_METHODS: [&str; 7] = [
    "/talentmesh.company.v1.CompanyService/GetCompany",
    "/talentmesh.company.v1.CompanyService/ListCompanies",
    "/talentmesh.company.v1.CompanyService/ListOffices",
    "/talentmesh.company.v1.CompanyService/SearchNearbyCompanies",
    "/talentmesh.company.v1.CompanyService/ListRelations",
    "/talentmesh.company.v1.CompanyService/GetCompanyNetwork",
    "/talentmesh.company.v1.CompanyService/FindCompanyPath",
];

/// The caller of a public method: the token's user, or nobody (no memberships, no roles).
fn caller_or_anonymous<T>(req: &Request<T>) -> Caller {
    req.extensions().get::<Caller>().cloned().unwrap_or(Caller {
        user_id: String::new(),
        email: String::new(),
        roles: Vec::new(),
        token_id: String::new(),
    })
}

type Reply<T> = Result<Response<T>, Status>;

fn ok<T>(t: T) -> Reply<T> {
    Ok(Response::new(t))
}

pub struct CompanyGrpc {
    pub core: Arc<Core>,
}

#[tonic::async_trait]
impl pb::company_service_server::CompanyService for CompanyGrpc {
    async fn create_company(
        &self,
        request: Request<pb::CreateCompanyRequest>,
    ) -> Reply<pb::CreateCompanyResponse> {
        let who = caller(&request)?.clone();
        let company = self
            .core
            .create_company(&who, request.into_inner().company)
            .await?;
        ok(pb::CreateCompanyResponse {
            company: Some(company),
        })
    }

    async fn get_company(
        &self,
        request: Request<pb::GetCompanyRequest>,
    ) -> Reply<pb::GetCompanyResponse> {
        let who = caller_or_anonymous(&request);
        let company = self
            .core
            .get_company(&who, &request.into_inner().name)
            .await?;
        ok(pb::GetCompanyResponse {
            company: Some(company),
        })
    }

    async fn list_companies(
        &self,
        request: Request<pb::ListCompaniesRequest>,
    ) -> Reply<pb::ListCompaniesResponse> {
        let who = caller_or_anonymous(&request);
        let (companies, next_page_token) =
            self.core.list_companies(&who, request.into_inner()).await?;
        ok(pb::ListCompaniesResponse {
            companies,
            next_page_token,
        })
    }

    async fn update_company(
        &self,
        request: Request<pb::UpdateCompanyRequest>,
    ) -> Reply<pb::UpdateCompanyResponse> {
        let who = caller(&request)?.clone();
        let company = self.core.update_company(&who, request.into_inner()).await?;
        ok(pb::UpdateCompanyResponse {
            company: Some(company),
        })
    }

    async fn delete_company(
        &self,
        request: Request<pb::DeleteCompanyRequest>,
    ) -> Reply<pb::DeleteCompanyResponse> {
        let who = caller(&request)?.clone();
        self.core
            .delete_company(&who, &request.into_inner().name)
            .await?;
        ok(pb::DeleteCompanyResponse {})
    }

    async fn submit_verification(
        &self,
        request: Request<pb::SubmitVerificationRequest>,
    ) -> Reply<pb::SubmitVerificationResponse> {
        let who = caller(&request)?.clone();
        let company = self
            .core
            .submit_verification(&who, request.into_inner())
            .await?;
        ok(pb::SubmitVerificationResponse {
            company: Some(company),
        })
    }

    async fn review_verification(
        &self,
        request: Request<pb::ReviewVerificationRequest>,
    ) -> Reply<pb::ReviewVerificationResponse> {
        let who = caller(&request)?.clone();
        let company = self
            .core
            .review_verification(&who, request.into_inner())
            .await?;
        ok(pb::ReviewVerificationResponse {
            company: Some(company),
        })
    }

    async fn create_office(
        &self,
        request: Request<pb::CreateOfficeRequest>,
    ) -> Reply<pb::CreateOfficeResponse> {
        let who = caller(&request)?.clone();
        let req = request.into_inner();
        let office = self
            .core
            .create_office(&who, &req.parent, req.office)
            .await?;
        ok(pb::CreateOfficeResponse {
            office: Some(office),
        })
    }

    async fn list_offices(
        &self,
        request: Request<pb::ListOfficesRequest>,
    ) -> Reply<pb::ListOfficesResponse> {
        let req = request.into_inner();
        let offices = self
            .core
            .list_offices(&req.parent, req.coordinate_system)
            .await?;
        ok(pb::ListOfficesResponse { offices })
    }

    async fn delete_office(
        &self,
        request: Request<pb::DeleteOfficeRequest>,
    ) -> Reply<pb::DeleteOfficeResponse> {
        let who = caller(&request)?.clone();
        self.core
            .delete_office(&who, &request.into_inner().name)
            .await?;
        ok(pb::DeleteOfficeResponse {})
    }

    async fn search_nearby_companies(
        &self,
        request: Request<pb::SearchNearbyCompaniesRequest>,
    ) -> Reply<pb::SearchNearbyCompaniesResponse> {
        let companies = self.core.search_nearby(request.into_inner()).await?;
        ok(pb::SearchNearbyCompaniesResponse { companies })
    }

    async fn create_relation(
        &self,
        request: Request<pb::CreateRelationRequest>,
    ) -> Reply<pb::CreateRelationResponse> {
        let who = caller(&request)?.clone();
        let req = request.into_inner();
        let relation = self
            .core
            .create_relation(&who, &req.parent, req.relation)
            .await?;
        ok(pb::CreateRelationResponse {
            relation: Some(relation),
        })
    }

    async fn list_relations(
        &self,
        request: Request<pb::ListRelationsRequest>,
    ) -> Reply<pb::ListRelationsResponse> {
        let (declared, received) = self
            .core
            .list_relations(&request.into_inner().parent)
            .await?;
        ok(pb::ListRelationsResponse { declared, received })
    }

    async fn delete_relation(
        &self,
        request: Request<pb::DeleteRelationRequest>,
    ) -> Reply<pb::DeleteRelationResponse> {
        let who = caller(&request)?.clone();
        self.core
            .delete_relation(&who, &request.into_inner().name)
            .await?;
        ok(pb::DeleteRelationResponse {})
    }

    async fn dispute_relation(
        &self,
        request: Request<pb::DisputeRelationRequest>,
    ) -> Reply<pb::DisputeRelationResponse> {
        let who = caller(&request)?.clone();
        let req = request.into_inner();
        let relation = self
            .core
            .dispute_relation(&who, &req.name, &req.reason)
            .await?;
        ok(pb::DisputeRelationResponse {
            relation: Some(relation),
        })
    }

    async fn get_company_network(
        &self,
        request: Request<pb::GetCompanyNetworkRequest>,
    ) -> Reply<pb::GetCompanyNetworkResponse> {
        let req = request.into_inner();
        let (nodes, edges) = self
            .core
            .network(&req.name, req.depth, req.include_derived)
            .await?;
        ok(pb::GetCompanyNetworkResponse { nodes, edges })
    }

    async fn find_company_path(
        &self,
        request: Request<pb::FindCompanyPathRequest>,
    ) -> Reply<pb::FindCompanyPathResponse> {
        let req = request.into_inner();
        let (companies, edges) = self.core.path(&req.from, &req.to).await?;
        ok(pb::FindCompanyPathResponse { companies, edges })
    }

    async fn analyze_competitors(
        &self,
        request: Request<pb::AnalyzeCompetitorsRequest>,
    ) -> Reply<pb::AnalyzeCompetitorsResponse> {
        let who = caller(&request)?.clone();
        let req = request.into_inner();
        let competitors = self.core.competitors(&who, &req.name, req.limit).await?;
        ok(pb::AnalyzeCompetitorsResponse { competitors })
    }
}

pub struct MembershipGrpc {
    pub core: Arc<Core>,
}

#[tonic::async_trait]
impl pb::membership_service_server::MembershipService for MembershipGrpc {
    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Reply<pb::ListMembersResponse> {
        let who = caller(&request)?.clone();
        let members = self
            .core
            .list_members(&who, &request.into_inner().parent)
            .await?;
        ok(pb::ListMembersResponse { members })
    }

    async fn create_invitation(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> Reply<pb::CreateInvitationResponse> {
        let who = caller(&request)?.clone();
        let req = request.into_inner();
        let invitation = self
            .core
            .create_invitation(&who, &req.parent, req.invitation)
            .await?;
        ok(pb::CreateInvitationResponse {
            invitation: Some(invitation),
        })
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Reply<pb::ListInvitationsResponse> {
        let who = caller(&request)?.clone();
        let invitations = self
            .core
            .list_invitations(&who, &request.into_inner().parent)
            .await?;
        ok(pb::ListInvitationsResponse { invitations })
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Reply<pb::AcceptInvitationResponse> {
        let who = caller(&request)?.clone();
        let member = self
            .core
            .accept_invitation(&who, &request.into_inner().name)
            .await?;
        ok(pb::AcceptInvitationResponse {
            member: Some(member),
        })
    }

    async fn update_member_role(
        &self,
        request: Request<pb::UpdateMemberRoleRequest>,
    ) -> Reply<pb::UpdateMemberRoleResponse> {
        let who = caller(&request)?.clone();
        let req = request.into_inner();
        let member = self
            .core
            .update_member_role(&who, &req.name, req.role)
            .await?;
        ok(pb::UpdateMemberRoleResponse {
            member: Some(member),
        })
    }

    async fn delete_member(
        &self,
        request: Request<pb::DeleteMemberRequest>,
    ) -> Reply<pb::DeleteMemberResponse> {
        let who = caller(&request)?.clone();
        self.core
            .delete_member(&who, &request.into_inner().name)
            .await?;
        ok(pb::DeleteMemberResponse {})
    }

    async fn check_permission(
        &self,
        request: Request<pb::CheckPermissionRequest>,
    ) -> Reply<pb::CheckPermissionResponse> {
        let who = caller(&request)?.clone();
        let check = request
            .into_inner()
            .check
            .ok_or_else(|| Status::from(crate::core::invalid("check", "is required")))?;
        let decision = self.core.check_permission(&who, "check", &check).await?;
        ok(pb::CheckPermissionResponse {
            decision: Some(decision),
        })
    }

    async fn batch_check_permissions(
        &self,
        request: Request<pb::BatchCheckPermissionsRequest>,
    ) -> Reply<pb::BatchCheckPermissionsResponse> {
        let who = caller(&request)?.clone();
        let decisions = self
            .core
            .batch_check(&who, &request.into_inner().checks)
            .await?;
        ok(pb::BatchCheckPermissionsResponse { decisions })
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let who = caller(&request)?.clone();
        let (events, next_page_token) = self.core.list_audit(&who, request.into_inner()).await?;
        ok(pb::ListAuditEventsResponse {
            events,
            next_page_token,
        })
    }
}
