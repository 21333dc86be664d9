//! What a company member reading a resume gets when the company service answers the membership
//! check with something other than a decision. The company service's own refusal keeps its
//! code through the mesh's one mapping (`UpstreamError` -> `ApiError`): PERMISSION_DENIED stays
//! PERMISSION_DENIED (with the company's reason passed on), a busy company service is
//! UNAVAILABLE, its own failure is our INTERNAL with an id; a member the company says is not one
//! finds nothing (NOT_FOUND). A refusal used to read as UNAVAILABLE ("retry shortly"), which
//! sent clients retrying a call that could never succeed.
//!
//! The real company service only refuses a check whose subject is not the caller, which the
//! resume service never sends, so a stand-in `MembershipService` on the mesh's own server
//! answers each company with what the real one answers in those cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use prost::Message;
use talentmesh_kit::ServiceKit;
use talentmesh_mesh::config::MeshConfig;
use talentmesh_mesh::{ApiError, MeshChannel};
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::company::v1::membership_service_server::{
    MembershipService, MembershipServiceServer,
};
use talentmesh_proto::google::rpc::ErrorInfo;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;
use talentmesh_testkit::{fails, Spawned, TestEnv, TestKeys};
use tonic::{Code, Request, Response, Status};

/// The company the caller is a member of.
const MEMBER_OF: &str = "0190a5b2-7c3e-7d4f-8a1b-000000000001";
/// A company the caller is not a member of.
const NOT_MEMBER_OF: &str = "0190a5b2-7c3e-7d4f-8a1b-000000000002";
/// A company whose check the company service refuses.
const REFUSED: &str = "0190a5b2-7c3e-7d4f-8a1b-000000000003";
/// A company whose check finds the company service overloaded.
const BUSY: &str = "0190a5b2-7c3e-7d4f-8a1b-000000000004";
/// A company whose check fails inside the company service.
const BROKEN: &str = "0190a5b2-7c3e-7d4f-8a1b-000000000005";

/// Answers `CheckPermission` by company; nothing else is offered.
struct StandIn;

type Reply<T> = Result<Response<T>, Status>;

/// The resume service calls only `CheckPermission`; any other call is a bug of the test,
/// reported as such.
fn offered_elsewhere<T>() -> Reply<T> {
    Err(Status::internal(
        "the stand-in answers CheckPermission only: the resume service called something else",
    ))
}

#[tonic::async_trait]
impl MembershipService for StandIn {
    async fn list_members(
        &self,
        _: Request<cpb::ListMembersRequest>,
    ) -> Reply<cpb::ListMembersResponse> {
        offered_elsewhere()
    }
    async fn create_invitation(
        &self,
        _: Request<cpb::CreateInvitationRequest>,
    ) -> Reply<cpb::CreateInvitationResponse> {
        offered_elsewhere()
    }
    async fn list_invitations(
        &self,
        _: Request<cpb::ListInvitationsRequest>,
    ) -> Reply<cpb::ListInvitationsResponse> {
        offered_elsewhere()
    }
    async fn accept_invitation(
        &self,
        _: Request<cpb::AcceptInvitationRequest>,
    ) -> Reply<cpb::AcceptInvitationResponse> {
        offered_elsewhere()
    }
    async fn update_member_role(
        &self,
        _: Request<cpb::UpdateMemberRoleRequest>,
    ) -> Reply<cpb::UpdateMemberRoleResponse> {
        offered_elsewhere()
    }
    async fn delete_member(
        &self,
        _: Request<cpb::DeleteMemberRequest>,
    ) -> Reply<cpb::DeleteMemberResponse> {
        offered_elsewhere()
    }
    async fn check_permission(
        &self,
        request: Request<cpb::CheckPermissionRequest>,
    ) -> Reply<cpb::CheckPermissionResponse> {
        let check = request.into_inner().check.unwrap_or_default();
        let company = check.company.trim_start_matches("companies/");
        let allowed = match company {
            MEMBER_OF => true,
            NOT_MEMBER_OF => false,
            // What the company service answers a check it will not make.
            REFUSED => {
                return Err(
                    ApiError::permission_denied("callers check their own permissions")
                        .with_reason("SUBJECT_NOT_CALLER")
                        .into(),
                )
            }
            BUSY => return Err(Status::unavailable("too many checks; retry shortly")),
            BROKEN => return Err(Status::internal("SELECT role FROM company_members failed")),
            other => {
                return Err(Status::invalid_argument(format!(
                    "unexpected company {other}"
                )))
            }
        };
        Ok(Response::new(cpb::CheckPermissionResponse {
            decision: Some(cpb::PermissionDecision {
                allowed,
                role: 0,
                permission_version: 1,
            }),
        }))
    }
    async fn batch_check_permissions(
        &self,
        _: Request<cpb::BatchCheckPermissionsRequest>,
    ) -> Reply<cpb::BatchCheckPermissionsResponse> {
        offered_elsewhere()
    }
    async fn list_audit_events(
        &self,
        _: Request<cpb::ListAuditEventsRequest>,
    ) -> Reply<cpb::ListAuditEventsResponse> {
        offered_elsewhere()
    }
}

fn req<T>(msg: T, token: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// The `google.rpc.ErrorInfo` metadata of a status.
fn error_metadata(status: &Status) -> std::collections::HashMap<String, String> {
    talentmesh_mesh::error::rpc_status_of(status)
        .details
        .iter()
        .filter(|d| d.type_url.ends_with("/google.rpc.ErrorInfo"))
        .find_map(|d| ErrorInfo::decode(d.value.as_slice()).ok())
        .map(|info| info.metadata)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_refused_membership_check_keeps_its_code_and_never_reads_as_unavailable() {
    let keys = TestKeys::new();
    let company_env = TestEnv::new("company");
    let mesh = MeshConfig::load(&mut company_env.env(), "company", 0);
    let verifier = keys.verifier();
    let company = Spawned::service(&mesh.clone(), move |l| {
        let mut kit = ServiceKit::new("company", &mesh, l.with_verifier(verifier));
        kit.serve(MembershipServiceServer::new(StandIn));
        kit.run()
    })
    .await;

    let resume_env = TestEnv::new("resume").set("TALENTMESH_RESUME_CHECK_EVERY", "0s");
    let config = talentmesh_resume::Config::load(resume_env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let channel = MeshChannel::fixed("company", &[company.url()], Duration::from_secs(5));
    let resume = Spawned::service(&mesh, move |l| {
        talentmesh_resume::run(
            config,
            l.with_verifier(verifier).with_upstream("company", channel),
        )
    })
    .await;
    let mut client = ResumeServiceClient::connect(resume.url()).await.unwrap();

    let owner = keys.token("owner1", &["candidate"]);
    let created = client
        .create_resume(req(
            pb::CreateResumeRequest {
                resume: Some(pb::Resume {
                    title: "后端工程师".into(),
                    contact: Some(pb::Contact {
                        email: "mei@example.com".into(),
                        phone: String::new(),
                    }),
                    visibility: pb::Visibility::Public as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .resume
        .unwrap();

    let member = keys.token("member1", &["employer"]);
    let read = |company: &str| {
        let mut c = client.clone();
        let q = req(
            pb::GetResumeRequest {
                name: created.name.clone(),
                as_company: format!("companies/{company}"),
            },
            &member,
        );
        async move { c.get_resume(q).await }
    };

    // A member reads the public resume, without the contact details.
    let seen = read(MEMBER_OF).await.unwrap().into_inner().resume.unwrap();
    assert_eq!(seen.title, "后端工程师");
    assert!(seen.contact.is_none());
    // Someone the company says is no member finds nothing.
    fails(read(NOT_MEMBER_OF).await, Code::NotFound);

    // The company service refuses the check: the refusal, not "unavailable, retry".
    let refused = fails(read(REFUSED).await, Code::PermissionDenied);
    let meta = error_metadata(&refused);
    assert_eq!(meta.get("upstream").map(String::as_str), Some("company"));
    assert_eq!(
        meta.get("upstream_reason").map(String::as_str),
        Some("SUBJECT_NOT_CALLER"),
        "{refused:?}"
    );

    // A busy company service is the one case worth a retry.
    fails(read(BUSY).await, Code::Unavailable);
    // Its own failure is ours to log; its message does not reach the caller.
    let broken = fails(read(BROKEN).await, Code::Internal);
    assert!(!broken.message().contains("SELECT"), "{}", broken.message());

    resume.stop().await;
    company.stop().await;
}
