//! Serving a service: the gRPC server with health, reflection, metrics, tracing and auth layers;
//! Consul registration with a gRPC health check; health that follows the stores; and the
//! shutdown sequence SIGTERM asks for: NOT_SERVING, deregister, drain in-flight requests, return.
//! Connections are bounded ([`crate::config::GrpcConnectionLimits`]): HTTP/2 keep-alive with a
//! timeout, a cap on concurrent streams, and a handshake timeout ([`Handshake`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::auth::{AuthLayer, AuthPolicy, Verifier};
use crate::config::MeshConfig;
use crate::connect::{ConnectAuthzLayer, ConnectIdentity, MeshTls};
use crate::consul::{ConsulClient, ConsulPresence, HealthCheck, Registration};
use crate::limits::MessageLimitLayer;
use crate::metrics::{Metrics, MetricsLayer};
use crate::telemetry;

/// Says whether every store the service needs answers.
pub type Readiness = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

/// What a service adds to the runtime.
pub struct ServeOptions {
    /// Full proto names of the services served (each tonic server's `NamedService::NAME`),
    /// reported in grpc.health.v1 one by one and the only ones reflection lists.
    pub services: Vec<&'static str>,
    /// Token verification; `None` serves without auth (only for services that have no caller).
    pub verifier: Option<Arc<Verifier>>,
    pub policy: AuthPolicy,
    /// Probed every second; while false the health service says NOT_SERVING.
    pub readiness: Option<Readiness>,
    pub metrics: Arc<Metrics>,
    pub tags: Vec<String>,
}

/// The listeners a service runs on; bind port 0 in tests.
pub struct Listeners {
    pub grpc: TcpListener,
    pub metrics: TcpListener,
}

impl Listeners {
    /// # Errors
    /// An address cannot be bound; the error names which (`TALENTMESH_GRPC_ADDR` or
    /// `TALENTMESH_METRICS_ADDR`) and the address.
    pub async fn bind(config: &MeshConfig) -> std::io::Result<Listeners> {
        let bind = |what: &'static str, addr: std::net::SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| std::io::Error::new(e.kind(), format!("{what} {addr}: {e}")))
        };
        Ok(Listeners {
            grpc: bind("TALENTMESH_GRPC_ADDR", config.grpc_addr).await?,
            metrics: bind("TALENTMESH_METRICS_ADDR", config.metrics_addr).await?,
        })
    }
}

/// How one run of a service starts: where it listens, what ends it, and what a test puts in
/// place of the mesh (a token verifier with a key of the test's own, channels to upstream
/// services it started itself). A binary makes one with [`Launch::bind`]; tests with
/// [`Launch::new`] on listeners bound to port 0. Every service takes a `Launch`, so tests start
/// services through exactly the code path the binaries use.
pub struct Launch {
    pub listeners: Listeners,
    /// Completes when the service should stop (SIGTERM in a binary).
    pub shutdown: futures::future::BoxFuture<'static, ()>,
    /// Verifies tokens instead of identity's published keys (tests).
    pub verifier: Option<Arc<Verifier>>,
    /// Channels to use instead of Consul discovery, by mesh service name (tests).
    pub upstreams: std::collections::HashMap<String, crate::discovery::MeshChannel>,
}

impl Launch {
    /// Listeners on the configured addresses; stops on SIGTERM or SIGINT.
    pub async fn bind(config: &MeshConfig) -> std::io::Result<Launch> {
        Ok(Launch::new(
            Listeners::bind(config).await?,
            shutdown_signal(),
        ))
    }

    /// A launch on `listeners` that stops when `shutdown` completes.
    pub fn new(
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Launch {
        Launch {
            listeners,
            shutdown: Box::pin(shutdown),
            verifier: None,
            upstreams: std::collections::HashMap::new(),
        }
    }

    /// Verifies tokens with `verifier` instead of identity's keys.
    pub fn with_verifier(mut self, verifier: Arc<Verifier>) -> Launch {
        self.verifier = Some(verifier);
        self
    }

    /// Calls `service` (a mesh name such as `company`) over `channel` instead of finding it in
    /// Consul.
    pub fn with_upstream(
        mut self,
        service: &str,
        channel: crate::discovery::MeshChannel,
    ) -> Launch {
        self.upstreams.insert(service.to_string(), channel);
        self
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn set_all(reporter: &HealthReporter, services: &[&'static str], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for s in services {
        reporter.set_service_status(*s, status).await;
    }
}

/// Reflection lists exactly the services served and `grpc.health.v1.Health`, and describes only
/// them: its descriptors are the files defining those services and the files they import
/// ([`crate::descriptors::served_set`]), so a client of one port sees what that port answers,
/// not every contract of the mesh.
fn reflection<'a>(
    options: &ServeOptions,
    served: &'a [u8],
) -> tonic_reflection::server::Builder<'a> {
    // Encoded, so the files go out with the bytes they were compiled to: custom options such
    // as `google.api.http`, which the gateway routes by, survive (a decoded set loses them).
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(served)
        .include_reflection_service(false)
        .with_service_name(HEALTH_SERVICE);
    for name in &options.services {
        builder = builder.with_service_name(*name);
    }
    builder
}

/// The standard health service's full name.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// Runs the service until `shutdown` completes, then drains and returns.
pub async fn serve(
    config: MeshConfig,
    listeners: Listeners,
    routes: tonic::service::Routes,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_descriptors(config, listeners, routes, options, Vec::new(), shutdown).await
}

/// [`serve`] with encoded descriptor sets for reflection besides talentmesh's own (a service
/// whose contracts live outside `proto/`, such as the sync fixture's).
pub async fn serve_with_descriptors(
    config: MeshConfig,
    listeners: Listeners,
    routes: tonic::service::Routes,
    options: ServeOptions,
    descriptor_sets: Vec<&'static [u8]>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grpc_addr: SocketAddr = listeners.grpc.local_addr()?;
    let metrics_addr: SocketAddr = listeners.metrics.local_addr()?;

    let (reporter, health) = tonic_health::server::health_reporter();
    let ready_now = match &options.readiness {
        Some(probe) => probe().await,
        None => true,
    };
    let initial = if ready_now {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    set_all(&reporter, &options.services, initial).await;

    // Health follows the stores: a probe loop flips SERVING / NOT_SERVING as they come and go.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(probe) = options.readiness.clone() {
        let reporter = reporter.clone();
        let services = options.services.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut last = ready_now;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                    _ = stop.changed() => return,
                }
                let now = probe().await;
                if now != last {
                    tracing::warn!(ready = now, "store health changed");
                    let status = if now {
                        ServingStatus::Serving
                    } else {
                        ServingStatus::NotServing
                    };
                    set_all(&reporter, &services, status).await;
                    last = now;
                }
            }
        });
    }

    let served_set = crate::descriptors::served_set_encoded(&options.services, &descriptor_sets)?;
    let reflection_v1 = reflection(&options, &served_set).build_v1()?;
    let reflection_v1alpha = reflection(&options, &served_set).build_v1alpha()?;
    // The RPC series label the fixture's methods like talentmesh's own.
    for set in &descriptor_sets {
        options.metrics.learn_descriptors(set)?;
    }
    let mut routes = routes;
    routes = routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    // The metrics port also answers grpc.health.v1 in plaintext, from the same reporter, for
    // probes that cannot speak the gRPC port's mutual TLS (Kubernetes').
    let metrics_task = {
        let metrics = options.metrics.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(crate::metrics::serve_metrics_with_health(
            listeners.metrics,
            metrics,
            Some(reporter.clone()),
            async move {
                let _ = stop.changed().await;
            },
        ))
    };

    let consul = if config.consul_addr.is_empty() {
        None
    } else {
        Some(ConsulClient::for_mesh(&config)?)
    };
    // Connect-native mTLS (TALENTMESH_MESH_TLS=connect): this service's leaf certificate and
    // the CA roots, followed through the local agent (the config refuses connect without
    // Consul).
    let connect = match (config.mesh_tls, &consul) {
        (MeshTls::Connect, Some(consul)) => {
            Some(ConnectIdentity::start(consul.clone(), &config.service_name))
        }
        _ => None,
    };
    let registration = Registration::for_mesh(
        &config,
        grpc_addr.port(),
        metrics_addr.port(),
        options.tags.clone(),
        connect.is_some(),
    );
    // Consul may come up after the service; the presence keeps trying rather than refusing to
    // start.
    let presence = consul
        .clone()
        .map(|consul| ConsulPresence::start(consul, registration, HealthCheck::RegisteredPort));

    // Order matters, outermost first: the trace span wraps everything so metrics and auth
    // failures are inside it; metrics see every request including the ones auth refuses
    // (health checks excepted: they are probes, not traffic).
    let auth = options
        .verifier
        .clone()
        .map(|v| AuthLayer::new(v, options.policy.clone()));
    // The message limit sits inside metrics (a refused message is counted) and outside auth, so
    // an oversized request is refused as its frame header arrives, with RESOURCE_EXHAUSTED,
    // before tonic would fail decoding it deep inside. The generated servers carry the same
    // limit (the service kit sets it), so this layer is the one that answers.
    // With mesh TLS, the intention check sits inside metrics (refusals are counted) and before
    // everything else: a caller Consul does not allow gets no further, whatever it sends.
    let layers = tower::ServiceBuilder::new()
        .layer(TraceLayer)
        .layer(MetricsLayer::new(options.metrics.clone()))
        .option_layer(connect.clone().map(ConnectAuthzLayer::new))
        .layer(MessageLimitLayer::new(config.grpc_max_message))
        .option_layer(auth);

    tracing::info!(
        service = %config.service_name,
        grpc = %grpc_addr,
        metrics = %metrics_addr,
        "serving"
    );

    let shutdown_reporter = reporter.clone();
    let services = options.services.clone();
    let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: not serving, deregistering, draining");
        set_all(&shutdown_reporter, &services, ServingStatus::NotServing).await;
        if let Some(presence) = presence {
            presence.leave().await;
        }
        let _ = drain_tx.send(());
    };

    // The builder's `tcp_nodelay` only reaches sockets tonic accepts itself; these come from
    // our own listener, so each gets TCP_NODELAY here. Without it, a response written in more
    // than one segment waits for the client's delayed ACK (about 40 ms) under Nagle.
    let limits = config.grpc_connections;
    let router = tonic::transport::Server::builder()
        // Dead peers (no PING answer within the timeout) are dropped instead of held.
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        // One connection cannot open unbounded streams, each a task and buffers.
        .max_concurrent_streams(limits.max_concurrent_streams)
        .layer(layers)
        .add_routes(routes);
    let server: BoxFuture<'static, Result<(), tonic::transport::Error>> = match &connect {
        None => {
            let incoming =
                futures::StreamExt::map(TcpListenerStream::new(listeners.grpc), move |accepted| {
                    accepted.map(|stream| {
                        if let Err(e) = stream.set_nodelay(true) {
                            tracing::debug!(error = %e, "could not set TCP_NODELAY");
                        }
                        // A connection that never sends its HTTP/2 preface holds a socket and a
                        // task for as long as the peer likes: it gets the handshake timeout,
                        // then is closed.
                        Handshake::new(stream, limits.handshake_timeout)
                    })
                });
            Box::pin(router.serve_with_incoming_shutdown(incoming, signal))
        }
        Some(identity) => {
            // The TLS handshake gets the handshake timeout, then the HTTP/2 preface again.
            let tls = crate::connect::tls_incoming(
                listeners.grpc,
                identity.clone(),
                identity.server_config()?,
                limits.handshake_timeout,
            );
            let incoming = futures::StreamExt::map(tls, move |accepted| {
                accepted.map(|stream| Handshake::new(stream, limits.handshake_timeout))
            });
            Box::pin(router.serve_with_incoming_shutdown(incoming, signal))
        }
    };
    tokio::pin!(server);

    // Drain in-flight requests, but not forever: after the grace period the process exits.
    let grace = config.shutdown_grace;
    let result = tokio::select! {
        r = &mut server => r,
        _ = async {
            let _ = drain_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("grace period over; dropping remaining connections");
            Ok(())
        }
    };
    let _ = stop_tx.send(true);
    let _ = metrics_task.await;
    result?;
    tracing::info!("stopped");
    Ok(())
}

/// The HTTP/2 connection preface every client sends first (RFC 9113 section 3.4).
const PREFACE_LEN: usize = 24;

/// A server socket that must deliver the HTTP/2 connection preface within a timeout: until
/// [`PREFACE_LEN`] bytes have been read, a read that waits past the deadline fails with
/// `TimedOut`, which ends the connection. After the preface it is the plain socket (HTTP/2
/// keep-alive then watches the peer). tonic has no handshake timeout of its own.
pub struct Handshake<IO> {
    inner: IO,
    read: usize,
    /// Dropped once the preface is in.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<IO> Handshake<IO> {
    pub fn new(inner: IO, timeout: Duration) -> Self {
        Handshake {
            inner,
            read: 0,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
        }
    }
}

impl<IO: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Handshake<IO> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read += buf.filled().len() - before;
                if this.read >= PREFACE_LEN {
                    this.deadline = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending => match this.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no HTTP/2 connection preface within the handshake timeout",
                ))),
                _ => Poll::Pending,
            },
        }
    }
}

impl<IO: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Handshake<IO> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The peer address stays what tonic reports for a plain socket (`Request::remote_addr`).
impl<IO: tonic::transport::server::Connected> tonic::transport::server::Connected
    for Handshake<IO>
{
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Opens the server span of every RPC ([`telemetry::server_span`]: named after the method,
/// child of the caller's W3C trace context, carrying the request id) and records the call's
/// gRPC status on it from the answer's headers or trailers. Health checks get no span.
#[derive(Clone, Copy)]
pub struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = TraceService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TraceService { inner }
    }
}

#[derive(Clone)]
pub struct TraceService<S> {
    inner: S,
}

impl<S> tower::Service<http::Request<Body>> for TraceService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        use tracing::Instrument;
        if telemetry::is_health_check(req.uri().path()) {
            return Box::pin(self.inner.call(req));
        }
        let span = telemetry::server_span(&req);
        let fut = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        Box::pin(async move {
            let response = fut.instrument(span.clone()).await?;
            Ok(telemetry::observe_response(span, response, true))
        })
    }
}
