//! The gateway value: config, upstreams and the current route table, shared by every request.
//!
//! The route table is immutable once compiled and is published through an `ArcSwap`: a request
//! takes the table that is current when it starts and keeps it to the end, while a refresh
//! compiles a new table off to the side and swaps it in with one atomic store. Requests never wait
//! for a refresh and never see half a table.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use prost_reflect::{DescriptorPool, MessageDescriptor, SerializeOptions};

use crate::config::GatewayConfig;
use crate::descriptors::{self, RawFile};
use crate::error::{Error, Result};
use crate::routes::RouteTable;
use crate::upstream::Upstreams;

/// The REST-to-gRPC gateway. Cheap to clone; clones share one route table.
pub struct Gateway<U: Upstreams> {
    pub(crate) shared: Arc<Shared<U>>,
}

impl<U: Upstreams> Clone for Gateway<U> {
    fn clone(&self) -> Self {
        Gateway {
            shared: self.shared.clone(),
        }
    }
}

pub(crate) struct Shared<U> {
    pub config: GatewayConfig,
    pub upstreams: U,
    /// The table requests route through; replaced whole by refreshes.
    pub routes: ArcSwap<RouteTable>,
    /// `google.rpc.Status` from the compiled-in set, for rendering errors when the current pool
    /// lacks it (a pool handed to `replace_pool` need not contain it).
    pub fallback_status: MessageDescriptor,
    pub serialize: SerializeOptions,
    /// Serializes read-merge-swap updates so two refreshes cannot lose each other's files. Held
    /// only while compiling, never across an await.
    pub update: Mutex<()>,
    /// Requests by route and status, latency by route; served by the binary on its metrics port.
    pub metrics: Arc<talentmesh_mesh::metrics::Metrics>,
    /// The series of requests that matched no route.
    pub unmatched: talentmesh_mesh::metrics::HttpRoute,
}

impl<U> Shared<U> {
    pub fn status_descriptor(&self, table: &RouteTable) -> MessageDescriptor {
        table
            .pool()
            .get_message_by_name("google.rpc.Status")
            .unwrap_or_else(|| self.fallback_status.clone())
    }
}

/// What a reflection refresh changed.
#[derive(Debug, Clone)]
pub struct RefreshReport {
    /// Names of the files fetched from the service.
    pub files: Vec<String>,
    /// Number of routes in the new table.
    pub routes: usize,
    /// Bindings the new table had to skip.
    pub problems: Vec<String>,
}

impl<U: Upstreams> Gateway<U> {
    /// A gateway over the compiled-in descriptors of every talentmesh proto.
    pub fn new(config: GatewayConfig, upstreams: U) -> Result<Self> {
        Self::with_pool(config, upstreams, descriptors::compiled_in()?)
    }

    /// A gateway over the compiled-in descriptors plus the files of an encoded
    /// `FileDescriptorSet` (a file of the same name replaces the compiled-in one).
    pub fn with_descriptor_set(config: GatewayConfig, upstreams: U, set: &[u8]) -> Result<Self> {
        let pool = descriptors::merge(&descriptors::compiled_in()?, &descriptors::split_set(set)?)?;
        Self::with_pool(config, upstreams, pool)
    }

    /// A gateway over exactly `pool`.
    pub fn with_pool(config: GatewayConfig, upstreams: U, pool: DescriptorPool) -> Result<Self> {
        let fallback_status = descriptors::compiled_in()?
            .get_message_by_name("google.rpc.Status")
            .ok_or_else(|| {
                Error::Descriptors("google.rpc.Status is not compiled in".to_string())
            })?;
        let serialize = SerializeOptions::new().skip_default_fields(!config.emit_unpopulated);
        let table = RouteTable::compile(pool);
        let metrics = talentmesh_mesh::metrics::Metrics::new("gateway");
        Ok(Gateway {
            shared: Arc::new(Shared {
                config,
                upstreams,
                routes: ArcSwap::from_pointee(table),
                fallback_status,
                serialize,
                update: Mutex::new(()),
                unmatched: metrics.http_route("unmatched"),
                metrics,
            }),
        })
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.shared.config
    }

    pub fn upstreams(&self) -> &U {
        &self.shared.upstreams
    }

    /// The gateway's metrics, for the binary to serve.
    pub fn metrics(&self) -> Arc<talentmesh_mesh::metrics::Metrics> {
        self.shared.metrics.clone()
    }

    /// The route table requests use now.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.shared.routes.load_full()
    }

    /// Compiles `pool` and makes it the route table, atomically for requests in flight.
    pub fn replace_pool(&self, pool: DescriptorPool) -> Arc<RouteTable> {
        let _guard = self.lock();
        self.publish(pool)
    }

    /// Adds `files` to the current pool (replacing files of the same name) and republishes.
    pub fn merge_files(&self, files: &[RawFile]) -> Result<Arc<RouteTable>> {
        let _guard = self.lock();
        let current = self.shared.routes.load_full();
        let pool = descriptors::merge(current.pool(), files)?;
        Ok(self.publish(pool))
    }

    /// Fetches `service`'s descriptors from its gRPC reflection service, merges them over the
    /// current ones and rebuilds the routes, so RPCs the running service added (and annotated)
    /// are served without a gateway restart. Called when the service's instances change.
    pub async fn refresh_from_reflection(&self, service: &str) -> Result<RefreshReport> {
        let channel = self
            .shared
            .upstreams
            .channel(service)
            .ok_or_else(|| Error::NoUpstream(service.to_string()))?;
        let current = self.shared.routes.load_full();
        let files = crate::reflection::fetch_files::<U>(service, channel, |name| {
            current.pool().get_file_by_name(name).is_some()
        })
        .await?;
        let table = self.merge_files(&files)?;
        tracing::info!(
            service,
            files = files.len(),
            routes = table.routes().len(),
            "routes refreshed from reflection"
        );
        Ok(RefreshReport {
            files: files.into_iter().map(|f| f.name).collect(),
            routes: table.routes().len(),
            problems: table.problems().to_vec(),
        })
    }

    fn publish(&self, pool: DescriptorPool) -> Arc<RouteTable> {
        let table = Arc::new(RouteTable::compile(pool));
        self.shared.routes.store(table.clone());
        table
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding the lock left no half-written state (the swap is one store).
        self.shared
            .update
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
