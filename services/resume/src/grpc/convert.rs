//! The wire message `talentmesh.resume.v1.Resume` to and from the domain. The same message is
//! the stored form of a version and the `ResumeChanged` payload, so `store` and `events` encode
//! and decode through here too: one mapping, lossless for every saved version.

use talentmesh_mesh::time::{from_timestamp, timestamp};
use talentmesh_proto::resume::v1 as pb;

use crate::domain::{
    Analysis, Contact, Content, Education, Experience, Language, Location, Project, Resume,
    ResumeId, ResumeVersion, Seniority, Skill, SkillFinding, Visibility, YearMonth,
};
use crate::error::{Error, Result};

fn ym_from_pb(v: Option<pb::YearMonth>) -> Option<YearMonth> {
    v.map(|d| YearMonth {
        year: d.year,
        month: d.month,
    })
}

fn ym_to_pb(v: Option<YearMonth>) -> Option<pb::YearMonth> {
    v.map(|d| pb::YearMonth {
        year: d.year,
        month: d.month,
    })
}

/// The wire number of a visibility (an unknown one as it came).
pub fn visibility_to_pb(v: Visibility) -> i32 {
    match v {
        Visibility::Unspecified => pb::Visibility::Unspecified as i32,
        Visibility::Private => pb::Visibility::Private as i32,
        Visibility::Public => pb::Visibility::Public as i32,
        Visibility::Shared => pb::Visibility::Shared as i32,
        Visibility::Unknown(n) => n,
    }
}

fn visibility_from_pb(n: i32) -> Visibility {
    match pb::Visibility::try_from(n) {
        Ok(pb::Visibility::Unspecified) => Visibility::Unspecified,
        Ok(pb::Visibility::Private) => Visibility::Private,
        Ok(pb::Visibility::Public) => Visibility::Public,
        Ok(pb::Visibility::Shared) => Visibility::Shared,
        Err(_) => Visibility::Unknown(n),
    }
}

/// The content of a client's (or an import's, or a stored) `Resume`; its server fields
/// (`name`, `owner`, `version`, `analysis`, times) are dropped.
pub fn content_from_pb(r: pb::Resume) -> Content {
    Content {
        title: r.title,
        full_name: r.full_name,
        headline: r.headline,
        contact: r.contact.map(|c| Contact {
            email: c.email,
            phone: c.phone,
        }),
        location: r.location.map(|l| Location {
            city_code: l.city_code,
            latitude: l.latitude,
            longitude: l.longitude,
        }),
        education: r
            .education
            .into_iter()
            .map(|e| Education {
                school: e.school,
                degree: e.degree,
                major: e.major,
                start: ym_from_pb(e.start),
                end: ym_from_pb(e.end),
            })
            .collect(),
        experience: r
            .experience
            .into_iter()
            .map(|e| Experience {
                company: e.company,
                title: e.title,
                start: ym_from_pb(e.start),
                end: ym_from_pb(e.end),
                description: e.description,
                skills: e.skills,
            })
            .collect(),
        projects: r
            .projects
            .into_iter()
            .map(|p| Project {
                name: p.name,
                description: p.description,
            })
            .collect(),
        skills: r
            .skills
            .into_iter()
            .map(|s| Skill {
                name: s.name,
                level: s.level,
                years: s.years,
            })
            .collect(),
        languages: r
            .languages
            .into_iter()
            .map(|l| Language {
                name: l.name,
                level: l.level,
            })
            .collect(),
        certificates: r.certificates,
        summary: r.summary,
        visibility: visibility_from_pb(r.visibility),
        shared_with: r.shared_with,
    }
}

fn analysis_to_pb(a: &Analysis) -> pb::Analysis {
    pb::Analysis {
        completeness: a.completeness,
        missing: a.missing.clone(),
        skills: a
            .skills
            .iter()
            .map(|s| pb::AnalysedSkill {
                name: s.name.clone(),
                declared: s.declared,
                level: s.level,
                years: s.years,
            })
            .collect(),
        total_years: a.total_years,
        seniority: a.seniority.as_str().to_string(),
    }
}

fn analysis_from_pb(a: pb::Analysis) -> Result<Analysis> {
    Ok(Analysis {
        completeness: a.completeness,
        missing: a.missing,
        skills: a
            .skills
            .into_iter()
            .map(|s| SkillFinding {
                name: s.name,
                declared: s.declared,
                level: s.level,
                years: s.years,
            })
            .collect(),
        total_years: a.total_years,
        seniority: Seniority::parse(&a.seniority)
            .ok_or_else(|| Error::Internal(format!("unknown seniority {}", a.seniority)))?,
    })
}

/// A saved version on the wire.
pub fn resume_to_pb(r: &Resume) -> pb::Resume {
    let c = &r.content;
    pb::Resume {
        name: r.id.name(),
        owner: format!("users/{}", r.owner),
        title: c.title.clone(),
        full_name: c.full_name.clone(),
        headline: c.headline.clone(),
        contact: c.contact.as_ref().map(|c| pb::Contact {
            email: c.email.clone(),
            phone: c.phone.clone(),
        }),
        location: c.location.as_ref().map(|l| pb::Location {
            city_code: l.city_code.clone(),
            latitude: l.latitude,
            longitude: l.longitude,
        }),
        education: c
            .education
            .iter()
            .map(|e| pb::Education {
                school: e.school.clone(),
                degree: e.degree.clone(),
                major: e.major.clone(),
                start: ym_to_pb(e.start),
                end: ym_to_pb(e.end),
            })
            .collect(),
        experience: c
            .experience
            .iter()
            .map(|e| pb::Experience {
                company: e.company.clone(),
                title: e.title.clone(),
                start: ym_to_pb(e.start),
                end: ym_to_pb(e.end),
                description: e.description.clone(),
                skills: e.skills.clone(),
            })
            .collect(),
        projects: c
            .projects
            .iter()
            .map(|p| pb::Project {
                name: p.name.clone(),
                description: p.description.clone(),
            })
            .collect(),
        skills: c
            .skills
            .iter()
            .map(|s| pb::Skill {
                name: s.name.clone(),
                level: s.level,
                years: s.years,
            })
            .collect(),
        languages: c
            .languages
            .iter()
            .map(|l| pb::Language {
                name: l.name.clone(),
                level: l.level.clone(),
            })
            .collect(),
        certificates: c.certificates.clone(),
        summary: c.summary.clone(),
        visibility: visibility_to_pb(c.visibility),
        shared_with: c.shared_with.clone(),
        version: r.version,
        analysis: Some(analysis_to_pb(&r.analysis)),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
    }
}

/// A saved version read back (from MySQL, the cache or an event); `Internal` when it lacks a
/// server field every save sets.
pub fn resume_from_pb(mut r: pb::Resume) -> Result<Resume> {
    let broken = |what: &str| Error::Internal(format!("stored resume {} {what}", r.name));
    let id = r
        .name
        .strip_prefix("resumes/")
        .map(|id| ResumeId::stored(id.to_string()))
        .ok_or_else(|| broken("has a bad name"))?;
    let owner = r
        .owner
        .strip_prefix("users/")
        .map(str::to_string)
        .ok_or_else(|| broken("has a bad owner"))?;
    let created_at = r
        .create_time
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| broken("has no create_time"))?;
    let updated_at = r
        .update_time
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| broken("has no update_time"))?;
    let analysis = analysis_from_pb(r.analysis.take().ok_or_else(|| broken("has no analysis"))?)?;
    let version = r.version;
    Ok(Resume {
        id,
        owner,
        version,
        content: content_from_pb(r),
        analysis,
        created_at,
        updated_at,
    })
}

/// An entry of a resume's history on the wire.
pub fn version_to_pb(v: &ResumeVersion) -> pb::ResumeVersion {
    pb::ResumeVersion {
        version: v.version,
        resume: Some(resume_to_pb(&v.resume)),
        create_time: Some(timestamp(v.created_at)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn a_saved_version_round_trips_through_the_wire() {
        let wire = pb::Resume {
            title: "后端".into(),
            contact: Some(pb::Contact {
                email: "a@b.c".into(),
                phone: String::new(),
            }),
            experience: vec![pb::Experience {
                company: "Acme".into(),
                start: Some(pb::YearMonth {
                    year: 2020,
                    month: 2,
                }),
                description: "Rust and k8s".into(),
                ..Default::default()
            }],
            visibility: pb::Visibility::Shared as i32,
            shared_with: vec!["companies/x".into()],
            ..Default::default()
        };
        let now = crate::store::db_now();
        let saved = Resume::stamped(
            ResumeId::generate(),
            "u1",
            2,
            now,
            content_from_pb(wire),
            Utc::now(),
        );
        let back = resume_from_pb(resume_to_pb(&saved));
        assert_eq!(back.ok(), Some(saved.clone()));
        assert!(resume_from_pb(pb::Resume::default()).is_err());
        assert_eq!(visibility_from_pb(9), Visibility::Unknown(9));
        assert_eq!(visibility_to_pb(Visibility::Unknown(9)), 9);
    }
}
