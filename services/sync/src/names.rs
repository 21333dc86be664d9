//! Resource names of the sync API and how they map onto Consul and onto each instance's admin
//! API. Parsed once at the edge, so the rest of the crate holds names that are known to be valid.
//!
//! The API names a service `services/{service}` and an operation
//! `services/{service}/operations/{id}`; an instance knows the operation only as
//! `operations/{id}`, because it serves one service.

use std::collections::BTreeMap;
use std::fmt;

use talentmesh_mesh::FieldViolation;

/// A name segment: what Consul accepts in service names, and what URLs carry without escaping.
fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// A service as the API names it (`identity`), from `services/{service}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceName(String);

impl ServiceName {
    /// Parses `services/{service}`; the violation names `field`.
    pub fn parse(field: &str, value: &str) -> Result<ServiceName, FieldViolation> {
        value
            .strip_prefix("services/")
            .filter(|s| valid_segment(s))
            .map(|s| ServiceName(s.to_string()))
            .ok_or_else(|| FieldViolation::new(field, "must look like services/{service}"))
    }

    /// A name already known to be good, e.g. from Consul.
    pub fn new(service: impl Into<String>) -> ServiceName {
        ServiceName(service.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `services/{service}`.
    pub fn resource(&self) -> String {
        format!("services/{}", self.0)
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An operation of one service, from `services/{service}/operations/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationName {
    pub service: ServiceName,
    pub id: String,
}

impl OperationName {
    pub fn parse(field: &str, value: &str) -> Result<OperationName, FieldViolation> {
        let bad = || {
            FieldViolation::new(
                field,
                "must look like services/{service}/operations/{operation}",
            )
        };
        let rest = value.strip_prefix("services/").ok_or_else(bad)?;
        let (service, id) = rest.split_once("/operations/").ok_or_else(bad)?;
        if !valid_segment(service) || !valid_segment(id) {
            return Err(bad());
        }
        Ok(OperationName {
            service: ServiceName(service.to_string()),
            id: id.to_string(),
        })
    }

    /// The operation as `service` named it (`operations/{id}`), or None when the instance
    /// answered with a name of another shape.
    pub fn from_instance(service: &ServiceName, instance_name: &str) -> Option<OperationName> {
        instance_name
            .strip_prefix("operations/")
            .filter(|id| valid_segment(id))
            .map(|id| OperationName {
                service: service.clone(),
                id: id.to_string(),
            })
    }

    /// The name the instance's admin API knows: `operations/{id}`.
    pub fn instance_name(&self) -> String {
        format!("operations/{}", self.id)
    }

    /// `services/{service}/operations/{id}`.
    pub fn resource(&self) -> String {
        format!("services/{}/operations/{}", self.service, self.id)
    }
}

/// API service names that are registered in Consul under another name. A renamed service hides
/// any Consul service that carries its API name, so one API name never means two services.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renames {
    /// API name → Consul name.
    to_consul: BTreeMap<String, String>,
}

impl Renames {
    /// Parses `service=consul-name,...`; on error returns the entry that is malformed.
    pub fn parse(raw: &str) -> Result<Renames, String> {
        let mut to_consul = BTreeMap::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (service, consul) = entry
                .split_once('=')
                .map(|(s, c)| (s.trim(), c.trim()))
                .filter(|(s, c)| valid_segment(s) && valid_segment(c))
                .ok_or_else(|| entry.to_string())?;
            to_consul.insert(service.to_string(), consul.to_string());
        }
        Ok(Renames { to_consul })
    }

    /// The Consul name of API service `service`.
    pub fn consul_name<'a>(&'a self, service: &'a str) -> &'a str {
        self.to_consul.get(service).map_or(service, String::as_str)
    }

    /// The API name of Consul service `consul`; None when a rename hides it.
    pub fn service_name(&self, consul: &str) -> Option<ServiceName> {
        if let Some((service, _)) = self.to_consul.iter().find(|(_, c)| c.as_str() == consul) {
            return Some(ServiceName(service.clone()));
        }
        if self.to_consul.contains_key(consul) {
            return None;
        }
        Some(ServiceName(consul.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn service_names_parse_and_print_back() {
        let name = ServiceName::parse("name", "services/identity").unwrap();
        assert_eq!(name.as_str(), "identity");
        assert_eq!(name.resource(), "services/identity");
    }

    #[test]
    fn malformed_service_names_name_the_field() {
        for bad in [
            "",
            "identity",
            "services/",
            "services/a/b",
            "service/identity",
            "services/ident ity",
            "services/identity/operations/1",
        ] {
            let violation = ServiceName::parse("parent", bad).unwrap_err();
            assert_eq!(violation.field, "parent", "{bad:?}");
        }
    }

    #[test]
    fn operation_names_map_between_api_and_instance() {
        let op = OperationName::parse("name", "services/identity/operations/0193-ab").unwrap();
        assert_eq!(op.service.as_str(), "identity");
        assert_eq!(op.id, "0193-ab");
        assert_eq!(op.instance_name(), "operations/0193-ab");
        assert_eq!(op.resource(), "services/identity/operations/0193-ab");

        let back = OperationName::from_instance(&op.service, "operations/0193-ab").unwrap();
        assert_eq!(back, op);
        assert_eq!(
            OperationName::from_instance(&op.service, "jobs/0193-ab"),
            None
        );
    }

    #[test]
    fn malformed_operation_names_are_refused() {
        for bad in [
            "services/identity",
            "services/identity/operations/",
            "services//operations/1",
            "services/identity/operations/1/x",
            "operations/1",
            "services/identity/jobs/1",
        ] {
            assert!(OperationName::parse("name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn renames_map_both_ways_and_hide_the_original() {
        let renames = Renames::parse("identity=identity-e2e-1, company = company-x").unwrap();
        assert_eq!(renames.consul_name("identity"), "identity-e2e-1");
        assert_eq!(renames.consul_name("job"), "job");
        assert_eq!(
            renames.service_name("identity-e2e-1"),
            Some(ServiceName::new("identity"))
        );
        assert_eq!(renames.service_name("job"), Some(ServiceName::new("job")));
        // The Consul service registered as plain "identity" is not the one the API means.
        assert_eq!(renames.service_name("identity"), None);
    }

    #[test]
    fn malformed_renames_report_the_entry() {
        assert_eq!(
            Renames::parse("identity=ok,broken").unwrap_err(),
            "broken".to_string()
        );
        assert_eq!(Renames::parse("=x").unwrap_err(), "=x".to_string());
        assert_eq!(Renames::parse("").unwrap(), Renames::default());
    }
}
