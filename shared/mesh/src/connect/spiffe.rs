//! Service identities as Consul Connect writes them into its leaf certificates: the SPIFFE ID
//! of a service ([`SpiffeId`]), read from a certificate's URI subject alternative names, and the
//! serial number `/v1/agent/connect/authorize` asks for ([`PeerIdentity`]).

use std::fmt;

use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::Decode;

/// A service identity in Consul Connect's SPIFFE form:
/// `spiffe://<trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>` (an `ap/<partition>`
/// pair may appear too and is ignored: this project has one partition).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpiffeId {
    pub trust_domain: String,
    pub namespace: String,
    pub datacenter: String,
    pub service: String,
}

impl SpiffeId {
    /// Parses a Connect service URI; None for anything else (an agent's URI, another scheme).
    pub fn parse(uri: &str) -> Option<SpiffeId> {
        let rest = uri.strip_prefix("spiffe://")?;
        let (trust_domain, path) = rest.split_once('/')?;
        if trust_domain.is_empty() {
            return None;
        }
        let segments: Vec<&str> = path.split('/').collect();
        if !segments.len().is_multiple_of(2) {
            return None;
        }
        let mut id = SpiffeId {
            trust_domain: trust_domain.to_ascii_lowercase(),
            namespace: String::new(),
            datacenter: String::new(),
            service: String::new(),
        };
        for pair in segments.chunks(2) {
            let value = pair[1].to_string();
            match pair[0] {
                "ns" => id.namespace = value,
                "dc" => id.datacenter = value,
                "svc" => id.service = value,
                "ap" => {}
                _ => return None,
            }
        }
        (!id.service.is_empty() && !id.namespace.is_empty() && !id.datacenter.is_empty())
            .then_some(id)
    }

    /// The service identity a DER certificate carries in its subject alternative names.
    pub fn of_certificate(der: &[u8]) -> Option<SpiffeId> {
        uris_of_certificate(der)
            .iter()
            .find_map(|u| SpiffeId::parse(u))
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spiffe://{}/ns/{}/dc/{}/svc/{}",
            self.trust_domain, self.namespace, self.datacenter, self.service
        )
    }
}

/// The URI subject alternative names of a DER certificate (empty when it cannot be read).
fn uris_of_certificate(der: &[u8]) -> Vec<String> {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return Vec::new();
    };
    let extensions = cert.tbs_certificate.extensions.unwrap_or_default();
    extensions
        .iter()
        .filter(|e| e.extn_id == SubjectAltName::OID)
        .filter_map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
        .flat_map(|san| san.0)
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            _ => None,
        })
        .collect()
}

/// The serial number of a DER certificate in Consul's colon-hex form (`0e:1f`).
pub(super) fn serial_of_certificate(der: &[u8]) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let bytes = cert.tbs_certificate.serial_number.as_bytes();
    Some(
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Who is on the other end of a verified connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub spiffe: SpiffeId,
    /// The certificate's serial number, colon-hex, as `/v1/agent/connect/authorize` takes it.
    pub serial: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids_of_connect_services_parse_and_print() {
        let uri = "spiffe://5a58.consul/ns/default/dc/dc1/svc/identity";
        let id = SpiffeId::parse(uri);
        assert_eq!(
            id.as_ref()
                .map(|i| (i.trust_domain.as_str(), i.service.as_str())),
            Some(("5a58.consul", "identity"))
        );
        assert_eq!(id.map(|i| i.to_string()).as_deref(), Some(uri));
        let partitioned = "spiffe://5a58.consul/ap/default/ns/default/dc/dc1/svc/job";
        assert_eq!(
            SpiffeId::parse(partitioned).map(|i| i.service),
            Some("job".to_string())
        );
        for bad in [
            "spiffe://5a58.consul",
            "spiffe://5a58.consul/agent/client/dc/dc1/id/x",
            "https://5a58.consul/ns/default/dc/dc1/svc/identity",
            "spiffe:///ns/default/dc/dc1/svc/identity",
            "spiffe://5a58.consul/ns/default/dc/dc1",
        ] {
            assert_eq!(SpiffeId::parse(bad), None, "{bad}");
        }
    }
}
