//! Applications: a candidate's application to a published job with one of their resumes, and
//! the hiring pipeline it moves through.
//!
//! The pipeline: applied → screening → interview → offer → hired, one step at a time, moved by
//! members with `application.update`; rejected (with a reason) from any open stage by them, or
//! withdrawn by the candidate. Every move is kept with who, when, from and to.

use chrono::{DateTime, Utc};
use talentmesh_mesh::FieldViolation;
use talentmesh_text::Lines;

/// The longest rejection reason, in characters.
pub const MAX_REASON: usize = 1000;
/// The longest interview place, in characters.
pub const MAX_PLACE: usize = 500;
/// The most interviewers of one interview.
pub const MAX_INTERVIEWERS: usize = 10;
/// The longest user id, in bytes (as the company service takes them).
pub const MAX_USER_ID: usize = 64;

/// Where an application is in the pipeline. The numbers are the wire's
/// (`talentmesh.job.v1.Stage`) and the `applications.stage` column's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Unspecified = 0,
    Applied = 1,
    Screening = 2,
    Interview = 3,
    Offer = 4,
    Hired = 5,
    Rejected = 6,
    Withdrawn = 7,
}

impl Stage {
    /// The stage numbered `code`, `None` for a number no stage has.
    pub fn from_code(code: i32) -> Option<Stage> {
        use Stage::*;
        [
            Unspecified,
            Applied,
            Screening,
            Interview,
            Offer,
            Hired,
            Rejected,
            Withdrawn,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// The wire's and the column's number.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Whether the application is still in the running.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Stage::Applied | Stage::Screening | Stage::Interview | Stage::Offer
        )
    }

    /// Whether a company member may move an application from this stage to `to`.
    pub fn company_may_move(self, to: Stage) -> bool {
        use Stage::*;
        matches!(
            (self, to),
            (Applied, Screening) | (Screening, Interview) | (Interview, Offer) | (Offer, Hired)
        ) || (to == Rejected && self.is_open())
    }
}

/// An application with its history and interviews.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: String,
    pub job_id: String,
    pub company_id: String,
    /// The candidate's user id.
    pub candidate: String,
    pub resume_id: String,
    /// The resume's version when the candidate applied: what the company reads.
    pub resume_version: i64,
    pub stage: Stage,
    /// Why the company rejected it (empty otherwise).
    pub reject_reason: String,
    /// Every move, oldest first (the first is the application itself).
    pub history: Vec<StageChange>,
    /// Scheduled interviews, earliest first.
    pub interviews: Vec<Interview>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One move in the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct StageChange {
    pub from: Stage,
    pub to: Stage,
    /// The user id of who moved it.
    pub actor: String,
    pub reason: String,
    pub time: DateTime<Utc>,
}

/// A scheduled interview.
#[derive(Debug, Clone, PartialEq)]
pub struct Interview {
    pub time: DateTime<Utc>,
    pub place: String,
    /// User ids.
    pub interviewers: Vec<String>,
}

/// An interview as asked (unchecked): `interviewers` are user names `users/{u}`.
#[derive(Debug, Clone, Default)]
pub struct InterviewRequest {
    /// `None` when the request had no time; checked against
    /// [`talentmesh_mesh::time::in_range`] (1970 to 9999), kept to the microsecond.
    pub time: Option<DateTime<Utc>>,
    pub place: String,
    pub interviewers: Vec<String>,
}

impl InterviewRequest {
    /// The interview asked for, or every field that is wrong (paths `interview.<field>`).
    pub fn parse(&self) -> Result<Interview, Vec<FieldViolation>> {
        let mut problems = Vec::new();
        let time = self.time.and_then(talentmesh_mesh::time::in_range);
        match self.time {
            None => problems.push(FieldViolation::new("interview.time", "is required")),
            Some(_) if time.is_none() => problems.push(FieldViolation::new(
                "interview.time",
                talentmesh_mesh::time::OUT_OF_RANGE,
            )),
            Some(_) => {}
        }
        let place = self.place.trim();
        if let Some(v) = super::text_violation("interview.place", &self.place, Lines::Single) {
            problems.push(v);
        } else if place.is_empty() || place.chars().count() > MAX_PLACE {
            problems.push(FieldViolation::new(
                "interview.place",
                format!("required, at most {MAX_PLACE} characters"),
            ));
        }
        let who: Vec<String> = self
            .interviewers
            .iter()
            .filter_map(|u| u.strip_prefix("users/"))
            .map(str::to_string)
            .collect();
        if who.len() != self.interviewers.len()
            || who.len() > MAX_INTERVIEWERS
            || who.iter().any(|u| {
                u.is_empty()
                    || u.len() > MAX_USER_ID
                    || talentmesh_text::check_text(u, Lines::Single).is_some()
            })
        {
            problems.push(FieldViolation::new(
                "interview.interviewers",
                format!(
                    "at most {MAX_INTERVIEWERS}, each users/{{user}} with an id of at most \
                     {MAX_USER_ID} bytes"
                ),
            ));
        }
        match (time, problems.is_empty()) {
            (Some(time), true) => Ok(Interview {
                time,
                place: place.to_string(),
                interviewers: who,
            }),
            _ => Err(problems),
        }
    }
}

/// A company's move as asked: the stage number and the reason, checked into the target stage
/// and the trimmed reason.
pub fn parse_move(stage: i32, reason: &str) -> Result<(Stage, &str), FieldViolation> {
    let to = Stage::from_code(stage)
        .filter(|s| *s != Stage::Unspecified && *s != Stage::Withdrawn)
        .ok_or_else(|| {
            FieldViolation::new("stage", "screening, interview, offer, hired or rejected")
        })?;
    if let Some(v) = super::text_violation("reason", reason, Lines::Multi) {
        return Err(v);
    }
    let reason = reason.trim();
    if to == Stage::Rejected && reason.is_empty() {
        return Err(FieldViolation::new("reason", "is required when rejecting"));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(FieldViolation::new(
            "reason",
            format!("at most {MAX_REASON} characters"),
        ));
    }
    Ok((to, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_moves_one_step_at_a_time_and_rejects_from_any_open_stage() {
        use Stage::*;
        assert!(Applied.company_may_move(Screening) && Offer.company_may_move(Hired));
        assert!(!Applied.company_may_move(Offer) && !Hired.company_may_move(Rejected));
        assert!([Applied, Screening, Interview, Offer]
            .iter()
            .all(|s| s.company_may_move(Rejected)));
        assert!(!Withdrawn.company_may_move(Screening));
    }

    #[test]
    fn moves_and_interviews_name_their_fields() {
        assert_eq!(
            parse_move(6, " ").map_err(|v| v.field),
            Err("reason".into())
        );
        assert_eq!(parse_move(7, "").map_err(|v| v.field), Err("stage".into()));
        assert_eq!(parse_move(2, " ok ").ok(), Some((Stage::Screening, "ok")));
        let bad = InterviewRequest {
            time: None,
            place: String::new(),
            interviewers: vec!["bob".into()],
        };
        let fields: Vec<String> = bad
            .parse()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "interview.time",
                "interview.place",
                "interview.interviewers"
            ]
        );
    }
}
