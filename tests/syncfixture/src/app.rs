//! Wiring: stores, the sync framework with the three projections, and the gRPC server (notes
//! plus the sync admin contract) on the shared runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use talentmesh_kit::{Launch, ServiceKit, SyncAdminServer};
use talentmesh_mesh::auth::Verifier;
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::server::Listeners;
use talentmesh_mesh::MeshConfig;
use talentmesh_storage::outbox::RelayConfig;
use talentmesh_storage::sync::{BusSettings, SyncRuntime, SyncSetup};
use talentmesh_storage::{Migrations, Needs, StorageConfig, Stores};

use crate::gate::{CheckGate, GatedSource};
use crate::grpc::{NotesGrpc, PUBLIC_METHODS};
use crate::notes::{NoteSource, NoteStore};
use crate::pb::note_service_server::NoteServiceServer;
use crate::projections::{self, PoisonSwitch};

pub const SERVICE: &str = "syncfixture";
static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Knobs tests turn.
#[derive(Clone)]
pub struct AppOptions {
    pub relay: RelayConfig,
    pub bus: BusSettings,
    pub check_every: Option<Duration>,
    pub settle: Duration,
    /// When set, the checker waits on it before each projection (see [`CheckGate`]).
    pub check_gate: Option<CheckGate>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            relay: RelayConfig {
                idle_poll: Duration::from_millis(10),
                ..RelayConfig::default()
            },
            bus: BusSettings {
                block: Duration::from_millis(200),
                claim_idle: Duration::from_secs(1),
                max_deliveries: 3,
                max_backoff: Duration::from_millis(500),
                ..BusSettings::default()
            },
            check_every: None,
            settle: Duration::from_millis(500),
            check_gate: None,
        }
    }
}

/// A started fixture, before serving.
pub struct App {
    pub stores: Stores,
    pub notes: NoteStore,
    pub sync: SyncRuntime,
    pub poison: PoisonSwitch,
    pub metrics: Arc<Metrics>,
}

pub fn storage_config(env: &mut talentmesh_mesh::Env) -> StorageConfig {
    StorageConfig::load(env, SERVICE, Needs::ALL)
}

impl App {
    pub async fn start(
        mesh: &MeshConfig,
        storage: &StorageConfig,
        options: AppOptions,
    ) -> anyhow::Result<App> {
        let stores = Stores::connect(storage, Migrations::mysql(&MYSQL_MIGRATIONS)).await?;
        let mysql = stores.mysql()?.clone();
        let poison = PoisonSwitch::default();
        let metrics = Metrics::new(SERVICE);
        let mut setup = SyncSetup::new(SERVICE, &mesh.instance_id, stores.clone())
            .relay(options.relay)
            .bus(options.bus)
            .checks(options.check_every, true)
            .settle(options.settle)
            .source(match options.check_gate {
                Some(gate) => Arc::new(GatedSource {
                    source: Arc::new(NoteSource::new(mysql.clone())),
                    gate,
                }),
                None => Arc::new(NoteSource::new(mysql.clone())),
            });
        for p in projections::all(&stores, &poison)? {
            setup = setup.projection(p, projections::change_of());
        }
        let sync = setup.start(&metrics).await?;
        Ok(App {
            notes: NoteStore::new(mysql),
            stores,
            sync,
            poison,
            metrics,
        })
    }

    /// The gRPC server (notes and the sync admin contract) until `shutdown`. It borrows
    /// nothing from the app, so a test can keep the app (and its sync runtime) to itself.
    pub fn server(
        &self,
        mesh: MeshConfig,
        listeners: Listeners,
        verifier: Arc<Verifier>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        serve_parts(
            self.notes.clone(),
            self.sync.admin_service(),
            self.stores.clone(),
            Arc::clone(&self.metrics),
            mesh,
            listeners,
            verifier,
            shutdown,
        )
    }

    /// A `server` maker that owns what it needs, for runners that want a `FnOnce`.
    pub fn server_factory(&self) -> ServerFactory {
        let notes = self.notes.clone();
        let admin = self.sync.admin_service();
        let stores = self.stores.clone();
        let metrics = Arc::clone(&self.metrics);
        Box::new(move |mesh, listeners, verifier, shutdown| {
            Box::pin(serve_parts(
                notes, admin, stores, metrics, mesh, listeners, verifier, shutdown,
            ))
        })
    }

    /// Serves until `shutdown`, then stops the sync framework (relay lease released).
    pub async fn serve(
        self,
        mesh: MeshConfig,
        listeners: Listeners,
        verifier: Arc<Verifier>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let served = self.server(mesh, listeners, verifier, shutdown).await;
        self.sync.shutdown().await;
        served
    }
}

/// Boxed shutdown signal and server future, so the factory has a nameable type.
pub type Shutdown = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
pub type Served = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
pub type ServerFactory =
    Box<dyn FnOnce(MeshConfig, Listeners, Arc<Verifier>, Shutdown) -> Served + Send>;

/// The server through the service kit, like every service: notes and the admin contract of a
/// sync runtime the app keeps (tests stop the server and the runtime separately).
#[allow(clippy::too_many_arguments)]
async fn serve_parts(
    notes: NoteStore,
    admin: SyncAdminServer,
    stores: Stores,
    metrics: Arc<Metrics>,
    mesh: MeshConfig,
    listeners: Listeners,
    verifier: Arc<Verifier>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let launch = Launch::new(listeners, shutdown).with_verifier(verifier);
    let mut kit = ServiceKit::new(SERVICE, &mesh, launch).with_metrics(metrics);
    kit.adopt_stores(stores)
        .descriptors(crate::pb::FILE_DESCRIPTOR_SET)
        .public_methods(PUBLIC_METHODS)
        .serve(NoteServiceServer::new(NotesGrpc { store: notes }))
        .serve_sync_admin(admin);
    kit.run().await
}
