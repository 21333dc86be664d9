//! Registration through the agent: what a process tells Consul about itself
//! ([`Registration`]), how its health is checked ([`HealthCheck`]), and the task that keeps it
//! registered while it runs ([`ConsulPresence`]).

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::{check, go_duration, ConsulClient, Result};
use crate::config::MeshConfig;

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

/// Registration and deregistration through the agent.
impl ConsulClient {
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
}
