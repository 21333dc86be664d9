//! Finding the instances that serve the sync admin API and calling them.
//!
//! Every service built on the data-sync framework serves `SyncAdminService` on each instance and
//! registers in Consul with the [`SYNC_ADMIN_TAG`] tag. The control plane asks Consul on every
//! request rather than watching it: admin requests are rare, and a fresh list means an instance
//! that just died is reported as such instead of being silently missing.
//!
//! Instances are called directly — one lazily connected channel per address, cached — because
//! status must come from *each* instance, which a balanced channel cannot promise. Each call has
//! its own deadline and carries the caller's credentials and trace context ([`Forwarded`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use talentmesh_mesh::connect::ConnectIdentity;
use talentmesh_mesh::consul::{ConsulClient, Instance};
use talentmesh_mesh::telemetry;
use talentmesh_proto::sync::v1 as pb;
use talentmesh_proto::sync::v1::sync_admin_service_client::SyncAdminServiceClient;
use talentmesh_proto::MessageLimits as _;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::error::{Error, Result};
use crate::names::{Renames, ServiceName};

/// The Consul tag of instances that serve `SyncAdminService`.
pub const SYNC_ADMIN_TAG: &str = "sync-admin";

/// A client of one instance's admin API.
pub type AdminClient = SyncAdminServiceClient<Channel>;

/// How long a non-blocking Consul read may take before the request fails.
const CONSUL_WAIT: Duration = Duration::from_secs(1);

/// Headers of the incoming request that every call to an instance carries: the caller's
/// `authorization`, so the instance runs its own admin check on the same person, and the W3C
/// trace context of the current span, so the instance's spans join the caller's trace.
#[derive(Debug, Clone, Default)]
pub struct Forwarded {
    headers: Vec<(AsciiMetadataKey, AsciiMetadataValue)>,
}

impl Forwarded {
    /// Takes the headers from `req`; call it inside the handler's span.
    pub fn from_request<T>(req: &Request<T>) -> Forwarded {
        let mut headers = Vec::new();
        if let Some(auth) = req.metadata().get("authorization") {
            headers.push((AsciiMetadataKey::from_static("authorization"), auth.clone()));
        }
        let mut trace = http::HeaderMap::new();
        telemetry::inject_current(&mut trace);
        for (name, value) in &trace {
            if let (Ok(key), Ok(value)) = (
                AsciiMetadataKey::from_bytes(name.as_str().as_bytes()),
                value
                    .to_str()
                    .map_err(|_| ())
                    .and_then(|v| v.parse::<AsciiMetadataValue>().map_err(|_| ())),
            ) {
                headers.push((key, value));
            }
        }
        Forwarded { headers }
    }

    /// `message` as a request carrying the forwarded headers and `deadline` (as `grpc-timeout`,
    /// so the instance gives up when the caller does).
    pub fn request<M>(&self, message: M, deadline: Duration) -> Request<M> {
        let mut request = Request::new(message);
        request.set_timeout(deadline);
        for (key, value) in &self.headers {
            request.metadata_mut().insert(key.clone(), value.clone());
        }
        request
    }
}

/// The instances of every sync service, and calls to them. Clone freely.
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

struct Inner {
    consul: ConsulClient,
    renames: Renames,
    deadline: Duration,
    /// The mesh's message size limit (`TALENTMESH_GRPC_MAX_MESSAGE`), on every admin client.
    max_message: usize,
    /// Channels by `http://host:port`; pruned to the current instances on every full listing.
    channels: Mutex<HashMap<String, Channel>>,
    /// Rotates the first instance tried for single-instance calls, spreading them out.
    next: AtomicUsize,
    /// With mesh TLS (`TALENTMESH_MESH_TLS=connect`): the control plane's Connect identity.
    /// Every admin call then goes over mutual TLS to an instance whose certificate names the
    /// service Consul lists it under, so an admin's bearer token only reaches verified peers.
    connect: Option<Arc<ConnectIdentity>>,
}

impl Fleet {
    /// The fleet found through `consul`; each admin call within `deadline`, its messages within
    /// `max_message` bytes (the mesh's `grpc_max_message`).
    pub fn new(
        consul: ConsulClient,
        renames: Renames,
        deadline: Duration,
        max_message: usize,
        connect: Option<Arc<ConnectIdentity>>,
    ) -> Fleet {
        Fleet {
            inner: Arc::new(Inner {
                consul,
                renames,
                deadline,
                max_message,
                channels: Mutex::new(HashMap::new()),
                next: AtomicUsize::new(0),
                connect,
            }),
        }
    }

    /// Whether Consul answers: the service can do nothing without it.
    pub async fn consul_reachable(&self) -> bool {
        self.inner.consul.services(0, CONSUL_WAIT).await.is_ok()
    }

    /// Passing instances of `service` that serve the admin API; empty when there are none.
    pub async fn instances(&self, service: &ServiceName) -> Result<Vec<Instance>> {
        Ok(admin_only(self.passing(service).await?))
    }

    /// Every passing instance of `service`, whatever its tags.
    async fn passing(&self, service: &ServiceName) -> Result<Vec<Instance>> {
        let consul_name = self.inner.renames.consul_name(service.as_str());
        let passing = self
            .inner
            .consul
            .passing_instances(consul_name, 0, CONSUL_WAIT)
            .await?;
        Ok(passing.value)
    }

    /// Every service with at least one passing admin instance, by API name, with its instances.
    /// Also forgets the channels of instances that are gone.
    pub async fn services(&self) -> Result<Vec<(ServiceName, Vec<Instance>)>> {
        let names = self.inner.consul.services(0, CONSUL_WAIT).await?.value;
        let names: Vec<ServiceName> = names
            .iter()
            .filter(|n| n.as_str() != "consul")
            .filter_map(|n| self.inner.renames.service_name(n))
            .collect();
        let listed = join_all(names.into_iter().map(|name| async move {
            let instances = self.instances(&name).await;
            instances.map(|i| (name, i))
        }))
        .await;
        let mut services = Vec::new();
        for entry in listed {
            let (name, instances) = entry?;
            if !instances.is_empty() {
                services.push((name, instances));
            }
        }
        services.sort_by(|a, b| a.0.cmp(&b.0));
        let live: Vec<String> = services
            .iter()
            .flat_map(|(_, instances)| instances.iter().map(Instance::uri))
            .collect();
        lock(&self.inner.channels).retain(|uri, _| live.contains(uri));
        Ok(services)
    }

    /// Like [`Self::instances`], but a service without any is an error: [`Error::NoInstance`]
    /// (UNAVAILABLE, retryable) when Consul knows the service but none of its instances passes
    /// its health check right now — a restart, or a store it depends on being down, makes every
    /// instance briefly critical, and that is not "no such service" — and [`Error::NoService`]
    /// (NOT_FOUND) when Consul does not know the service, or its passing instances do not serve
    /// the admin API (a service without the sync framework).
    ///
    /// Consul's health listing carries the tags of passing instances only, so a service none
    /// of whose instances passes is taken as a sync service if Consul knows its name at all: a
    /// service without the framework whose instances are all critical reads UNAVAILABLE too,
    /// which a retry turns into NOT_FOUND once one of them passes.
    pub async fn require(&self, service: &ServiceName) -> Result<Vec<Instance>> {
        let passing = self.passing(service).await?;
        let any_passing = !passing.is_empty();
        let admin = admin_only(passing);
        if !admin.is_empty() {
            return Ok(admin);
        }
        if any_passing {
            return Err(Error::NoService(service.clone()));
        }
        let consul_name = self.inner.renames.consul_name(service.as_str());
        let known = self
            .inner
            .consul
            .services(0, CONSUL_WAIT)
            .await?
            .value
            .iter()
            .any(|n| n == consul_name);
        Err(if known {
            Error::NoInstance(service.clone())
        } else {
            Error::NoService(service.clone())
        })
    }

    fn client(&self, instance: &Instance) -> std::result::Result<AdminClient, Status> {
        let uri = instance.uri();
        let mut channels = lock(&self.inner.channels);
        if let Some(channel) = channels.get(&uri) {
            return Ok(
                SyncAdminServiceClient::new(channel.clone()).limit_messages(self.inner.max_message)
            );
        }
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| Status::unavailable(format!("bad instance address {uri}: {e}")))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true);
        let channel = match &self.inner.connect {
            None => endpoint.connect_lazy(),
            Some(connect) => {
                let config = connect
                    .client_config(&instance.service)
                    .map_err(|e| Status::unavailable(format!("no tls for {uri}: {e}")))?;
                talentmesh_mesh::connect::tls_channel(endpoint, config)
            }
        };
        channels.insert(uri, channel.clone());
        Ok(SyncAdminServiceClient::new(channel).limit_messages(self.inner.max_message))
    }

    /// Runs `call` on `instance` within the per-call deadline.
    async fn call_one<T, F, Fut>(
        &self,
        instance: &Instance,
        call: F,
    ) -> std::result::Result<T, Status>
    where
        F: FnOnce(AdminClient, Duration) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<T>, Status>>,
    {
        let client = self.client(instance)?;
        let deadline = self.inner.deadline;
        let expired = || Status::deadline_exceeded(format!("no answer within {deadline:?}"));
        let started = std::time::Instant::now();
        match tokio::time::timeout(deadline, call(client, deadline)).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            // The channel enforces the same `grpc-timeout` and may fire first, and so may the
            // instance's server, which answers CANCELLED "Timeout expired" over the wire; either
            // would read as if someone had given up on purpose.
            Ok(Err(status))
                if timed_out(&status)
                    || (status.code() == Code::Cancelled && started.elapsed() >= deadline) =>
            {
                Err(expired())
            }
            Ok(Err(status)) => Err(status),
            Err(_) => Err(expired()),
        }
    }

    /// The sync status of every instance, asked all at once; each answer or its error.
    pub async fn statuses(
        &self,
        instances: &[Instance],
        forwarded: &Forwarded,
    ) -> Vec<(Instance, std::result::Result<pb::SyncStatus, Status>)> {
        join_all(instances.iter().map(|instance| async move {
            let answer = self
                .call_one(instance, |mut client, deadline| async move {
                    client
                        .get_sync_status(forwarded.request(pb::GetSyncStatusRequest {}, deadline))
                        .await
                })
                .await
                .and_then(|r| {
                    r.status
                        .ok_or_else(|| Status::internal("the instance sent no status"))
                });
            if let Err(status) = &answer {
                tracing::warn!(instance = %instance.id, code = ?status.code(), error = %status.message(), "instance did not report its sync status");
            }
            (instance.clone(), answer)
        }))
        .await
    }

    /// Runs `call` on one instance of `service`. Any instance will do (they share the service's
    /// Redis, where operations and dead letters live); one that is UNAVAILABLE is passed over
    /// for the next. Any other error is the service's answer and is returned as it came.
    pub async fn call_any<T, F, Fut>(&self, service: &ServiceName, call: F) -> Result<T>
    where
        F: Fn(AdminClient, Duration) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<T>, Status>>,
    {
        let instances = self.require(service).await?;
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        for k in 0..instances.len() {
            let instance = &instances[(start + k) % instances.len()];
            match self.call_one(instance, &call).await {
                Ok(answer) => return Ok(answer),
                Err(status) if status.code() == Code::Unavailable => {
                    tracing::warn!(instance = %instance.id, error = %status.message(), "instance unavailable; trying the next");
                    last = Some(status);
                }
                Err(status) => return Err(Error::Instance(status)),
            }
        }
        Err(Error::Instance(last.unwrap_or_else(|| {
            Status::unavailable(format!("no instance of {service} answered"))
        })))
    }
}

/// The instances among `instances` that serve the admin API.
fn admin_only(instances: Vec<Instance>) -> Vec<Instance> {
    instances
        .into_iter()
        .filter(|i| i.tags.iter().any(|t| t == SYNC_ADMIN_TAG))
        .collect()
}

/// Did the client's own deadline end the call (rather than the instance answering)?
fn timed_out(status: &Status) -> bool {
    std::error::Error::source(status)
        .is_some_and(|e| e.downcast_ref::<tonic::TimeoutExpired>().is_some())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A map of lazily connected channels stays valid even if a holder panicked.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
