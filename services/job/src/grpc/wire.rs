//! The wire form of the domain: `talentmesh.job.v1` messages to and from domain types. Both
//! the gRPC responses and the event payloads (`JobChanged`, `ApplicationChanged`) are these
//! messages, and so is the read cache's copy of a published job: one conversion for all.

use talentmesh_mesh::time::{from_timestamp, timestamp};
use talentmesh_proto::job::v1 as pb;

use crate::domain::application::InterviewRequest;
use crate::domain::names::job_name;
use crate::domain::{Application, Interview, Job, JobFields, JobState, StageChange};

/// A job's resource name.
pub fn job_name_of(company_id: &str, id: &str) -> String {
    format!("companies/{company_id}/jobs/{id}")
}

/// The message of `job` (a deleted job keeps only its name and version).
pub fn job_to_pb(job: &Job) -> pb::Job {
    let name = job_name_of(&job.company_id, &job.id);
    if job.deleted {
        return pb::Job {
            name,
            version: job.version,
            deleted: true,
            ..Default::default()
        };
    }
    let f = &job.fields;
    pb::Job {
        name,
        title: f.title.clone(),
        description: f.description.clone(),
        required_skills: f.required_skills.clone(),
        preferred_skills: f.preferred_skills.clone(),
        salary_min: f.salary_min,
        salary_max: f.salary_max,
        city_code: f.city_code.clone(),
        office: f.office.clone(),
        experience_years: f.experience_years,
        education: f.education,
        employment_type: f.employment_type,
        recruit_type: f.recruit_type,
        graduation_year: f.graduation_year,
        headcount: f.headcount,
        state: job.state.code(),
        version: job.version,
        create_time: Some(timestamp(job.created_at)),
        update_time: Some(timestamp(job.updated_at)),
        publish_time: job.published_at.map(timestamp),
        creator: format!("users/{}", job.creator),
        deleted: false,
    }
}

/// The job a message this service wrote describes (the read cache's copy); `None` when it is
/// not one (a foreign name, no times).
pub fn job_from_pb(job: pb::Job) -> Option<Job> {
    let (company_id, id) = job_name("name", &job.name).ok()?;
    let (company_id, id) = (company_id.to_string(), id.to_string());
    let created_at = from_timestamp(job.create_time.as_ref()?)?;
    let updated_at = from_timestamp(job.update_time.as_ref()?)?;
    let published_at = match &job.publish_time {
        Some(t) => Some(from_timestamp(t)?),
        None => None,
    };
    Some(Job {
        id,
        company_id,
        version: job.version,
        deleted: job.deleted,
        state: JobState::from_code(job.state)?,
        creator: job.creator.strip_prefix("users/")?.to_string(),
        created_at,
        updated_at,
        published_at,
        fields: job_fields(job),
    })
}

/// The client-settable fields of a message (everything else in it is ignored).
pub fn job_fields(job: pb::Job) -> JobFields {
    JobFields {
        title: job.title,
        description: job.description,
        required_skills: job.required_skills,
        preferred_skills: job.preferred_skills,
        salary_min: job.salary_min,
        salary_max: job.salary_max,
        city_code: job.city_code,
        office: job.office,
        experience_years: job.experience_years,
        education: job.education,
        employment_type: job.employment_type,
        recruit_type: job.recruit_type,
        graduation_year: job.graduation_year,
        headcount: job.headcount,
    }
}

/// The message of `app`.
pub fn application_to_pb(app: &Application) -> pb::Application {
    pb::Application {
        name: format!(
            "companies/{}/jobs/{}/applications/{}",
            app.company_id, app.job_id, app.id
        ),
        candidate: format!("users/{}", app.candidate),
        resume: format!("resumes/{}", app.resume_id),
        resume_version: app.resume_version,
        stage: app.stage.code(),
        reject_reason: app.reject_reason.clone(),
        history: app.history.iter().map(stage_change_to_pb).collect(),
        interviews: app.interviews.iter().map(interview_to_pb).collect(),
        version: app.version,
        create_time: Some(timestamp(app.created_at)),
        update_time: Some(timestamp(app.updated_at)),
    }
}

fn stage_change_to_pb(c: &StageChange) -> pb::StageChange {
    pb::StageChange {
        from: c.from.code(),
        to: c.to.code(),
        actor: format!("users/{}", c.actor),
        reason: c.reason.clone(),
        time: Some(timestamp(c.time)),
    }
}

fn interview_to_pb(i: &Interview) -> pb::Interview {
    pb::Interview {
        time: Some(timestamp(i.time)),
        place: i.place.clone(),
        interviewers: i
            .interviewers
            .iter()
            .map(|u| format!("users/{u}"))
            .collect(),
    }
}

/// An interview as asked. A time chrono cannot hold (or with nanoseconds outside 0..1e9) reads
/// as the latest instant chrono has, so the domain's range check refuses it by name.
pub fn interview_request(i: pb::Interview) -> InterviewRequest {
    InterviewRequest {
        time: i
            .time
            .as_ref()
            .map(|t| from_timestamp(t).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)),
        place: i.place,
        interviewers: i.interviewers,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::Stage;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 123_456_000).unwrap_or_default()
    }

    #[test]
    fn a_job_round_trips_through_its_message() {
        let job = Job {
            id: "0190a0a0-0000-7000-8000-000000000002".into(),
            company_id: "0190a0a0-0000-7000-8000-000000000001".into(),
            version: 3,
            deleted: false,
            state: JobState::Published,
            fields: JobFields {
                title: "Rust".into(),
                required_skills: vec!["rust".into()],
                office: "companies/0190a0a0-0000-7000-8000-000000000001/offices/o".into(),
                headcount: 2,
                ..Default::default()
            },
            creator: "u1".into(),
            created_at: at(1),
            updated_at: at(2),
            published_at: Some(at(3)),
        };
        assert_eq!(job_from_pb(job_to_pb(&job)), Some(job));
    }

    #[test]
    fn domain_numbers_are_the_wires() {
        use crate::domain::job::{Education, EmploymentType, RecruitType};
        assert_eq!(JobState::Closed.code(), pb::JobState::Closed as i32);
        assert_eq!(Stage::Withdrawn.code(), pb::Stage::Withdrawn as i32);
        assert_eq!(Stage::Offer.code(), pb::Stage::Offer as i32);
        assert_eq!(RecruitType::Campus as i32, pb::RecruitType::Campus as i32);
        assert_eq!(RecruitType::Social as i32, pb::RecruitType::Social as i32);
        assert_eq!(Education::Doctorate as i32, pb::Education::Doctorate as i32);
        assert!(pb::Education::try_from(Education::Doctorate as i32 + 1).is_err());
        assert_eq!(
            EmploymentType::Internship as i32,
            pb::EmploymentType::Internship as i32
        );
        assert!(pb::EmploymentType::try_from(EmploymentType::Internship as i32 + 1).is_err());
        assert_eq!(
            format!("{:?}", JobState::Draft),
            format!("{:?}", pb::JobState::Draft)
        );
        assert_eq!(
            format!("{:?}", Stage::Interview),
            format!("{:?}", pb::Stage::Interview)
        );
    }
}
