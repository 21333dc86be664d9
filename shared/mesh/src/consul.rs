//! A small client of the Consul agent HTTP API: registration through the *agent* (so the agent
//! runs the gRPC health check), deregistration, and blocking health queries that discovery uses to
//! follow the passing instances of a service.
//!
//! Consul runs with ACLs, default deny (`dev/servers.sh`): every call carries the process's ACL
//! token (`TALENTMESH_CONSUL_TOKEN`, [`crate::MeshConfig::consul_token`]) in `X-Consul-Token`. A
//! service's token has a service identity, so it may register only its own name and read the
//! catalog; a call without a token sees an empty catalog and may register nothing.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{MeshConfig, Secret};

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

/// The Consul tag every talentmesh process carries (services and the gateway).
pub const MESH_TAG: &str = "talentmesh";

/// What a service tells the agent when it registers.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub id: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub meta: HashMap<String, String>,
    pub check_interval: Duration,
    pub deregister_critical_after: Duration,
    /// Registered as Connect-native (it serves mutual TLS with its leaf certificate); its gRPC
    /// health check then runs over TLS.
    pub connect_native: bool,
}

impl Registration {
    /// The registration of this process in the mesh, the same for every talentmesh binary:
    /// name and instance id from `config` (`TALENTMESH_SERVICE_NAME`, `TALENTMESH_INSTANCE_ID`),
    /// the advertised host and `port` (the one callers use), `tags`, and the meta every
    /// instance carries: `version` and `revision` (what it was built from, see
    /// [`crate::build_info`]) and `metrics_port` (where Prometheus scrapes `/metrics`). The
    /// check runs every `TALENTMESH_CHECK_INTERVAL`; critical for
    /// `TALENTMESH_DEREGISTER_CRITICAL_AFTER`, the instance is removed.
    pub fn for_mesh(
        config: &MeshConfig,
        port: u16,
        metrics_port: u16,
        tags: Vec<String>,
        connect_native: bool,
    ) -> Registration {
        Registration {
            name: config.service_name.clone(),
            id: config.instance_id.clone(),
            address: config.advertise_host.clone(),
            port,
            tags,
            meta: [
                ("version".to_string(), config.version.clone()),
                (
                    "revision".to_string(),
                    crate::build_info::REVISION.to_string(),
                ),
                ("metrics_port".to_string(), metrics_port.to_string()),
            ]
            .into_iter()
            .collect(),
            check_interval: config.check_interval,
            deregister_critical_after: config.deregister_critical_after,
            connect_native,
        }
    }
}

/// What the agent probes to tell whether an instance is healthy: always grpc.health.v1, on the
/// registered port or on another one of the same host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheck {
    /// On the registered address and port, over TLS when the registration is Connect-native:
    /// the gRPC services.
    RegisteredPort,
    /// In plaintext (h2c) on this port of the registered address: a process whose registered
    /// port speaks something else (the gateway's REST) answers health on its metrics port
    /// ([`crate::metrics::serve_metrics_with_health`]).
    PlaintextPort(u16),
}

/// A registration kept in Consul for the life of a process: made in the background and retried
/// until the agent takes it (Consul may come up after the process), removed by
/// [`ConsulPresence::leave`] when the process stops. Services get one from `server::serve`;
/// the gateway makes its own.
pub struct ConsulPresence {
    consul: ConsulClient,
    id: String,
    task: tokio::task::JoinHandle<()>,
}

impl ConsulPresence {
    /// Starts registering `registration` with `consul`, its health checked by `check`.
    pub fn start(
        consul: ConsulClient,
        registration: Registration,
        check: HealthCheck,
    ) -> ConsulPresence {
        let id = registration.id.clone();
        let client = consul.clone();
        let task = tokio::spawn(async move {
            let mut backoff =
                crate::retry::Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
            loop {
                match client.register_with_check(&registration, check).await {
                    Ok(()) => {
                        tracing::info!(id = %registration.id, "registered in consul");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "consul registration failed; retrying");
                        backoff.pause().await;
                    }
                }
            }
        });
        ConsulPresence { consul, id, task }
    }

    /// Stops trying to register and deregisters the instance (a failure is logged: Consul
    /// removes an instance whose check stays critical anyway).
    pub async fn leave(self) {
        self.task.abort();
        if let Err(e) = self.consul.deregister(&self.id).await {
            tracing::warn!(error = %e, "consul deregistration failed");
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentServiceRegister<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    address: &'a str,
    port: u16,
    tags: &'a [String],
    meta: &'a HashMap<String, String>,
    check: AgentCheck,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect: Option<AgentConnect>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentConnect {
    native: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentCheck {
    name: String,
    #[serde(rename = "GRPC")]
    grpc: String,
    #[serde(rename = "GRPCUseTLS")]
    grpc_use_tls: bool,
    /// The agent cannot check a Connect leaf (it names a SPIFFE ID, no host): the health check
    /// reads only health, without a client certificate.
    #[serde(rename = "TLSSkipVerify")]
    tls_skip_verify: bool,
    interval: String,
    timeout: String,
    deregister_critical_service_after: String,
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

    /// Registers `reg` through the agent, its health checked with grpc.health.v1 on its own
    /// port ([`HealthCheck::RegisteredPort`]).
    pub async fn register(&self, reg: &Registration) -> Result<()> {
        self.register_with_check(reg, HealthCheck::RegisteredPort)
            .await
    }

    /// Registers `reg` through the agent, its health checked as `check` says.
    pub async fn register_with_check(&self, reg: &Registration, probe: HealthCheck) -> Result<()> {
        let (check_port, check_tls) = match probe {
            HealthCheck::RegisteredPort => (reg.port, reg.connect_native),
            HealthCheck::PlaintextPort(port) => (port, false),
        };
        let body = AgentServiceRegister {
            id: &reg.id,
            name: &reg.name,
            address: &reg.address,
            port: reg.port,
            tags: &reg.tags,
            meta: &reg.meta,
            connect: reg.connect_native.then_some(AgentConnect { native: true }),
            check: AgentCheck {
                name: format!("{} gRPC health", reg.name),
                // An empty service name after the slash asks for the server's overall health.
                grpc: format!("{}:{check_port}", reg.address),
                grpc_use_tls: check_tls,
                tls_skip_verify: check_tls,
                interval: go_duration(reg.check_interval),
                timeout: go_duration(reg.check_interval.max(Duration::from_secs(1))),
                deregister_critical_service_after: go_duration(reg.deregister_critical_after),
            },
        };
        let resp = self
            .request(reqwest::Method::PUT, "/v1/agent/service/register")?
            .timeout(Duration::from_secs(5))
            .json(&body)
            .send()
            .await?;
        check(resp).await.map(|_| ())
    }

    pub async fn deregister(&self, id: &str) -> Result<()> {
        let resp = self
            .request(
                reqwest::Method::PUT,
                &format!("/v1/agent/service/deregister/{id}"),
            )?
            .timeout(Duration::from_secs(5))
            .send()
            .await?;
        check(resp).await.map(|_| ())
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
