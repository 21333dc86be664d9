//! A small client of the Consul agent HTTP API: registration through the *agent* (so the agent
//! runs the gRPC health check), deregistration, and blocking health queries that discovery uses to
//! follow the passing instances of a service.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConsulError {
    #[error("consul request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("consul answered {status}: {body}")]
    Status { status: u16, body: String },
}

pub type Result<T> = std::result::Result<T, ConsulError>;

/// One instance of a service as Consul reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instance {
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
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentCheck {
    name: String,
    #[serde(rename = "GRPC")]
    grpc: String,
    #[serde(rename = "GRPCUseTLS")]
    grpc_use_tls: bool,
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

/// The result of a blocking query and the index to pass to the next one.
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    pub value: T,
    pub index: u64,
}

#[derive(Clone, Debug)]
pub struct ConsulClient {
    base: String,
    http: reqwest::Client,
}

impl ConsulClient {
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
        })
    }

    pub async fn register(&self, reg: &Registration) -> Result<()> {
        let body = AgentServiceRegister {
            id: &reg.id,
            name: &reg.name,
            address: &reg.address,
            port: reg.port,
            tags: &reg.tags,
            meta: &reg.meta,
            check: AgentCheck {
                name: format!("{} gRPC health", reg.name),
                // An empty service name after the slash asks for the server's overall health.
                grpc: format!("{}:{}", reg.address, reg.port),
                grpc_use_tls: false,
                interval: go_duration(reg.check_interval),
                timeout: go_duration(reg.check_interval.max(Duration::from_secs(1))),
                deregister_critical_service_after: go_duration(reg.deregister_critical_after),
            },
        };
        let resp = self
            .http
            .put(format!("{}/v1/agent/service/register", self.base))
            .timeout(Duration::from_secs(5))
            .json(&body)
            .send()
            .await?;
        check(resp).await.map(|_| ())
    }

    pub async fn deregister(&self, id: &str) -> Result<()> {
        let resp = self
            .http
            .put(format!("{}/v1/agent/service/deregister/{id}", self.base))
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
            .http
            .get(format!(
                "{}/v1/agent/health/service/id/{id}?format=text",
                self.base
            ))
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
        let mut url = format!("{}{path}", self.base);
        if index > 0 {
            let sep = if path.contains('?') { '&' } else { '?' };
            url.push_str(&format!("{sep}index={index}&wait={}", go_duration(wait)));
        }
        let resp = self
            .http
            .get(url)
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
}
