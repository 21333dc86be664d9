//! A small client of the Consul agent HTTP API: registration through the *agent* (so the agent
//! runs the gRPC health check), deregistration, and blocking health queries that discovery uses to
//! follow the passing instances of a service.
//!
//! Consul runs with ACLs, default deny (`dev/servers.sh`): every call carries the process's ACL
//! token (`TALENTMESH_CONSUL_TOKEN`, [`crate::MeshConfig::consul_token`]) in `X-Consul-Token`. A
//! service's token has a service identity, so it may register only its own name and read the
//! catalog; a call without a token sees an empty catalog and may register nothing.
//!
//! `registration.rs` holds what a process registers and the task that keeps it registered;
//! `connect_api.rs` the Connect leaf, roots and intention calls.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{MeshConfig, Secret};

mod connect_api;
mod registration;

pub use connect_api::{Authorization, CaRoots, LeafCert};
pub use registration::{ConsulPresence, HealthCheck, Registration, MESH_TAG};

/// The header Consul reads the ACL token from.
const TOKEN_HEADER: &str = "X-Consul-Token";

#[derive(Debug, thiserror::Error)]
pub enum ConsulError {
    #[error("consul request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("consul answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the consul token is not a valid header value")]
    BadToken,
}

impl ConsulError {
    /// Whether Consul refused the call for want of an ACL permission (HTTP 403): no token, an
    /// unknown one, or one without the right, e.g. registering another service's name.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, ConsulError::Status { status: 403, .. })
    }
}

pub type Result<T> = std::result::Result<T, ConsulError>;

/// One instance of a service as Consul reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instance {
    /// The Consul service name it is registered under (with mesh TLS, the identity its
    /// certificate must name).
    pub service: String,
    pub id: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub meta: Vec<(String, String)>,
}

impl Instance {
    pub fn uri(&self) -> String {
        format!("http://{}:{}", self.address, self.port)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthEntry {
    service: HealthService,
    node: HealthNode,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthService {
    #[serde(rename = "ID")]
    id: String,
    address: String,
    port: u16,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    meta: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthNode {
    address: String,
}

/// The result of a blocking query and the index to pass to the next one.
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    pub value: T,
    pub index: u64,
}

/// A client of one Consul agent, with the ACL token it sends on every call. Clone freely.
#[derive(Clone, Debug)]
pub struct ConsulClient {
    base: String,
    http: reqwest::Client,
    /// The ACL token sent as `X-Consul-Token` (a [`Secret`]: `Debug` prints `***`); none sends
    /// no header, which an agent with ACLs treats as the anonymous token.
    token: Option<Secret>,
}

impl ConsulClient {
    /// A client of the agent at `base` (`http://127.0.0.1:18500`) and the process's ACL token,
    /// both from the mesh config (`TALENTMESH_CONSUL_ADDR`, `TALENTMESH_CONSUL_TOKEN`).
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn for_mesh(config: &MeshConfig) -> Result<Self> {
        Ok(ConsulClient::new(&config.consul_addr)?.with_token(config.consul_token.clone()))
    }

    /// Sends `token` as `X-Consul-Token` on every call; an empty token sends none.
    pub fn with_token(mut self, token: Secret) -> Self {
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// A client of the agent at `base` that sends no ACL token (see [`Self::with_token`]).
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(base: &str) -> Result<Self> {
        // Blocking queries hold the connection for up to the wait time, so no overall timeout;
        // each call sets its own.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(ConsulClient {
            base: base.trim_end_matches('/').to_string(),
            http,
            token: None,
        })
    }

    /// A request to `path` on the agent, carrying the token. The header is marked sensitive, so
    /// HTTP-level debug output never shows it.
    fn request(&self, method: reqwest::Method, path: &str) -> Result<reqwest::RequestBuilder> {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            None => Ok(builder),
            Some(token) => {
                let mut value = reqwest::header::HeaderValue::from_str(token.expose())
                    .map_err(|_| ConsulError::BadToken)?;
                value.set_sensitive(true);
                Ok(builder.header(TOKEN_HEADER, value))
            }
        }
    }

    /// Passing instances of `service`. With `index > 0` this is a blocking query: Consul answers
    /// when the result changes or after `wait`.
    pub async fn passing_instances(
        &self,
        service: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<Vec<Instance>>> {
        let (resp, index) = self
            .blocking_get(
                &format!("/v1/health/service/{service}?passing=true"),
                index,
                wait,
            )
            .await?;
        let entries: Vec<HealthEntry> = resp.json().await?;
        let mut instances: Vec<Instance> = entries
            .into_iter()
            .map(|e| {
                let address = if e.service.address.is_empty() {
                    e.node.address
                } else {
                    e.service.address
                };
                let mut meta: Vec<(String, String)> =
                    e.service.meta.unwrap_or_default().into_iter().collect();
                meta.sort();
                Instance {
                    service: service.to_string(),
                    id: e.service.id,
                    address,
                    port: e.service.port,
                    tags: e.service.tags.unwrap_or_default(),
                    meta,
                }
            })
            .collect();
        instances.sort();
        Ok(Indexed {
            value: instances,
            index,
        })
    }

    /// Check status of every check on the local agent for service instance `id`, for tests and
    /// operators: "passing", "warning" or "critical"; None when the instance is not registered.
    pub async fn instance_status(&self, id: &str) -> Result<Option<String>> {
        let resp = self
            .request(
                reqwest::Method::GET,
                &format!("/v1/agent/health/service/id/{id}?format=text"),
            )?
            .timeout(Duration::from_secs(5))
            .send()
            .await?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        // This endpoint answers 503 for critical and 429 for warning, with the status as text.
        let body = resp.text().await?;
        Ok(Some(body.trim().to_string()))
    }

    /// Names of every registered service, with a blocking query like [`Self::passing_instances`].
    pub async fn services(&self, index: u64, wait: Duration) -> Result<Indexed<Vec<String>>> {
        let (resp, index) = self
            .blocking_get("/v1/catalog/services", index, wait)
            .await?;
        let map: HashMap<String, serde_json::Value> = resp.json().await?;
        let mut names: Vec<String> = map.into_keys().collect();
        names.sort();
        Ok(Indexed {
            value: names,
            index,
        })
    }
}

impl ConsulClient {
    /// GET `path`; with `index > 0` a blocking query. Returns the response and its index.
    async fn blocking_get(
        &self,
        path: &str,
        index: u64,
        wait: Duration,
    ) -> Result<(reqwest::Response, u64)> {
        let mut path = path.to_string();
        if index > 0 {
            let sep = if path.contains('?') { '&' } else { '?' };
            path.push_str(&format!("{sep}index={index}&wait={}", go_duration(wait)));
        }
        let resp = self
            .request(reqwest::Method::GET, &path)?
            // Consul adds up to wait/16 of jitter to the wait.
            .timeout(wait + wait / 16 + Duration::from_secs(5))
            .send()
            .await?;
        let resp = check(resp).await?;
        let index = consul_index(&resp);
        Ok((resp, index))
    }
}

/// The index to send with the next blocking query, following Consul's rules: an index that went
/// backwards resets to 0 (a full read), and an index must never be below 1.
pub fn next_index(previous: u64, returned: u64) -> u64 {
    if returned < previous {
        0
    } else {
        returned.max(1)
    }
}

fn consul_index(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("X-Consul-Index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        Ok(resp)
    } else {
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        Err(ConsulError::Status { status, body })
    }
}

/// Consul reads durations in Go syntax.
fn go_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_rules() {
        assert_eq!(next_index(0, 0), 1);
        assert_eq!(next_index(10, 12), 12);
        assert_eq!(next_index(10, 5), 0, "an index going backwards resets");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(go_duration(Duration::from_secs(60)), "60s");
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_token_is_sent_but_never_printed() {
        let client = ConsulClient::new("http://127.0.0.1:1")
            .unwrap()
            .with_token(Secret::new("4b1d7c2e-secret"));
        assert!(!format!("{client:?}").contains("4b1d7c2e"));
        let request = client
            .request(reqwest::Method::GET, "/v1/catalog/services")
            .unwrap()
            .build()
            .unwrap();
        let header = request.headers().get(TOKEN_HEADER).unwrap();
        assert_eq!(header.to_str().unwrap(), "4b1d7c2e-secret");
        assert!(header.is_sensitive());
        assert!(!format!("{request:?}").contains("4b1d7c2e"));
        // An empty token sends no header at all.
        let anonymous = ConsulClient::new("http://127.0.0.1:1")
            .unwrap()
            .with_token(Secret::new(""));
        let request = anonymous
            .request(reqwest::Method::GET, "/v1/catalog/services")
            .unwrap()
            .build()
            .unwrap();
        assert!(request.headers().get(TOKEN_HEADER).is_none());
    }
}
