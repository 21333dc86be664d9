//! A job's lifecycle: created as a draft, published to candidates, closed and reopened.

/// Where a job is in its life. The numbers are the wire's (`talentmesh.job.v1.JobState`) and
/// the `jobs.state` column's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Unspecified = 0,
    Draft = 1,
    Published = 2,
    Closed = 3,
}

impl JobState {
    /// The state numbered `code`, `None` for a number no state has.
    pub fn from_code(code: i32) -> Option<JobState> {
        match code {
            0 => Some(JobState::Unspecified),
            1 => Some(JobState::Draft),
            2 => Some(JobState::Published),
            3 => Some(JobState::Closed),
            _ => None,
        }
    }

    /// The wire's and the column's number.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Whether a job in this state may move to `to`: publish a draft, close a published job,
    /// reopen a closed one.
    pub fn may_move(self, to: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, to),
            (Draft, Published) | (Published, Closed) | (Closed, Published)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::JobState::*;
    use super::*;

    #[test]
    fn state_moves() {
        assert!(
            Draft.may_move(Published) && Published.may_move(Closed) && Closed.may_move(Published)
        );
        assert!(
            !Draft.may_move(Closed) && !Closed.may_move(Draft) && !Published.may_move(Published)
        );
    }

    #[test]
    fn codes_round_trip() {
        for s in [Unspecified, Draft, Published, Closed] {
            assert_eq!(JobState::from_code(s.code()), Some(s));
        }
        assert_eq!(JobState::from_code(4), None);
    }
}
