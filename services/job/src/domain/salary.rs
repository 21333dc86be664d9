//! Salaries: whole CNY a month, 0 meaning "not said". A job's range and a search's range obey
//! the same order rule; a job's are also capped.

use talentmesh_mesh::FieldViolation;

/// The highest monthly salary a job may offer, in CNY.
pub const MAX_SALARY: i32 = 1_000_000;

/// The problem with a job's range `min..=max` (field paths under `job.`), if any.
pub fn job_range_violation(min: i32, max: i32) -> Option<FieldViolation> {
    if min < 0 || !(0..=MAX_SALARY).contains(&max) {
        Some(FieldViolation::new(
            "job.salary_max",
            format!("between 0 and {MAX_SALARY} CNY a month"),
        ))
    } else if max > 0 && min > max {
        Some(FieldViolation::new(
            "job.salary_min",
            "must not exceed salary_max",
        ))
    } else {
        None
    }
}

/// Whether a search's asked range is well formed (0 ≤ min ≤ max, a 0 max meaning open).
pub fn search_range_ok(min: i32, max: i32) -> bool {
    !(min < 0 || max < 0 || (max > 0 && min > max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(job_range_violation(10, 20).is_none() && job_range_violation(10, 0).is_none());
        assert_eq!(
            job_range_violation(30, 20).map(|v| v.field),
            Some("job.salary_min".to_string())
        );
        assert_eq!(
            job_range_violation(0, MAX_SALARY + 1).map(|v| v.field),
            Some("job.salary_max".to_string())
        );
        assert!(search_range_ok(10, 0) && !search_range_ok(30, 20) && !search_range_ok(-1, 0));
    }
}
