//! The events of the matching service, in one place.
//!
//! Consumed (reactions, one consumer group each):
//! - the job service's `JobChanged` (a job's whole state) and `ApplicationChanged`
//!   ([`JobEvents`]): jobs become documents; applications are kept as feedback and as the
//!   resumes a company may rank;
//! - the resume service's `ResumeChanged` ([`ResumeEvents`]): resumes become documents, without
//!   the candidate's name and contact details (matching never needs them);
//! - the company service's `CompanyChanged` ([`CompanyEvents`]): display names and offices.
//!
//! Emitted: `talentmesh.matching.v1.MatchDocumentChanged` for each stored document change (in
//! the same MySQL transaction), which the embeddings projection reads ([`change_of`]).

use chrono::Datelike;
use prost::Message;
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::job::v1 as jpb;
use talentmesh_proto::matching::v1 as pb;
use talentmesh_proto::resume::v1 as rpb;
use talentmesh_storage::bus::{Event, Handler, HandlerError};
use talentmesh_storage::projection::{change_of_event, ChangeOf};

use crate::domain;
use crate::error::Error;
use crate::store::documents::{self, Application, Documents, Kind, DOCUMENT_CHANGED};

pub const JOB_CHANGED: &str = "talentmesh.job.v1.JobChanged";
pub const APPLICATION_CHANGED: &str = "talentmesh.job.v1.ApplicationChanged";
pub const RESUME_CHANGED: &str = "talentmesh.resume.v1.ResumeChanged";
pub const COMPANY_CHANGED: &str = "talentmesh.company.v1.CompanyChanged";

/// Reads a `MatchDocumentChanged` envelope as a projection change.
pub fn change_of() -> ChangeOf {
    change_of_event(DOCUMENT_CHANGED, |event: pb::MatchDocumentChanged| {
        let d = event
            .document
            .ok_or_else(|| "MatchDocumentChanged without a document".to_string())?;
        let (name, version, deleted) = (d.name.clone(), d.version, d.deleted);
        Ok(documents::change(name, version, deleted, d.encode_to_vec()))
    })
}

/// The payload of `e` as `M`; a malformed event is a permanent error.
fn payload<M: Message + Default>(e: &Event) -> Result<M, HandlerError> {
    let any = e
        .envelope
        .payload
        .as_ref()
        .ok_or_else(|| HandlerError::Permanent("event has no payload".into()))?;
    M::decode(any.value.as_slice())
        .map_err(|err| HandlerError::Permanent(format!("undecodable {}: {err}", e.envelope.r#type)))
}

/// A store failure while reacting: transient when the store is down, else permanent.
fn failed(e: Error) -> HandlerError {
    let transient = match &e {
        Error::Db(_) => true,
        Error::Store(s) => s.is_transient(),
        _ => false,
    };
    if transient {
        HandlerError::Transient(e.to_string())
    } else {
        HandlerError::Permanent(e.to_string())
    }
}

/// The document of a job: its text and filters.
pub fn job_document(job: &jpb::Job) -> pb::MatchDocument {
    let deleted = job.deleted;
    let profile = domain_job(job);
    pb::MatchDocument {
        name: job.name.clone(),
        version: job.version,
        deleted,
        text: if deleted {
            String::new()
        } else {
            domain::job_text(&profile)
        },
        published: !deleted && job.state == jpb::JobState::Published as i32,
        company: profile.company.clone(),
        city_code: job.city_code.clone(),
        salary_min: job.salary_min,
        salary_max: job.salary_max,
        recruit_type: job.recruit_type,
        ..Default::default()
    }
}

/// A resume without what matching must not keep: the candidate's name and contact details.
pub fn without_personal_data(mut resume: rpb::Resume) -> rpb::Resume {
    resume.full_name.clear();
    resume.contact = None;
    resume
}

/// The document of a resume (already without personal data).
pub fn resume_document(resume: &rpb::Resume, deleted: bool) -> pb::MatchDocument {
    pb::MatchDocument {
        name: resume.name.clone(),
        version: resume.version,
        deleted,
        text: if deleted {
            String::new()
        } else {
            domain::candidate_text(&domain_candidate(resume))
        },
        owner: resume.owner.clone(),
        visibility: resume.visibility,
        shared_with: resume.shared_with.clone(),
        ..Default::default()
    }
}

/// The reaction to the job service's events.
pub struct JobEvents {
    docs: Documents,
}

impl JobEvents {
    pub fn new(docs: Documents) -> JobEvents {
        JobEvents { docs }
    }
}

#[tonic::async_trait]
impl Handler for JobEvents {
    async fn handle(&self, events: &[Event]) -> Result<(), HandlerError> {
        for e in events {
            match e.envelope.r#type.as_str() {
                JOB_CHANGED => {
                    let job = payload::<jpb::JobChanged>(e)?.job.ok_or_else(|| {
                        HandlerError::Permanent("JobChanged without a job".into())
                    })?;
                    if !is_job_name(&job.name) {
                        return Err(HandlerError::Permanent(format!(
                            "bad job name {}",
                            job.name
                        )));
                    }
                    let document = job_document(&job);
                    self.docs
                        .upsert(Kind::Job, &document, &job.encode_to_vec())
                        .await
                        .map_err(failed)?;
                }
                APPLICATION_CHANGED => {
                    let app = payload::<jpb::ApplicationChanged>(e)?
                        .application
                        .ok_or_else(|| {
                            HandlerError::Permanent(
                                "ApplicationChanged without an application".into(),
                            )
                        })?;
                    let row = application(&app)?;
                    self.docs.upsert_application(&row).await.map_err(failed)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The company of a job name: "companies/{company}" of "companies/{company}/jobs/{job}".
pub fn company_of(job: &str) -> String {
    job.split('/').take(2).collect::<Vec<_>>().join("/")
}

/// Whether `s` is a resource id of the mesh: a UUID in its 36-character hyphenated form.
pub fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// Whether `name` is "companies/{company}/jobs/{job}" with ids.
pub fn is_job_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() == 4
        && parts[0] == "companies"
        && parts[2] == "jobs"
        && is_id(parts[1])
        && is_id(parts[3])
}

/// Whether `name` is "resumes/{resume}" with an id.
pub fn is_resume_name(name: &str) -> bool {
    name.strip_prefix("resumes/").is_some_and(is_id)
}

/// "companies/{c}/jobs/{j}/applications/{a}" → the row matching keeps.
fn application(app: &jpb::Application) -> Result<Application, HandlerError> {
    let parts: Vec<&str> = app.name.split('/').collect();
    if parts.len() != 6
        || parts[0] != "companies"
        || parts[2] != "jobs"
        || parts[4] != "applications"
    {
        return Err(HandlerError::Permanent(format!(
            "bad application name {}",
            app.name
        )));
    }
    Ok(Application {
        id: app.name.clone(),
        job: parts[..4].join("/"),
        company: parts[..2].join("/"),
        resume: app.resume.clone(),
        resume_version: app.resume_version,
        stage: app.stage,
        reject_reason: app.reject_reason.chars().take(500).collect(),
        version: app.version,
    })
}

/// The reaction to the resume service's events.
pub struct ResumeEvents {
    docs: Documents,
}

impl ResumeEvents {
    pub fn new(docs: Documents) -> ResumeEvents {
        ResumeEvents { docs }
    }
}

#[tonic::async_trait]
impl Handler for ResumeEvents {
    async fn handle(&self, events: &[Event]) -> Result<(), HandlerError> {
        for e in events {
            if e.envelope.r#type != RESUME_CHANGED {
                continue;
            }
            let event = payload::<rpb::ResumeChanged>(e)?;
            let resume = event
                .resume
                .ok_or_else(|| HandlerError::Permanent("ResumeChanged without a resume".into()))?;
            if !is_resume_name(&resume.name) {
                return Err(HandlerError::Permanent(format!(
                    "bad resume name {}",
                    resume.name
                )));
            }
            let resume = without_personal_data(resume);
            let document = resume_document(&resume, event.deleted);
            self.docs
                .upsert(Kind::Resume, &document, &resume.encode_to_vec())
                .await
                .map_err(failed)?;
        }
        Ok(())
    }
}

/// The reaction to the company service's events.
pub struct CompanyEvents {
    docs: Documents,
}

impl CompanyEvents {
    pub fn new(docs: Documents) -> CompanyEvents {
        CompanyEvents { docs }
    }
}

#[tonic::async_trait]
impl Handler for CompanyEvents {
    async fn handle(&self, events: &[Event]) -> Result<(), HandlerError> {
        for e in events {
            if e.envelope.r#type != COMPANY_CHANGED {
                continue;
            }
            let state = payload::<cpb::CompanyChanged>(e)?.company.ok_or_else(|| {
                HandlerError::Permanent("CompanyChanged without a company".into())
            })?;
            self.docs.upsert_company(&state).await.map_err(failed)?;
        }
        Ok(())
    }
}

// --- wire → domain (the job and resume services' messages as the matching domain sees them)

/// A job as the domain scores it (company display name and office point filled in later).
pub fn domain_job(job: &jpb::Job) -> domain::JobProfile {
    let company = company_of(&job.name);
    domain::JobProfile {
        name: job.name.clone(),
        company,
        company_name: None,
        version: job.version,
        published: !job.deleted && job.state == jpb::JobState::Published as i32,
        title: job.title.clone(),
        description: job.description.clone(),
        required_skills: job.required_skills.clone(),
        preferred_skills: job.preferred_skills.clone(),
        salary: (job.salary_min > 0 || job.salary_max > 0).then(|| domain::SalaryRange {
            min: u32::try_from(job.salary_min).unwrap_or(0),
            max: u32::try_from(job.salary_max).unwrap_or(0),
        }),
        city_code: non_empty(&job.city_code),
        location: None,
        experience_years: u32::try_from(job.experience_years).ok().filter(|y| *y > 0),
        education: education(job.education),
        employment_type: match jpb::EmploymentType::try_from(job.employment_type) {
            Ok(jpb::EmploymentType::FullTime) => Some(domain::EmploymentType::FullTime),
            Ok(jpb::EmploymentType::PartTime) => Some(domain::EmploymentType::PartTime),
            Ok(jpb::EmploymentType::Contract) => Some(domain::EmploymentType::Contract),
            Ok(jpb::EmploymentType::Internship) => Some(domain::EmploymentType::Internship),
            _ => None,
        },
        recruit_type: recruit_type(job.recruit_type),
        graduation_year: (job.graduation_year > 0).then_some(job.graduation_year),
    }
}

/// The job's office point, when its company's offices are known.
pub fn office_point(
    job: &jpb::Job,
    company: Option<&cpb::CompanyState>,
) -> Option<domain::GeoPoint> {
    let office = job.office.rsplit('/').next().filter(|o| !o.is_empty())?;
    let o = company?.offices.iter().find(|o| o.id == office)?;
    (o.latitude != 0.0 || o.longitude != 0.0).then_some(domain::GeoPoint {
        latitude: o.latitude,
        longitude: o.longitude,
    })
}

/// The wire recruit type as the domain's (unspecified: `None`).
pub fn recruit_type(value: i32) -> Option<domain::RecruitType> {
    match jpb::RecruitType::try_from(value) {
        Ok(jpb::RecruitType::Campus) => Some(domain::RecruitType::Campus),
        Ok(jpb::RecruitType::Intern) => Some(domain::RecruitType::Intern),
        Ok(jpb::RecruitType::Social) => Some(domain::RecruitType::Social),
        _ => None,
    }
}

fn education(value: i32) -> Option<domain::Education> {
    match jpb::Education::try_from(value) {
        Ok(jpb::Education::Any) => Some(domain::Education::Any),
        Ok(jpb::Education::HighSchool) => Some(domain::Education::HighSchool),
        Ok(jpb::Education::Associate) => Some(domain::Education::Associate),
        Ok(jpb::Education::Bachelor) => Some(domain::Education::Bachelor),
        Ok(jpb::Education::Master) => Some(domain::Education::Master),
        Ok(jpb::Education::Doctorate) => Some(domain::Education::Doctorate),
        _ => None,
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_string())
}

fn year_month(ym: Option<&rpb::YearMonth>) -> Option<domain::YearMonth> {
    let ym = ym?;
    (ym.year > 0).then(|| domain::YearMonth {
        year: ym.year,
        month: u32::try_from(ym.month).unwrap_or(1).clamp(1, 12),
    })
}

/// A resume as the domain scores it: no name, contact, gender or age fields exist there.
pub fn domain_candidate(r: &rpb::Resume) -> domain::CandidateProfile {
    let analysis = r.analysis.as_ref();
    let location = r.location.as_ref();
    domain::CandidateProfile {
        name: r.name.clone(),
        owner: r.owner.clone(),
        version: r.version,
        title: r.title.clone(),
        headline: r.headline.clone(),
        summary: r.summary.clone(),
        experience: r
            .experience
            .iter()
            .map(|e| domain::ExperienceItem {
                company: e.company.clone(),
                title: e.title.clone(),
                description: e.description.clone(),
                skills: e.skills.clone(),
                start: year_month(e.start.as_ref()),
                end: year_month(e.end.as_ref()),
            })
            .collect(),
        education: r
            .education
            .iter()
            .map(|e| domain::EducationItem {
                school: e.school.clone(),
                degree: None,
                degree_text: e.degree.clone(),
                major: e.major.clone(),
                end: year_month(e.end.as_ref()),
            })
            .collect(),
        projects: r
            .projects
            .iter()
            .map(|p| domain::ProjectItem {
                name: p.name.clone(),
                description: p.description.clone(),
            })
            .collect(),
        skills: r
            .skills
            .iter()
            .map(|s| domain::SkillItem {
                name: s.name.clone(),
                years: (s.years > 0.0).then_some(s.years),
                level: u32::try_from(s.level).ok().filter(|l| *l > 0),
            })
            .collect(),
        certificates: r.certificates.clone(),
        total_years: analysis.map(|a| a.total_years).filter(|y| *y > 0.0),
        city_code: location.and_then(|l| non_empty(&l.city_code)),
        location: location
            .filter(|l| l.latitude != 0.0 || l.longitude != 0.0)
            .map(|l| domain::GeoPoint {
                latitude: l.latitude,
                longitude: l.longitude,
            }),
        as_of: r.update_time.as_ref().and_then(|t| {
            let at = talentmesh_mesh::time::from_timestamp(t)?;
            Some(domain::YearMonth {
                year: at.year(),
                month: at.month(),
            })
        }),
    }
}
