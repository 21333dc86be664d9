//! What `status` asks Consul's HTTP API: the registered services
//! (`GET /v1/catalog/services`) and each one's instances with their checks and meta
//! (`GET /v1/health/service/{name}`), with the ACL token in `X-Consul-Token`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Endpoint, Error, Peer, Result};
use crate::secret::Secret;

/// A client of one Consul agent's HTTP API with an ACL token (empty: none).
pub struct Consul {
    endpoint: Endpoint,
    token: Secret,
    http: reqwest::Client,
}

/// One instance of a service as Consul's health endpoint reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceHealth {
    pub id: String,
    pub address: String,
    pub port: u16,
    /// The worst of its checks: `passing`, `warning` or `critical` (`unknown` without checks).
    pub health: String,
    /// Service meta `version` (empty when not registered).
    pub version: String,
    /// Service meta `metrics_port`.
    pub metrics_port: String,
    pub tags: Vec<String>,
    /// Output of the failing checks, to say why.
    pub problems: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    node: Node,
    service: Service,
    #[serde(default)]
    checks: Vec<Check>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    #[serde(default)]
    address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Service {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    port: u16,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Check {
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    output: String,
}

impl Consul {
    /// A client of the agent at `base` (e.g. `http://127.0.0.1:18500`), each request within
    /// `timeout`.
    pub fn new(base: &str, token: Secret, timeout: Duration) -> Result<Consul> {
        let endpoint = Endpoint::new(Peer::Consul, base, timeout);
        Ok(Consul {
            http: endpoint.client()?,
            endpoint,
            token,
        })
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let mut request = self.http.get(format!("{}{path}", self.endpoint.base));
        if !self.token.is_empty() {
            request = request.header("X-Consul-Token", self.token.expose());
        }
        self.endpoint.send(request, "GET", path).await
    }

    /// Names of every registered service.
    pub async fn services(&self) -> Result<Vec<String>> {
        let body = self.get("/v1/catalog/services").await?;
        let mut names: Vec<String> = body
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    /// Every instance of `service`, passing or not.
    pub async fn instances(&self, service: &str) -> Result<Vec<InstanceHealth>> {
        let body = self.get(&format!("/v1/health/service/{service}")).await?;
        let entries: Vec<Entry> = serde_json::from_value(body)
            .map_err(|e| Error::Other(format!("consul health of {service}: {e}")))?;
        let mut out: Vec<InstanceHealth> = entries.into_iter().map(instance).collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

fn instance(e: Entry) -> InstanceHealth {
    let rank = |s: &str| match s {
        "passing" => 0,
        "warning" => 1,
        _ => 2,
    };
    let health = e
        .checks
        .iter()
        .max_by_key(|c| rank(&c.status))
        .map_or("unknown".to_string(), |c| c.status.clone());
    let problems = e
        .checks
        .iter()
        .filter(|c| c.status != "passing")
        .map(|c| format!("{}: {}", c.name, c.output.trim()))
        .collect();
    let meta = e.service.meta.unwrap_or_default();
    InstanceHealth {
        id: e.service.id,
        address: if e.service.address.is_empty() {
            e.node.address
        } else {
            e.service.address
        },
        port: e.service.port,
        health,
        version: meta.get("version").cloned().unwrap_or_default(),
        metrics_port: meta.get("metrics_port").cloned().unwrap_or_default(),
        tags: e.service.tags.unwrap_or_default(),
        problems,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_takes_its_worst_check_and_its_meta() {
        let entry: Entry = serde_json::from_value(serde_json::json!({
            "Node": {"Address": "10.0.0.1"},
            "Service": {"ID": "job-1", "Address": "", "Port": 50053, "Tags": ["sync-admin"],
                        "Meta": {"version": "0.1.0+abc", "metrics_port": "51053"}},
            "Checks": [
                {"Name": "Serf Health Status", "Status": "passing", "Output": "ok"},
                {"Name": "grpc", "Status": "critical", "Output": "connection refused\n"}
            ]
        }))
        .unwrap();
        let i = instance(entry);
        assert_eq!(i.health, "critical");
        assert_eq!(i.address, "10.0.0.1");
        assert_eq!(i.version, "0.1.0+abc");
        assert_eq!(i.metrics_port, "51053");
        assert_eq!(i.problems, ["grpc: connection refused"]);
    }
}
