//! The service kit: one way to start a talentmesh service. A service's `lib.rs` declares what
//! is its own — its stores and migrations, its projections and event sources, the services it
//! calls, the tonic services it serves and which of their methods are public — and the kit does
//! the rest, the same for every service:
//!
//! 1. connects the stores and applies the migrations ([`ServiceKit::stores`]);
//! 2. finds upstream services in Consul, or takes the channels a test gave ([`ServiceKit::upstream`]);
//! 3. starts the data-sync runtime — outbox relay, consumers, projections, checks — and serves its
//!    admin contract, tagged `sync-admin` in Consul ([`ServiceKit::start_sync`]);
//! 4. serves each tonic service ([`ServiceKit::serve`]), reporting grpc.health.v1 for each one by
//!    its `NamedService::NAME` (no hand-kept list to forget one in) and reflection for exactly
//!    those plus `grpc.health.v1.Health`;
//! 5. runs ([`ServiceKit::run`]): token verification (identity's published keys unless the
//!    service or a test gives a verifier), readiness from the stores' health, metrics, Consul
//!    registration and tags, and on shutdown: NOT_SERVING, deregister, drain, then stop the sync
//!    runtime (releasing the relay lease).
//!
//! Binaries and tests both start services through [`Launch`]: a binary binds the configured
//! addresses and waits for SIGTERM, a test binds port 0 and may put its own verifier and
//! upstream channels in place of the mesh. There is no second wiring path for tests.
//!
//! ```ignore
//! pub async fn run(config: Config, launch: Launch) -> anyhow::Result<()> {
//!     let mut kit = ServiceKit::new(config::SERVICE, &config.mesh, launch);
//!     let stores = kit.stores(&config.storage, Migrations::mysql(&MYSQL_MIGRATIONS)).await?;
//!     let sync = kit.sync()?.source(..).projection(.., ..);
//!     kit.start_sync(sync).await?;
//!     let company = kit.upstream("company")?;
//!     kit.public_methods(grpc::PUBLIC_METHODS);
//!     kit.serve(JobServiceServer::new(grpc::JobGrpc { .. }));
//!     kit.run().await
//! }
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use talentmesh_mesh::auth::{AuthPolicy, JwksCache, Verifier};
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::server::{self, Readiness, ServeOptions};
use talentmesh_mesh::{Discovery, MeshChannel, MeshConfig};
use talentmesh_proto::MessageLimits;
use talentmesh_storage::sync::{SyncRuntime, SyncSetup};
use talentmesh_storage::{Migrations, StorageConfig, Stores};
use tonic::body::Body;
use tonic::server::NamedService;

pub use talentmesh_mesh::server::Launch;

/// The generated server of a sync runtime's admin contract.
pub type SyncAdminServer =
    talentmesh_proto::sync::v1::sync_admin_service_server::SyncAdminServiceServer<
        talentmesh_storage::sync::SyncAdmin,
    >;

/// The Consul tag every talentmesh service carries.
pub use talentmesh_mesh::consul::MESH_TAG;
/// The Consul tag of services that serve `talentmesh.sync.v1.SyncAdminService`; the sync
/// control plane finds them by it.
pub const SYNC_ADMIN_TAG: &str = "sync-admin";

/// One service being put together; see the module docs for the order of things.
pub struct ServiceKit {
    name: &'static str,
    mesh: MeshConfig,
    launch: Launch,
    metrics: Arc<Metrics>,
    /// Created on the first upstream that a test did not give: tests without Consul never
    /// start a watch.
    discovery: Option<Discovery>,
    /// Mesh name → Consul name, for peers registered under another name.
    consul_names: HashMap<String, String>,
    stores: Option<Stores>,
    sync: Option<SyncRuntime>,
    verifier: Option<Arc<Verifier>>,
    public: Vec<String>,
    readiness: Option<Readiness>,
    routes: Option<tonic::service::Routes>,
    served: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    tags: Vec<String>,
}

impl ServiceKit {
    /// Begins the service `name` (its mesh name, e.g. `job`, which is also its metrics
    /// namespace) with the runtime settings of `mesh`, started by `launch`.
    pub fn new(name: &'static str, mesh: &MeshConfig, launch: Launch) -> ServiceKit {
        ServiceKit {
            name,
            mesh: mesh.clone(),
            launch,
            metrics: Metrics::new(name),
            discovery: None,
            consul_names: HashMap::new(),
            stores: None,
            sync: None,
            verifier: None,
            public: Vec::new(),
            readiness: None,
            routes: None,
            served: Vec::new(),
            descriptor_sets: Vec::new(),
            tags: vec![MESH_TAG.to_string()],
        }
    }

    /// Connects the stores `config` names (creating the service's database and schema) and
    /// applies `migrations`. From here on the service is ready while every store it needs
    /// answers (grpc.health.v1 says NOT_SERVING otherwise).
    ///
    /// # Errors
    /// A store that stays unreachable through start-up patience, or a failed migration.
    pub async fn stores(
        &mut self,
        config: &StorageConfig,
        migrations: Migrations,
    ) -> anyhow::Result<Stores> {
        let stores = Stores::connect(config, migrations).await?;
        self.count_pools(&stores, Some(config.max_connections));
        self.stores = Some(stores.clone());
        Ok(stores)
    }

    /// Counts into `metrics` instead of a registry of the kit's own (a fixture that reads its
    /// sync runtime's metrics, registered before the server starts).
    /// Call it before [`ServiceKit::stores`] and [`ServiceKit::upstream`], whose metrics go
    /// to the registry current when they are called.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> ServiceKit {
        self.metrics = metrics;
        self
    }

    /// Uses stores connected elsewhere (a fixture whose stores outlive one server): readiness
    /// then follows their health, as after [`ServiceKit::stores`].
    pub fn adopt_stores(&mut self, stores: Stores) -> &mut Self {
        self.count_pools(&stores, None);
        self.stores = Some(stores);
        self
    }

    /// The pools of `stores` in the metrics (`talentmesh_store_pool_*`), sampled per scrape.
    fn count_pools(&self, stores: &Stores, configured_max: Option<u32>) {
        self.metrics.registry().register_collector(Box::new(
            talentmesh_storage::pool_metrics::StorePoolMetrics::new(stores.clone(), configured_max),
        ));
    }

    /// Calls the peer `service` under another Consul name (a mesh whose services are
    /// registered under names of its own).
    pub fn consul_name(&mut self, service: &str, consul_name: &str) -> &mut Self {
        self.consul_names
            .insert(service.to_string(), consul_name.to_string());
        self
    }

    /// A channel to the peer `service` (a mesh name: `identity`, `company`, ...): the one the
    /// launch gave (tests), else one balanced over the healthy instances Consul lists.
    ///
    /// # Errors
    /// The Consul address is not a usable URL.
    pub fn upstream(&mut self, service: &str) -> anyhow::Result<MeshChannel> {
        // Every call to a peer is counted in this service's `grpc_client_*` series.
        if let Some(channel) = self.launch.upstreams.get(service) {
            return Ok(channel.with_metrics(self.metrics.clone()));
        }
        let discovery = match &self.discovery {
            Some(d) => d.clone(),
            None => {
                let d = Discovery::for_mesh(&self.mesh, self.mesh.default_deadline)?;
                self.discovery = Some(d.clone());
                d
            }
        };
        let consul_name = self
            .consul_names
            .get(service)
            .map_or(service, String::as_str);
        Ok(discovery
            .channel(consul_name)
            .with_metrics(self.metrics.clone()))
    }

    /// The data-sync setup over this service's stores, for the service to declare its sources,
    /// projections and reactions on, then hand to [`ServiceKit::start_sync`].
    ///
    /// # Errors
    /// [`ServiceKit::stores`] was not called first.
    pub fn sync(&self) -> anyhow::Result<SyncSetup> {
        let stores = self
            .stores
            .clone()
            .ok_or_else(|| anyhow::anyhow!("{}: connect the stores before sync", self.name))?;
        Ok(SyncSetup::new(self.name, &self.mesh.instance_id, stores))
    }

    /// Starts the sync runtime (relay, consumers, checks) and serves its admin contract; the
    /// service is tagged `sync-admin` in Consul. The runtime is stopped after the server has
    /// drained.
    ///
    /// # Errors
    /// A projection that cannot install itself, or a store that refuses the consumer groups.
    pub async fn start_sync(&mut self, setup: SyncSetup) -> anyhow::Result<&SyncRuntime> {
        let runtime = setup.start(&self.metrics).await?;
        self.serve_sync_admin(runtime.admin_service());
        Ok(self.sync.insert(runtime))
    }

    /// Serves the admin contract of a sync runtime the caller keeps and stops itself (a fixture
    /// whose runtime outlives one server); tagged `sync-admin` like [`ServiceKit::start_sync`].
    /// `admin` is the runtime's [`SyncRuntime::admin_service`].
    pub fn serve_sync_admin(&mut self, admin: SyncAdminServer) -> &mut Self {
        self.serve(admin);
        self.tag(SYNC_ADMIN_TAG)
    }

    /// Methods (full paths, `/pkg.Service/Method`) callable without a token. Health and
    /// reflection always are.
    pub fn public_methods<I, S>(&mut self, methods: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.public.extend(methods.into_iter().map(Into::into));
        self
    }

    /// Verifies tokens with `verifier` instead of identity's published keys (identity itself,
    /// which holds the keys). A verifier given by the launch (tests) still wins.
    pub fn verify_with(&mut self, verifier: Arc<Verifier>) -> &mut Self {
        self.verifier = Some(verifier);
        self
    }

    /// Readiness for a service without stores (probed every second).
    pub fn readiness(&mut self, probe: Readiness) -> &mut Self {
        self.readiness = Some(probe);
        self
    }

    /// Adds a Consul tag (besides `talentmesh`, and `sync-admin` once sync is served).
    pub fn tag(&mut self, tag: &str) -> &mut Self {
        if !self.tags.iter().any(|t| t == tag) {
            self.tags.push(tag.to_string());
        }
        self
    }

    /// An encoded descriptor set reflection answers from, for contracts outside `proto/`.
    pub fn descriptors(&mut self, set: &'static [u8]) -> &mut Self {
        self.descriptor_sets.push(set);
        self
    }

    /// Serves `svc` (a generated tonic server) and reports its health by its proto name. The
    /// server sends and accepts messages up to the mesh's limit (`TALENTMESH_GRPC_MAX_MESSAGE`),
    /// the one its callers' channels use, instead of tonic's 4 MiB default.
    pub fn serve<S>(&mut self, svc: S) -> &mut Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + MessageLimits
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.served.push(S::NAME);
        let svc = svc.limit_messages(self.mesh.grpc_max_message);
        self.routes = Some(match self.routes.take() {
            Some(routes) => routes.add_service(svc),
            None => tonic::service::Routes::new(svc),
        });
        self
    }

    /// The proto names of the services served so far, in the order they were added.
    pub fn served(&self) -> &[&'static str] {
        &self.served
    }

    /// The service's metrics registry (for metrics of its own).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Serves until the launch's shutdown completes, drains, then stops the sync runtime.
    ///
    /// # Errors
    /// Nothing is served; the listeners fail; reflection cannot read a descriptor set.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let routes = self
            .routes
            .take()
            .ok_or_else(|| anyhow::anyhow!("{}: nothing to serve", self.name))?;
        let verifier = match (self.launch.verifier.take(), self.verifier.take()) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => {
                let identity = self.upstream("identity")?;
                let keys = JwksCache::from_identity(identity);
                // The revoked-session set the cache polls, counted like identity's own.
                if let Some(revoked) = talentmesh_mesh::auth::KeySource::revocations(&keys) {
                    revoked.register_metrics(&mut self.metrics.registry());
                }
                Arc::new(Verifier::new(
                    Arc::new(keys),
                    &self.mesh.jwt_issuer,
                    &self.mesh.jwt_audience,
                ))
            }
        };
        let readiness = match (self.readiness.take(), self.stores.clone()) {
            (Some(probe), _) => Some(probe),
            (None, Some(stores)) => Some(stores_ready(stores)),
            (None, None) => None,
        };
        let tags = self.tags;
        let options = ServeOptions {
            services: self.served.clone(),
            verifier: Some(verifier),
            policy: AuthPolicy::new(self.public.iter().cloned()),
            readiness,
            metrics: self.metrics.clone(),
            tags,
        };
        let Launch {
            listeners,
            shutdown,
            ..
        } = self.launch;
        let served = server::serve_with_descriptors(
            self.mesh,
            listeners,
            routes,
            options,
            self.descriptor_sets,
            shutdown,
        )
        .await;
        if let Some(sync) = self.sync {
            sync.shutdown().await;
        }
        served
    }
}

/// A service binary's whole `main`: loads the config from the process environment (every
/// problem named at once), starts telemetry, binds the configured addresses and runs the
/// service until SIGTERM.
///
/// ```ignore
/// #[tokio::main]
/// async fn main() -> anyhow::Result<()> {
///     talentmesh_kit::main(Config::load, |c| &c.mesh, run).await
/// }
/// ```
///
/// # Errors
/// A bad environment, telemetry that cannot start, an address in use, or the service's own.
pub async fn main<C, E, Fut>(
    load: impl FnOnce(talentmesh_mesh::Env) -> Result<C, E>,
    mesh: impl FnOnce(&C) -> &MeshConfig,
    run: impl FnOnce(C, Launch) -> Fut,
) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let config = load(talentmesh_mesh::Env::from_process())?;
    let mesh = mesh(&config).clone();
    let _telemetry = talentmesh_mesh::telemetry::init(&mesh)?;
    let launch = Launch::bind(&mesh).await?;
    run(config, launch).await
}

/// Ready while every store the service needs answers.
fn stores_ready(stores: Stores) -> Readiness {
    Arc::new(move || {
        let stores = stores.clone();
        Box::pin(async move { stores.health().await.ready() })
    })
}
