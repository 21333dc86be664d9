//! The gateway value: config, upstreams and the current route table, shared by every request.
//!
//! The route table is immutable once compiled and is published through an `ArcSwap`: a request
//! takes the table that is current when it starts and keeps it to the end, while a refresh
//! compiles a new table off to the side and swaps it in with one atomic store. Requests never wait
//! for a refresh and never see half a table.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;
use prost_reflect::{DescriptorPool, MessageDescriptor, SerializeOptions};
use talentmesh_mesh::error::{ApiError, ErrorCode};

use crate::config::GatewayConfig;
use crate::conn::{AutomaticBodies, ConnLimits};
use crate::descriptors::{self, RawFile};
use crate::error::{Error, Result};
use crate::loading::RouteLoading;
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
    /// Request durations by method, route and status; served by the binary on its metrics port.
    pub metrics: Arc<talentmesh_mesh::metrics::Metrics>,
    /// The bodies of the error responses hyper writes itself (see [`crate::conn`]).
    pub automatic: Arc<AutomaticBodies>,
    /// Which routes are still on their way: an unmatched path is 503 rather than 404 while a
    /// route for it may yet load (see [`crate::loading`]).
    pub loading: RouteLoading,
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
        let automatic = Arc::new(automatic_bodies(&fallback_status, &serialize));
        let table = RouteTable::compile(pool, &config.services);
        let metrics = talentmesh_mesh::metrics::Metrics::new("gateway");
        upstreams.record_into(&metrics);
        Ok(Gateway {
            shared: Arc::new(Shared {
                config,
                upstreams,
                routes: ArcSwap::from_pointee(table),
                fallback_status,
                serialize,
                update: Mutex::new(()),
                metrics,
                automatic,
                loading: RouteLoading::default(),
            }),
        })
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.shared.config
    }

    /// The bounds every client connection is served with.
    pub fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            header_timeout: self.shared.config.header_timeout,
            idle_timeout: self.shared.config.idle_timeout,
        }
    }

    pub(crate) fn automatic_bodies(&self) -> Arc<AutomaticBodies> {
        self.shared.automatic.clone()
    }

    pub fn upstreams(&self) -> &U {
        &self.shared.upstreams
    }

    /// The gateway's metrics, for the binary to serve.
    pub fn metrics(&self) -> Arc<talentmesh_mesh::metrics::Metrics> {
        self.shared.metrics.clone()
    }

    /// What is still loading; whatever loads routes at run time reports here.
    pub fn loading(&self) -> &RouteLoading {
        &self.shared.loading
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
    ///
    /// A service speaks only for itself: of the files it describes, those declaring gRPC
    /// services are taken only when they are in its own package (see
    /// [`crate::upstream::service_name_of`]), and other files when they are in its own package
    /// or the gateway has no file of that name yet. A service cannot rewrite another's routes or shared types.
    /// Nothing is fetched from a service the gateway does not expose.
    pub async fn refresh_from_reflection(&self, service: &str) -> Result<RefreshReport> {
        if !self.shared.config.services.iter().any(|s| s == service) {
            return Err(Error::NotExposed(service.to_string()));
        }
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
        let files = own_files(service, files, current.pool())?;
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
        let table = Arc::new(RouteTable::compile(pool, &self.shared.config.services));
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

/// The `google.rpc.Status` bodies of the responses hyper sends on its own for requests it
/// cannot parse, in the JSON every other gateway error has.
fn automatic_bodies(status: &MessageDescriptor, options: &SerializeOptions) -> AutomaticBodies {
    let render = |code, message: &str, reason: &'static str| {
        let error = ApiError::new(code, message.to_string()).with_reason(reason);
        Bytes::from(crate::status::render(
            status,
            &error.to_rpc_status(),
            options,
        ))
    };
    AutomaticBodies {
        malformed: render(
            ErrorCode::InvalidArgument,
            "the request is not valid HTTP",
            "MALFORMED_REQUEST",
        ),
        uri_too_long: render(
            ErrorCode::ResourceExhausted,
            "the request target is longer than 65534 bytes",
            "URI_TOO_LONG",
        ),
        headers_too_large: render(
            ErrorCode::ResourceExhausted,
            "the request head is larger than the gateway accepts",
            "HEADERS_TOO_LARGE",
        ),
    }
}

/// The files of `fetched` that `service` may contribute (see
/// [`Gateway::refresh_from_reflection`]); the rest are left out with a log line.
fn own_files(
    service: &str,
    fetched: Vec<RawFile>,
    current: &DescriptorPool,
) -> Result<Vec<RawFile>> {
    let mut kept = Vec::with_capacity(fetched.len());
    for file in fetched {
        let proto =
            <prost_types::FileDescriptorProto as prost::Message>::decode(file.bytes.clone())
                .map_err(|e| Error::Descriptors(format!("undecodable file descriptor: {e}")))?;
        let package = proto.package.as_deref().unwrap_or_default();
        let own_package = crate::upstream::service_name_of(package) == service;
        let allowed = if proto.service.is_empty() {
            own_package || current.get_file_by_name(&file.name).is_none()
        } else {
            own_package
        };
        if allowed {
            kept.push(file);
        } else {
            tracing::warn!(
                service,
                file = %file.name,
                "ignored a file the service may not redefine"
            );
        }
    }
    Ok(kept)
}
