//! `CompanyService`: companies and verification, offices, relations and the network.

use std::sync::Arc;

use talentmesh_mesh::CallContext;
use talentmesh_proto::company::v1 as pb;
use talentmesh_storage::idempotency::Idempotency;
use tonic::Request;

use super::convert;
use super::{caller_id, ok, Reply};
use crate::domain::geo::Datum;
use crate::domain::names::{child_name, company_name};
use crate::domain::{CompanyView, Office, Relation};
use crate::service::companies::ProfileUpdate;
use crate::service::{Companies, Offices, Relations};

/// The adapter of `talentmesh.company.v1.CompanyService`.
pub struct CompanyGrpc {
    pub companies: Arc<Companies>,
    /// AIP-155 request ids of the create methods.
    pub idempotency: Idempotency,
    pub offices: Arc<Offices>,
    pub relations: Arc<Relations>,
}

#[tonic::async_trait]
impl pb::company_service_server::CompanyService for CompanyGrpc {
    #[tracing::instrument(skip_all, fields(rpc = "CreateCompany"))]
    async fn create_company(
        &self,
        request: Request<pb::CreateCompanyRequest>,
    ) -> Reply<pb::CreateCompanyResponse> {
        let ctx = &CallContext::of(&request);
        let req = request.into_inner();
        let input = req.company.map(convert::profile_input);
        let view = self
            .idempotency
            .once(
                caller_id(ctx),
                "CreateCompany",
                &req.request_id,
                || self.companies.create(ctx, input),
                |view: &CompanyView| company_name(&view.company.id),
                |name| async move { self.companies.get(ctx, &name).await },
            )
            .await?;
        ok(pb::CreateCompanyResponse {
            company: Some(convert::company(&view)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetCompany"))]
    async fn get_company(
        &self,
        request: Request<pb::GetCompanyRequest>,
    ) -> Reply<pb::GetCompanyResponse> {
        let ctx = CallContext::of(&request);
        let view = self.companies.get(&ctx, &request.into_inner().name).await?;
        ok(pb::GetCompanyResponse {
            company: Some(convert::company(&view)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListCompanies"))]
    async fn list_companies(
        &self,
        request: Request<pb::ListCompaniesRequest>,
    ) -> Reply<pb::ListCompaniesResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let (views, next_page_token) = self
            .companies
            .list(
                &ctx,
                convert::company_filter(&req),
                &req.page_token,
                req.page_size,
            )
            .await?;
        ok(pb::ListCompaniesResponse {
            companies: views.iter().map(convert::company).collect(),
            next_page_token,
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "UpdateCompany"))]
    async fn update_company(
        &self,
        request: Request<pb::UpdateCompanyRequest>,
    ) -> Reply<pb::UpdateCompanyResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let update = req.company.map(|c| ProfileUpdate {
            name: c.name.clone(),
            profile: convert::profile_input(c),
        });
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let view = self
            .companies
            .update(&ctx, update, &paths, req.expected_version)
            .await?;
        ok(pb::UpdateCompanyResponse {
            company: Some(convert::company(&view)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "DeleteCompany"))]
    async fn delete_company(
        &self,
        request: Request<pb::DeleteCompanyRequest>,
    ) -> Reply<pb::DeleteCompanyResponse> {
        let ctx = CallContext::of(&request);
        self.companies
            .delete(&ctx, &request.into_inner().name)
            .await?;
        ok(pb::DeleteCompanyResponse {})
    }

    #[tracing::instrument(skip_all, fields(rpc = "SubmitVerification"))]
    async fn submit_verification(
        &self,
        request: Request<pb::SubmitVerificationRequest>,
    ) -> Reply<pb::SubmitVerificationResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let name = req.name.clone();
        let view = self
            .companies
            .submit_verification(&ctx, &name, convert::verification_input(req))
            .await?;
        ok(pb::SubmitVerificationResponse {
            company: Some(convert::company(&view)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "ReviewVerification"))]
    async fn review_verification(
        &self,
        request: Request<pb::ReviewVerificationRequest>,
    ) -> Reply<pb::ReviewVerificationResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let view = self
            .companies
            .review_verification(&ctx, &req.name, req.approve, &req.reason)
            .await?;
        ok(pb::ReviewVerificationResponse {
            company: Some(convert::company(&view)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "CreateOffice"))]
    async fn create_office(
        &self,
        request: Request<pb::CreateOfficeRequest>,
    ) -> Reply<pb::CreateOfficeResponse> {
        let ctx = &CallContext::of(&request);
        let req = request.into_inner();
        // A replay answers in the system this request gives its location in, as the first
        // create did (the same body); WGS-84 when the body gives none.
        let datum = req
            .office
            .as_ref()
            .and_then(|o| o.location.as_ref())
            .and_then(|l| convert::datum(l.system))
            .unwrap_or(Datum::Wgs84);
        let input = req.office.map(convert::office_input);
        let (office, datum) = self
            .idempotency
            .once(
                caller_id(ctx),
                "CreateOffice",
                &req.request_id,
                || self.offices.create(ctx, &req.parent, input),
                |(office, _): &(Office, Datum)| {
                    child_name(&office.company_id, "offices", &office.id)
                },
                |name| async move { self.offices.get(&name, datum).await },
            )
            .await?;
        ok(pb::CreateOfficeResponse {
            office: Some(convert::office(&office, datum)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListOffices"))]
    async fn list_offices(
        &self,
        request: Request<pb::ListOfficesRequest>,
    ) -> Reply<pb::ListOfficesResponse> {
        let req = request.into_inner();
        let (offices, datum) = self
            .offices
            .list(&req.parent, convert::datum(req.coordinate_system))
            .await?;
        ok(pb::ListOfficesResponse {
            offices: offices.iter().map(|o| convert::office(o, datum)).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "DeleteOffice"))]
    async fn delete_office(
        &self,
        request: Request<pb::DeleteOfficeRequest>,
    ) -> Reply<pb::DeleteOfficeResponse> {
        let ctx = CallContext::of(&request);
        self.offices
            .delete(&ctx, &request.into_inner().name)
            .await?;
        ok(pb::DeleteOfficeResponse {})
    }

    #[tracing::instrument(skip_all, fields(rpc = "SearchNearbyCompanies"))]
    async fn search_nearby_companies(
        &self,
        request: Request<pb::SearchNearbyCompaniesRequest>,
    ) -> Reply<pb::SearchNearbyCompaniesResponse> {
        let query = convert::nearby_query(request.into_inner());
        let (hits, datum) = self.offices.nearby(query).await?;
        ok(pb::SearchNearbyCompaniesResponse {
            companies: hits
                .into_iter()
                .map(|h| convert::nearby(h, datum))
                .collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "CreateRelation"))]
    async fn create_relation(
        &self,
        request: Request<pb::CreateRelationRequest>,
    ) -> Reply<pb::CreateRelationResponse> {
        let ctx = &CallContext::of(&request);
        let req = request.into_inner();
        let input = req.relation.map(convert::relation_input);
        let relation = self
            .idempotency
            .once(
                caller_id(ctx),
                "CreateRelation",
                &req.request_id,
                || self.relations.create(ctx, &req.parent, input),
                |relation: &Relation| child_name(&relation.source_id, "relations", &relation.id),
                |name| async move { self.relations.get(&name).await },
            )
            .await?;
        ok(pb::CreateRelationResponse {
            relation: Some(convert::relation(&relation)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListRelations"))]
    async fn list_relations(
        &self,
        request: Request<pb::ListRelationsRequest>,
    ) -> Reply<pb::ListRelationsResponse> {
        let (declared, received) = self.relations.list(&request.into_inner().parent).await?;
        ok(pb::ListRelationsResponse {
            declared: declared.iter().map(convert::relation).collect(),
            received: received.iter().map(convert::relation).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "DeleteRelation"))]
    async fn delete_relation(
        &self,
        request: Request<pb::DeleteRelationRequest>,
    ) -> Reply<pb::DeleteRelationResponse> {
        let ctx = CallContext::of(&request);
        self.relations
            .delete(&ctx, &request.into_inner().name)
            .await?;
        ok(pb::DeleteRelationResponse {})
    }

    #[tracing::instrument(skip_all, fields(rpc = "DisputeRelation"))]
    async fn dispute_relation(
        &self,
        request: Request<pb::DisputeRelationRequest>,
    ) -> Reply<pb::DisputeRelationResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let relation = self.relations.dispute(&ctx, &req.name, &req.reason).await?;
        ok(pb::DisputeRelationResponse {
            relation: Some(convert::relation(&relation)),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetCompanyNetwork"))]
    async fn get_company_network(
        &self,
        request: Request<pb::GetCompanyNetworkRequest>,
    ) -> Reply<pb::GetCompanyNetworkResponse> {
        let req = request.into_inner();
        let network = self
            .relations
            .network(&req.name, req.depth, req.include_derived)
            .await?;
        ok(pb::GetCompanyNetworkResponse {
            nodes: network.nodes.into_iter().map(convert::node).collect(),
            edges: network.edges.into_iter().map(convert::edge).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "FindCompanyPath"))]
    async fn find_company_path(
        &self,
        request: Request<pb::FindCompanyPathRequest>,
    ) -> Reply<pb::FindCompanyPathResponse> {
        let req = request.into_inner();
        let path = self.relations.path(&req.from, &req.to).await?;
        ok(pb::FindCompanyPathResponse {
            companies: path.nodes.into_iter().map(convert::node).collect(),
            edges: path.edges.into_iter().map(convert::edge).collect(),
        })
    }

    #[tracing::instrument(skip_all, fields(rpc = "AnalyzeCompetitors"))]
    async fn analyze_competitors(
        &self,
        request: Request<pb::AnalyzeCompetitorsRequest>,
    ) -> Reply<pb::AnalyzeCompetitorsResponse> {
        let ctx = CallContext::of(&request);
        let req = request.into_inner();
        let competitors = self
            .relations
            .competitors(&ctx, &req.name, req.limit)
            .await?;
        ok(pb::AnalyzeCompetitorsResponse {
            competitors: competitors.into_iter().map(convert::competitor).collect(),
        })
    }
}
