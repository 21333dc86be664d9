//! Resource names as clients send them, parsed into the ids the store keys rows by. A name
//! that does not parse is a field violation naming the request field it came in.

use talentmesh_mesh::FieldViolation;

/// Whether `s` is an id this service hands out (a hyphenated UUID).
pub fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// "companies/{c}" → c; a violation of `field` otherwise.
pub fn company_of<'a>(field: &str, parent: &'a str) -> Result<&'a str, FieldViolation> {
    match parent.strip_prefix("companies/") {
        Some(id) if is_id(id) => Ok(id),
        _ => Err(FieldViolation::new(field, "must be companies/{company}")),
    }
}

/// "companies/{c}/jobs/{j}" → (c, j); a violation of `field` otherwise.
pub fn job_name<'a>(field: &str, name: &'a str) -> Result<(&'a str, &'a str), FieldViolation> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["companies", c, "jobs", j] if is_id(c) && is_id(j) => Ok((c, j)),
        _ => Err(FieldViolation::new(
            field,
            "must be companies/{company}/jobs/{job}",
        )),
    }
}

/// `companies/{c}/jobs/{j}/applications/{a}` → (c, j, a); a violation of `name` otherwise.
pub fn application_name(name: &str) -> Result<(&str, &str, &str), FieldViolation> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["companies", c, "jobs", j, "applications", a] if is_id(c) && is_id(j) && is_id(a) => {
            Ok((c, j, a))
        }
        _ => Err(FieldViolation::new(
            "name",
            "must be companies/{company}/jobs/{job}/applications/{application}",
        )),
    }
}

/// The job id out of a name "companies/{c}/jobs/{j}" (unchecked: for names this service made).
pub fn job_id(name: &str) -> Option<&str> {
    name.rsplit_once("/jobs/").map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_into_ids() {
        let c = "0190a0a0-0000-7000-8000-000000000001";
        let j = "0190a0a0-0000-7000-8000-000000000002";
        assert_eq!(
            job_name("name", &format!("companies/{c}/jobs/{j}")).ok(),
            Some((c, j))
        );
        assert_eq!(
            job_name("name", "companies/x/jobs/y").map_err(|v| v.field),
            Err("name".to_string())
        );
        assert_eq!(
            company_of("parent", &format!("companies/{c}")).ok(),
            Some(c)
        );
        assert_eq!(job_id(&format!("companies/{c}/jobs/{j}")), Some(j));
    }
}
