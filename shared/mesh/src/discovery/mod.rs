//! Clients of other services find them through Consul. [`Discovery`] keeps one blocking-query
//! watch per service name and hands out [`MeshChannel`]s: cheap-to-clone gRPC channels that
//! balance round-robin over the passing instances, drop an instance as soon as Consul stops
//! listing it, eject for a few seconds an instance that refuses connections (so a process killed
//! between two health checks costs no failed calls), and never wait for an instance: with none,
//! a call fails at once with UNAVAILABLE. Every call carries a deadline and the trace context.
//!
//! Why not tonic's balanced channel: it reports zero load for every endpoint, so its
//! power-of-two choice is random, and with no ready endpoint its calls wait forever.
//!
//! Files: this one keeps the watches ([`Discovery`]); `channel.rs` holds a service's endpoints
//! and picks one per call ([`MeshChannel`]); `call.rs` makes the call: deadline, size limit,
//! another instance when one refuses the connection, the client span.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::MeshConfig;
use crate::connect::{ConnectIdentity, MeshTls};
use crate::consul::{next_index, ConsulClient, ConsulError, Instance};
use crate::retry::Backoff;

mod call;
mod channel;

pub use channel::MeshChannel;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a blocking query waits for a change before Consul answers anyway.
const WATCH_WAIT: Duration = Duration::from_secs(30);

/// Watches services in Consul and builds balanced channels to them. Clone freely.
#[derive(Clone)]
pub struct Discovery {
    inner: Arc<DiscoveryInner>,
}

struct DiscoveryInner {
    consul: ConsulClient,
    default_deadline: Duration,
    /// The message size limit of every channel made here (`TALENTMESH_GRPC_MAX_MESSAGE`).
    max_message: usize,
    /// With mesh TLS: this process's Connect identity; every channel then speaks mutual TLS and
    /// accepts only the service it was made for.
    connect: Option<Arc<ConnectIdentity>>,
    watches: Mutex<HashMap<String, watch::Receiver<Arc<Vec<Instance>>>>>,
    channels: Mutex<HashMap<String, MeshChannel>>,
}

impl Discovery {
    /// Discovery whose channels keep the default message size limit
    /// ([`crate::limits::DEFAULT_MAX_MESSAGE`]).
    pub fn new(consul: ConsulClient, default_deadline: Duration) -> Self {
        Discovery::with_max_message(consul, default_deadline, crate::limits::DEFAULT_MAX_MESSAGE)
    }

    /// Discovery whose channels send and accept messages of at most `max_message` encoded
    /// bytes (the process's `MeshConfig::grpc_max_message`).
    pub fn with_max_message(
        consul: ConsulClient,
        default_deadline: Duration,
        max_message: usize,
    ) -> Self {
        Discovery::with_connect(consul, default_deadline, max_message, None)
    }

    /// Discovery as a process of the mesh uses it: the agent and ACL token of `config`, its
    /// message limit, and with `TALENTMESH_MESH_TLS=connect` mutual TLS to every peer, each
    /// verified as the service it was asked for (a Connect identity of `config`'s service name
    /// is started for it).
    ///
    /// # Errors
    /// The Consul client cannot be built.
    pub fn for_mesh(config: &MeshConfig, default_deadline: Duration) -> Result<Self, ConsulError> {
        let consul = ConsulClient::for_mesh(config)?;
        let connect = (config.mesh_tls == MeshTls::Connect)
            .then(|| ConnectIdentity::start(consul.clone(), &config.service_name));
        Ok(Discovery::with_connect(
            consul,
            default_deadline,
            config.grpc_max_message,
            connect,
        ))
    }

    /// [`Discovery::with_max_message`] whose channels use mutual TLS with `connect` when given.
    pub fn with_connect(
        consul: ConsulClient,
        default_deadline: Duration,
        max_message: usize,
        connect: Option<Arc<ConnectIdentity>>,
    ) -> Self {
        Discovery {
            inner: Arc::new(DiscoveryInner {
                consul,
                default_deadline,
                max_message,
                connect,
                watches: Mutex::new(HashMap::new()),
                channels: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn consul(&self) -> &ConsulClient {
        &self.inner.consul
    }

    /// This process's Connect identity when the mesh speaks TLS.
    pub fn connect(&self) -> Option<&Arc<ConnectIdentity>> {
        self.inner.connect.as_ref()
    }

    /// The passing instances of `service`, kept current by a background blocking query.
    pub fn instances(&self, service: &str) -> watch::Receiver<Arc<Vec<Instance>>> {
        let mut watches = lock(&self.inner.watches);
        if let Some(rx) = watches.get(service) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(Arc::new(Vec::new()));
        tokio::spawn(watch_service(
            self.inner.consul.clone(),
            service.to_string(),
            tx,
        ));
        watches.insert(service.to_string(), rx.clone());
        rx
    }

    /// A channel balancing over the passing instances of `service`; one per service, shared.
    pub fn channel(&self, service: &str) -> MeshChannel {
        if let Some(ch) = lock(&self.inner.channels).get(service) {
            return ch.clone();
        }
        let mut channel =
            MeshChannel::empty(service, self.inner.default_deadline, self.inner.max_message);
        if let Some(connect) = &self.inner.connect {
            channel = channel.with_connect(connect.clone());
        }
        let mut rx = self.instances(service);
        let updating = channel.clone();
        tokio::spawn(async move {
            // Until Consul first answers, the watch holds an empty list that is no answer.
            if !rx.has_changed().unwrap_or(true) && rx.changed().await.is_err() {
                return;
            }
            loop {
                let current = rx.borrow_and_update().clone();
                updating.set_instances(&current);
                if rx.changed().await.is_err() {
                    break;
                }
            }
        });
        lock(&self.inner.channels)
            .entry(service.to_string())
            .or_insert(channel)
            .clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned map of watches is still a valid map.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn watch_service(
    consul: ConsulClient,
    service: String,
    tx: watch::Sender<Arc<Vec<Instance>>>,
) {
    let mut index = 0u64;
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    let mut answered = false;
    loop {
        let started = Instant::now();
        match consul.passing_instances(&service, index, WATCH_WAIT).await {
            Ok(result) => {
                backoff.reset();
                let unchanged = result.index == index;
                index = next_index(index, result.index);
                tx.send_if_modified(|current| {
                    // The first answer is news even when it is "no instances".
                    if !std::mem::replace(&mut answered, true) || **current != result.value {
                        tracing::info!(service = %service, instances = result.value.len(), "instances changed");
                        *current = Arc::new(result.value);
                        true
                    } else {
                        false
                    }
                });
                // An index that returns at once without change would spin; Consul asks
                // clients to rate-limit in that case.
                if unchanged && started.elapsed() < Duration::from_millis(100) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            Err(e) => {
                tracing::warn!(service = %service, error = %e, "consul watch failed; retrying");
                backoff.pause().await;
                index = 0;
            }
        }
    }
}
