//! The resume domain, free of protobuf, SQL and tonic: the aggregate (`resume`: a resume, its
//! versions, its content), the limits content must keep (`limits`), the analysis every save
//! computes (`analysis`, over the skill vocabulary in `skills`), and the ids resources are
//! named by.

pub mod analysis;
pub mod limits;
pub mod resume;
pub mod skills;

use std::fmt;

use talentmesh_mesh::FieldViolation;

pub use analysis::{Analysis, Seniority, SkillFinding};
pub use resume::{
    Access, Contact, Content, Education, Experience, Language, Location, Opened, Project, Record,
    Resume, ResumeVersion, Skill, Visibility, YearMonth,
};

/// A resume's id: a UUID in its 36-character form (v7 for new resumes), the `{resume}` of the
/// resource name `resumes/{resume}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResumeId(String);

impl ResumeId {
    /// A fresh id (UUID v7: ids of new resumes sort by creation).
    pub fn generate() -> ResumeId {
        ResumeId(uuid::Uuid::now_v7().to_string())
    }

    /// The id in `resumes/{resume}`; a violation on `field` (`must be resumes/{resume}`) for
    /// anything else.
    pub fn from_name(field: &str, name: &str) -> Result<ResumeId, FieldViolation> {
        match name.strip_prefix("resumes/") {
            Some(id) if uuid::Uuid::parse_str(id).is_ok() && id.len() == 36 => {
                Ok(ResumeId(id.to_string()))
            }
            _ => Err(FieldViolation::new(field, "must be resumes/{resume}")),
        }
    }

    /// An id read back from this service's own store (trusted, not checked).
    pub fn stored(id: String) -> ResumeId {
        ResumeId(id)
    }

    /// The bare id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The resource name `resumes/{resume}`.
    pub fn name(&self) -> String {
        format!("resumes/{}", self.0)
    }
}

impl fmt::Display for ResumeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A company's id, the `{company}` of `companies/{company}` (a UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompanyId(String);

impl CompanyId {
    /// The id in `companies/{company}`, `None` for anything else.
    pub fn from_name(name: &str) -> Option<CompanyId> {
        name.strip_prefix("companies/")
            .filter(|id| uuid::Uuid::parse_str(id).is_ok())
            .map(|id| CompanyId(id.to_string()))
    }

    /// The bare id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_into_ids() {
        let id = "0190a5b2-7c3e-7d4f-8a1b-2c3d4e5f6a7b";
        let parsed = ResumeId::from_name("name", &format!("resumes/{id}"));
        assert_eq!(parsed.map(|r| r.name()), Ok(format!("resumes/{id}")));
        assert_eq!(
            ResumeId::from_name("name", "resumes/x"),
            Err(FieldViolation::new("name", "must be resumes/{resume}"))
        );
        assert!(CompanyId::from_name(&format!("companies/{id}")).is_some());
        assert!(CompanyId::from_name(id).is_none());
    }
}
