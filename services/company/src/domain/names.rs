//! Resource names as the API spells them (`companies/{id}`, `users/{id}`,
//! `companies/{id}/<collection>/{child}`), parsed into ids. Each parser names the request field
//! it read, so a bad name is reported where the client put it.

use super::Invalid;

fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// `companies/{id}` → id (a UUID).
///
/// # Errors
/// [`Invalid`] on `field` for anything else.
pub fn company_id<'a>(field: &str, name: &'a str) -> Result<&'a str, Invalid> {
    match name.strip_prefix("companies/") {
        Some(id) if is_id(id) => Ok(id),
        _ => Err(Invalid::new(
            field,
            "must be companies/{company} with a company id",
        )),
    }
}

/// `users/{id}` → id (1–64 characters without `/`).
///
/// # Errors
/// [`Invalid`] on `field` for anything else.
pub fn user_id<'a>(field: &str, name: &'a str) -> Result<&'a str, Invalid> {
    match name.strip_prefix("users/") {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && !id.contains('/')
                && talentmesh_text::check_text(id, talentmesh_text::Lines::Single).is_none() =>
        {
            Ok(id)
        }
        _ => Err(Invalid::new(field, "must be users/{user}")),
    }
}

/// `companies/{id}/<collection>/{child}` → (company id, child id).
///
/// # Errors
/// [`Invalid`] on `field` for anything else.
pub fn child_id<'a>(
    field: &str,
    name: &'a str,
    collection: &str,
) -> Result<(&'a str, &'a str), Invalid> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["companies", company, c, child]
            if *c == collection
                && is_id(company)
                && !child.is_empty()
                && child.len() <= 64
                && talentmesh_text::check_text(child, talentmesh_text::Lines::Single).is_none() =>
        {
            Ok((company, child))
        }
        _ => Err(Invalid::new(
            field,
            format!("must be companies/{{company}}/{collection}/{{id}}"),
        )),
    }
}

/// The API name of a company.
pub fn company_name(id: &str) -> String {
    format!("companies/{id}")
}

/// The API name of a company's child resource: `companies/{company}/<collection>/{id}`.
pub fn child_name(company_id: &str, collection: &str, id: &str) -> String {
    format!("companies/{company_id}/{collection}/{id}")
}

/// The API name of a user.
pub fn user_name(id: &str) -> String {
    format!("users/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_into_ids_and_bad_ones_name_the_field() {
        let id = "0190f3a4-0000-7000-8000-000000000001";
        assert_eq!(company_id("name", &format!("companies/{id}")), Ok(id));
        assert_eq!(
            company_id("parent", "companies/x").map_err(|e| e.field),
            Err("parent".into())
        );
        assert_eq!(user_id("subject", "users/u1"), Ok("u1"));
        assert!(user_id("subject", "users/a/b").is_err());
        assert_eq!(
            child_id("name", &format!("companies/{id}/offices/o1"), "offices"),
            Ok((id, "o1"))
        );
        assert!(child_id("name", &format!("companies/{id}/offices/o1"), "members").is_err());
        let office = child_name(id, "offices", "o1");
        assert_eq!(child_id("name", &office, "offices"), Ok((id, "o1")));
    }
}
