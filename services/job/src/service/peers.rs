//! The other services the job service asks, behind typed calls: the company service's offices
//! and the resume service's resumes. Failures come back as [`UpstreamError`] (the peer's own
//! code and reason), mapped to the wire once, in `error.rs`.

use talentmesh_mesh::{MeshChannel, UpstreamError};
use talentmesh_proto::company::v1 as company_pb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::resume::v1 as resume_pb;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;

/// The company service's name in [`UpstreamError::service`].
const COMPANY: &str = "company";
/// The resume service's name in [`UpstreamError::service`].
const RESUME: &str = "resume";

/// An office of a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Office {
    /// `companies/{c}/offices/{o}`.
    pub name: String,
    /// Its GB/T 2260 division code.
    pub city_code: String,
}

/// The company service (offices; permissions go through `talentmesh_authz`).
pub struct Companies {
    client: CompanyServiceClient<MeshChannel>,
}

impl Companies {
    /// Calls the company service over `channel`.
    pub fn new(channel: MeshChannel) -> Companies {
        Companies {
            client: channel.client(CompanyServiceClient::new),
        }
    }

    /// The offices of company `company_id`.
    pub async fn offices(&self, company_id: &str) -> Result<Vec<Office>, UpstreamError> {
        let offices = self
            .client
            .clone()
            .list_offices(company_pb::ListOfficesRequest {
                parent: format!("companies/{company_id}"),
                coordinate_system: 0,
            })
            .await
            .map_err(|status| UpstreamError::from_status(COMPANY, &status))?
            .into_inner()
            .offices;
        Ok(offices
            .into_iter()
            .map(|o| Office {
                name: o.name,
                city_code: o.city_code,
            })
            .collect())
    }
}

/// The resume service.
pub struct Resumes {
    client: ResumeServiceClient<MeshChannel>,
}

impl Resumes {
    /// Calls the resume service over `channel`.
    pub fn new(channel: MeshChannel) -> Resumes {
        Resumes {
            client: channel.client(ResumeServiceClient::new),
        }
    }

    /// The current version of resume `name` (`resumes/{r}`), read with the caller's `bearer`
    /// token, so only a resume the caller may read is found (NOT_FOUND otherwise).
    pub async fn version(&self, bearer: &str, name: &str) -> Result<i64, UpstreamError> {
        let mut request = tonic::Request::new(resume_pb::GetResumeRequest {
            name: name.to_string(),
            as_company: String::new(),
        });
        if let Ok(v) = format!("Bearer {bearer}").parse() {
            request.metadata_mut().insert("authorization", v);
        }
        let resume = self
            .client
            .clone()
            .get_resume(request)
            .await
            .map_err(|status| UpstreamError::from_status(RESUME, &status))?
            .into_inner()
            .resume
            .unwrap_or_default();
        Ok(resume.version)
    }
}
