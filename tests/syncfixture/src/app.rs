//! Wiring: stores, the sync framework with the three projections, and the gRPC server (notes
//! plus the sync admin contract) on the shared runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::auth::{AuthPolicy, Verifier};
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::server::{self, Listeners, ServeOptions};
use talentmesh_mesh::MeshConfig;
use talentmesh_storage::outbox::RelayConfig;
use talentmesh_storage::sync::{BusSettings, SyncAdmin, SyncRuntime, SyncSetup};
use talentmesh_storage::{Migrations, Needs, StorageConfig, Stores};

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
        let stores = Stores::connect(
            storage,
            Migrations {
                mysql: Some(&MYSQL_MIGRATIONS),
                postgres: None,
            },
        )
        .await?;
        let mysql = stores.mysql()?.clone();
        let poison = PoisonSwitch::default();
        let metrics = Metrics::new(SERVICE);
        let mut setup = SyncSetup::new(SERVICE, &mesh.instance_id, stores.clone())
            .relay(options.relay)
            .bus(options.bus)
            .checks(options.check_every, true)
            .settle(options.settle)
            .source(Arc::new(NoteSource::new(mysql.clone())));
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

type AdminServer =
    talentmesh_proto::sync::v1::sync_admin_service_server::SyncAdminServiceServer<SyncAdmin>;

#[allow(clippy::too_many_arguments)]
async fn serve_parts(
    notes: NoteStore,
    admin: AdminServer,
    stores: Stores,
    metrics: Arc<Metrics>,
    mesh: MeshConfig,
    listeners: Listeners,
    verifier: Arc<Verifier>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let routes = tonic::service::Routes::new(NoteServiceServer::new(NotesGrpc { store: notes }))
        .add_service(admin);
    let options = ServeOptions {
        services: vec![
            "talentmesh.syncfixture.v1.NoteService",
            "talentmesh.sync.v1.SyncAdminService",
        ],
        verifier: Some(verifier),
        policy: AuthPolicy::new(PUBLIC_METHODS),
        readiness: Some(Arc::new(move || {
            let stores = stores.clone();
            Box::pin(async move { stores.health().await.ready() })
        })),
        metrics,
        tags: vec!["talentmesh".to_string(), "sync-admin".to_string()],
    };
    server::serve(mesh, listeners, routes, options, shutdown).await
}
