//! Consul Connect through the local agent: this service's leaf certificate, the CA roots and
//! intention checks ([`ConsulClient::connect_leaf`], [`ConsulClient::connect_roots`],
//! [`ConsulClient::connect_authorize`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{check, ConsulClient, Indexed, Result};
use crate::config::Secret;

/// A Connect leaf certificate as the agent hands it out (`/v1/agent/connect/ca/leaf/<service>`).
#[derive(Debug, Clone)]
pub struct LeafCert {
    /// PEM: the leaf, then any intermediates.
    pub cert_pem: String,
    /// PEM (SEC1 or PKCS#8); never printed.
    pub private_key_pem: Secret,
    /// The SPIFFE URI the leaf names.
    pub service_uri: String,
}

/// The Connect CA roots (`/v1/agent/connect/ca/roots`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaRoots {
    /// The trust domain every SPIFFE ID of the mesh must name (`<cluster id>.consul`).
    pub trust_domain: String,
    /// Every root in PEM, the active one and those still trusted during a rotation.
    pub roots_pem: Vec<String>,
}

/// The answer of `/v1/agent/connect/authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub authorized: bool,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LeafJson {
    #[serde(rename = "CertPEM")]
    cert_pem: String,
    #[serde(rename = "PrivateKeyPEM")]
    private_key_pem: String,
    #[serde(rename = "ServiceURI", default)]
    service_uri: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RootsJson {
    trust_domain: String,
    #[serde(default)]
    roots: Option<Vec<RootJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RootJson {
    root_cert: String,
    #[serde(default)]
    intermediate_certs: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AuthorizeJson<'a> {
    target: &'a str,
    #[serde(rename = "ClientCertURI")]
    client_cert_uri: &'a str,
    client_cert_serial: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthorizedJson {
    authorized: bool,
    #[serde(default)]
    reason: String,
}

/// Connect: the CA and intentions, through the local agent (which caches and renews).
impl ConsulClient {
    /// The leaf certificate of `service`; a blocking query with `index > 0` (the agent answers
    /// early when the certificate is renewed or the CA rotates). The token needs `service:write`
    /// on `service`.
    pub async fn connect_leaf(
        &self,
        service: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<LeafCert>> {
        let (resp, index) = self
            .blocking_get(&format!("/v1/agent/connect/ca/leaf/{service}"), index, wait)
            .await?;
        let leaf: LeafJson = resp.json().await?;
        Ok(Indexed {
            value: LeafCert {
                cert_pem: leaf.cert_pem,
                private_key_pem: Secret::new(leaf.private_key_pem),
                service_uri: leaf.service_uri,
            },
            index,
        })
    }

    /// The CA roots; a blocking query with `index > 0`.
    pub async fn connect_roots(&self, index: u64, wait: Duration) -> Result<Indexed<CaRoots>> {
        let (resp, index) = self
            .blocking_get("/v1/agent/connect/ca/roots", index, wait)
            .await?;
        let roots: RootsJson = resp.json().await?;
        let roots_pem = roots
            .roots
            .unwrap_or_default()
            .into_iter()
            .flat_map(|r| {
                std::iter::once(r.root_cert).chain(r.intermediate_certs.unwrap_or_default())
            })
            .collect();
        Ok(Indexed {
            value: CaRoots {
                trust_domain: roots.trust_domain,
                roots_pem,
            },
            index,
        })
    }

    /// Whether intentions allow the client `client_uri` (a SPIFFE URI, its certificate's
    /// colon-hex serial beside it) to call `target`. The token needs `service:write` on
    /// `target`.
    pub async fn connect_authorize(
        &self,
        target: &str,
        client_uri: &str,
        client_serial: &str,
    ) -> Result<Authorization> {
        let resp = self
            .request(reqwest::Method::POST, "/v1/agent/connect/authorize")?
            .timeout(Duration::from_secs(5))
            .json(&AuthorizeJson {
                target,
                client_cert_uri: client_uri,
                client_cert_serial: client_serial,
            })
            .send()
            .await?;
        let answer: AuthorizedJson = check(resp).await?.json().await?;
        Ok(Authorization {
            authorized: answer.authorized,
            reason: answer.reason,
        })
    }
}
