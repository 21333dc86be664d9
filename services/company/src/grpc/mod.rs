//! The gRPC adapters of `CompanyService` and `MembershipService`: each handler builds the
//! caller's [`talentmesh_mesh::CallContext`], converts the request (`convert`), calls the
//! service layer and converts the answer; errors become statuses through
//! `From<crate::Error> for Status`. Nothing else lives here.

mod company;
pub mod convert;
mod membership;

pub use company::CompanyGrpc;
pub use membership::MembershipGrpc;

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

type Reply<T> = Result<tonic::Response<T>, tonic::Status>;

fn ok<T>(t: T) -> Reply<T> {
    Ok(tonic::Response::new(t))
}

/// The verified caller's user id, which keys its AIP-155 request ids (`None` without a token:
/// the create then refuses the call itself).
fn caller_id(ctx: &talentmesh_mesh::CallContext) -> Option<&str> {
    ctx.caller.as_ref().map(|c| c.user_id.as_str())
}
