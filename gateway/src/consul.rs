//! Upstreams from Consul, as every other client in the mesh finds its peers. A route's service
//! name (`identity`) is the Consul service name unless renamed (benchmarks and tests register
//! under names of their own). [`spawn_refresh`] follows Consul: whenever the instances of a
//! service change — a redeploy, a new service — the gateway re-reads that service's descriptors
//! through gRPC reflection, so newly annotated RPCs are served without a rebuild or restart.
//!
//! The gateway is also *in* Consul, as every service is ([`register`]): found by Prometheus and
//! by whatever balances traffic to it, deregistered when it stops.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::config::MeshConfig;
use talentmesh_mesh::consul::{
    next_index, ConsulClient, ConsulError, ConsulPresence, HealthCheck, Registration, MESH_TAG,
};
use talentmesh_mesh::{Discovery, MeshChannel};

use crate::gateway::Gateway;
use crate::upstream::Upstreams;
use crate::workers;

/// Channels to Consul-discovered instances, balanced by the mesh's discovery client.
#[derive(Clone)]
pub struct DiscoveryUpstreams {
    /// One discovery client, with its own connections, per gateway worker thread (indexed by
    /// [`workers::current`]); slot 0 serves every other thread.
    discoveries: Arc<Vec<Discovery>>,
    /// Route service name → Consul service name, where they differ.
    renamed: Arc<HashMap<String, String>>,
    /// Where the calls' `grpc_client_*` series go, once the gateway is built
    /// ([`Upstreams::record_into`]).
    metrics: Arc<std::sync::OnceLock<Arc<talentmesh_mesh::metrics::Metrics>>>,
}

impl DiscoveryUpstreams {
    /// One discovery client for every thread.
    pub fn new(discovery: Discovery) -> Self {
        DiscoveryUpstreams {
            discoveries: Arc::new(vec![discovery]),
            renamed: Arc::new(HashMap::new()),
            metrics: Arc::default(),
        }
    }

    /// A discovery client from `make` for each of `workers` worker threads and one for the
    /// other threads, so each worker's calls travel on connections driven by that worker.
    pub fn per_worker<E>(
        workers: usize,
        mut make: impl FnMut() -> Result<Discovery, E>,
    ) -> Result<Self, E> {
        Ok(DiscoveryUpstreams {
            discoveries: Arc::new((0..=workers).map(|_| make()).collect::<Result<_, E>>()?),
            renamed: Arc::new(HashMap::new()),
            metrics: Arc::default(),
        })
    }

    /// The discovery client of the calling thread.
    fn discovery(&self) -> &Discovery {
        let all = self.discoveries.as_slice();
        match all.get(workers::current()) {
            Some(own) => own,
            // `new` and `per_worker` both make at least one.
            None => &all[0],
        }
    }

    /// Sends the routes of `service` to the Consul service `consul_name`.
    pub fn rename(mut self, service: &str, consul_name: &str) -> Self {
        Arc::make_mut(&mut self.renamed).insert(service.to_string(), consul_name.to_string());
        self
    }

    pub fn consul_name<'a>(&'a self, service: &'a str) -> &'a str {
        self.renamed.get(service).map_or(service, String::as_str)
    }

    /// The route service name of a Consul service.
    pub fn service_name(&self, consul_name: &str) -> String {
        self.renamed
            .iter()
            .find(|(_, c)| c.as_str() == consul_name)
            .map_or_else(|| consul_name.to_string(), |(s, _)| s.clone())
    }
}

impl Upstreams for DiscoveryUpstreams {
    type Channel = MeshChannel;

    fn channel(&self, service: &str) -> Option<MeshChannel> {
        let channel = self.discovery().channel(self.consul_name(service));
        Some(match self.metrics.get() {
            Some(metrics) => channel.with_metrics(metrics.clone()),
            None => channel,
        })
    }

    fn record_into(&self, metrics: &Arc<talentmesh_mesh::metrics::Metrics>) {
        // Set once: a second gateway over the same upstreams keeps the first one's series.
        let _ = self.metrics.set(metrics.clone());
    }

    /// The mesh channel runs every call under its deadline, from picking an instance on.
    fn enforces_deadline(&self) -> bool {
        true
    }
}

/// Watches Consul for services and their instances and refreshes the routes from reflection on
/// every change. Runs until the process ends.
///
/// The first load begins at once (before the task runs), so a gateway that starts serving
/// after this call answers 503, not 404, for paths no route matches until it ends; and it
/// reports to [`Gateway::loading`] which services Consul lists and which are loaded (see
/// [`crate::loading`]).
pub fn spawn_refresh(gateway: Gateway<DiscoveryUpstreams>) -> tokio::task::JoinHandle<()> {
    gateway.loading().begin();
    tokio::spawn(async move {
        let mut watched: HashSet<String> = HashSet::new();
        let mut index = 0u64;
        loop {
            let mut names: BTreeSet<String> = gateway
                .routes()
                .upstream_names()
                .iter()
                .map(|n| n.to_string())
                .collect();
            let upstreams = gateway.upstreams().clone();
            match upstreams
                .discovery()
                .consul()
                .services(index, Duration::from_secs(30))
                .await
            {
                Ok(result) => {
                    index = next_index(index, result.index);
                    // Only the services the gateway exposes: anything else registered in
                    // Consul is not asked for routes, whatever it describes.
                    let exposed = &gateway.config().services;
                    let listed: BTreeSet<String> = result
                        .value
                        .iter()
                        .filter(|n| n.as_str() != "consul")
                        .map(|n| upstreams.service_name(n))
                        .filter(|n| exposed.contains(n))
                        .collect();
                    names.extend(listed.iter().cloned());
                    gateway.loading().listed(listed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listing consul services failed; retrying");
                    index = 0;
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
            for name in names {
                if watched.insert(name.clone()) {
                    tokio::spawn(follow(gateway.clone(), name));
                }
            }
        }
    })
}

/// Refreshes `service`'s routes whenever its passing instances change, telling
/// [`Gateway::loading`] when they change and when the refresh is over.
async fn follow(gateway: Gateway<DiscoveryUpstreams>, service: String) {
    let upstreams = gateway.upstreams().clone();
    let mut instances = upstreams
        .discovery()
        .instances(upstreams.consul_name(&service));
    // The watch holds an empty list until Consul first answers, which is no answer: the first
    // `changed` waits for that answer (or returns at once if it came already).
    while instances.changed().await.is_ok() {
        let current = instances.borrow_and_update().clone();
        gateway
            .loading()
            .instances_changed(&service, current.is_empty());
        if !current.is_empty() {
            refresh(&gateway, &service).await;
            gateway.loading().refreshed(&service);
        }
    }
}

/// One refresh, retried briefly: the channel learns of a new instance from the same watch a
/// moment after this task does. Gives up after six tries (about 6 s): the routes stay those
/// the table has (the compiled-in ones, or an earlier refresh's).
async fn refresh(gateway: &Gateway<DiscoveryUpstreams>, service: &str) {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=6 {
        match gateway.refresh_from_reflection(service).await {
            Ok(report) => {
                tracing::info!(
                    service,
                    files = report.files.len(),
                    routes = report.routes,
                    "routes refreshed"
                );
                return;
            }
            // Not every Consul service is a talentmesh gRPC service with reflection.
            Err(e) => tracing::debug!(service, attempt, error = %e, "refresh failed"),
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}

/// Registers the gateway in Consul with the registration every service has
/// ([`Registration::for_mesh`]): name `gateway` (`TALENTMESH_SERVICE_NAME`), a unique instance id
/// (`TALENTMESH_INSTANCE_ID`, default `gateway-<uuid>`), the advertised host and `http_port`, tag
/// `talentmesh`, meta `version`, `revision` and `metrics_port`. Consul checks it with
/// grpc.health.v1 on its metrics port (plaintext; the binary serves health there from the
/// reporter it flips to NOT_SERVING on SIGTERM): the REST port speaks no gRPC. The ACL token is
/// `TALENTMESH_CONSUL_TOKEN`; a token with the `gateway` service identity may register it.
///
/// `None` without a Consul address (`TALENTMESH_CONSUL_ADDR=""`): nothing is registered. Call
/// [`ConsulPresence::leave`] on shutdown, before draining.
///
/// # Errors
/// The Consul client cannot be built.
pub fn register(
    mesh: &MeshConfig,
    http_port: u16,
    metrics_port: u16,
) -> Result<Option<ConsulPresence>, ConsulError> {
    if mesh.consul_addr.is_empty() {
        return Ok(None);
    }
    // Not Connect-native: the gateway calls services with its leaf, but serves plain HTTP.
    let registration = Registration::for_mesh(
        mesh,
        http_port,
        metrics_port,
        vec![MESH_TAG.to_string()],
        false,
    );
    Ok(Some(ConsulPresence::start(
        ConsulClient::for_mesh(mesh)?,
        registration,
        HealthCheck::PlaintextPort(metrics_port),
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use talentmesh_mesh::config::Env;

    use super::*;

    #[tokio::test]
    async fn without_a_consul_address_nothing_is_registered() {
        let mut env = Env::from_map([("TALENTMESH_CONSUL_ADDR".to_string(), String::new())]);
        let mesh = MeshConfig::load(&mut env, "gateway", 18080);
        env.finish().unwrap();
        assert!(register(&mesh, 18080, 19080).unwrap().is_none());
    }
}
