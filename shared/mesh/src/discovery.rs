//! Clients of other services find them through Consul. [`Discovery`] keeps one blocking-query
//! watch per service name and hands out [`MeshChannel`]s: cheap-to-clone gRPC channels that
//! balance round-robin over the passing instances, drop an instance as soon as Consul stops
//! listing it, eject for a few seconds an instance that refuses connections (so a process killed
//! between two health checks costs no failed calls), and never wait for an instance: with none,
//! a call fails at once with UNAVAILABLE. Every call carries a deadline and the trace context.
//!
//! Why not tonic's balanced channel: it reports zero load for every endpoint, so its
//! power-of-two choice is random, and with no ready endpoint its calls wait forever.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use tokio::sync::watch;
use tonic::body::Body;
use tonic::transport::Channel;
use tower::{Service, ServiceExt};

use crate::config::MeshConfig;
use crate::connect::{ConnectIdentity, MeshTls};
use crate::consul::{next_index, ConsulClient, ConsulError, Instance};
use crate::retry::Backoff;
use crate::telemetry;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a blocking query waits for a change before Consul answers anyway.
const WATCH_WAIT: Duration = Duration::from_secs(30);
/// How long an instance that refused a connection is skipped.
const EJECT_FOR: Duration = Duration::from_secs(5);
/// How long a call made before Consul's first answer about its service waits for that answer.
const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(2);

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

/// One reachable instance behind a [`MeshChannel`].
struct Endpoint {
    id: String,
    uri: String,
    channel: Channel,
    /// Milliseconds since [`clock_origin`] until which the endpoint is skipped.
    ejected_until: AtomicU64,
}

struct ChannelInner {
    service: String,
    endpoints: ArcSwap<Vec<Arc<Endpoint>>>,
    next: AtomicUsize,
    default_deadline: Duration,
    /// The largest message, in encoded bytes, sent or accepted on this channel.
    max_message: usize,
    /// Whether the endpoint list has been set at least once: before that, "no endpoint" means
    /// "not known yet" rather than "none".
    known: watch::Sender<bool>,
    /// With mesh TLS: the identity whose leaf this channel presents; every endpoint must prove
    /// it is `service` (the Consul name).
    connect: Option<Arc<ConnectIdentity>>,
}

/// A gRPC channel over the current instances of one service. Implements the tower service tonic
/// clients need, so `FooServiceClient::new(channel)` works.
#[derive(Clone)]
pub struct MeshChannel {
    inner: Arc<ChannelInner>,
    /// Where the `grpc_client_*` series of calls through this handle go; a handle of its own
    /// per process ([`MeshChannel::with_metrics`]), sharing the endpoints.
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl MeshChannel {
    fn empty(service: &str, default_deadline: Duration, max_message: usize) -> Self {
        MeshChannel {
            inner: Arc::new(ChannelInner {
                service: service.to_string(),
                endpoints: ArcSwap::from_pointee(Vec::new()),
                next: AtomicUsize::new(0),
                default_deadline,
                max_message,
                known: watch::Sender::new(false),
                connect: None,
            }),
            metrics: None,
        }
    }

    /// Speaks mutual TLS with `connect`'s leaf to every endpoint, accepting only a server whose
    /// certificate names this channel's service. Only on a channel with no endpoints yet.
    fn with_connect(self, connect: Arc<ConnectIdentity>) -> Self {
        let inner = &self.inner;
        MeshChannel {
            inner: Arc::new(ChannelInner {
                service: inner.service.clone(),
                endpoints: ArcSwap::from_pointee(Vec::new()),
                next: AtomicUsize::new(0),
                default_deadline: inner.default_deadline,
                max_message: inner.max_message,
                known: watch::Sender::new(false),
                connect: Some(connect),
            }),
            metrics: self.metrics,
        }
    }

    /// This channel (the same endpoints and connections), recording the `grpc_client_*` series
    /// of every call made through it in `metrics`.
    pub fn with_metrics(&self, metrics: Arc<crate::metrics::Metrics>) -> MeshChannel {
        MeshChannel {
            inner: self.inner.clone(),
            metrics: Some(metrics),
        }
    }

    /// A channel over fixed addresses (`http://host:port`), for tests and static setups.
    pub fn fixed(service: &str, uris: &[String], default_deadline: Duration) -> Self {
        MeshChannel::fixed_with_max_message(
            service,
            uris,
            default_deadline,
            crate::limits::DEFAULT_MAX_MESSAGE,
        )
    }

    /// [`MeshChannel::fixed`] sending and accepting messages of at most `max_message` bytes.
    pub fn fixed_with_max_message(
        service: &str,
        uris: &[String],
        default_deadline: Duration,
        max_message: usize,
    ) -> Self {
        let channel = MeshChannel::empty(service, default_deadline, max_message);
        let instances: Vec<Instance> = uris
            .iter()
            .map(|uri| Instance {
                service: service.to_string(),
                id: uri.clone(),
                address: String::new(),
                port: 0,
                tags: Vec::new(),
                meta: Vec::new(),
            })
            .collect();
        channel.set_endpoints(instances.iter().map(|i| (i.id.clone(), i.id.clone())));
        channel
    }

    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The largest message, in encoded bytes, this channel sends or accepts.
    pub fn max_message(&self) -> usize {
        self.inner.max_message
    }

    /// A generated client over this channel, with this channel's message size limit on both
    /// directions (tonic's clients would otherwise refuse answers over 4 MiB):
    /// `channel.client(FooServiceClient::new)`.
    pub fn client<C: talentmesh_proto::MessageLimits>(
        &self,
        make: impl FnOnce(MeshChannel) -> C,
    ) -> C {
        make(self.clone()).limit_messages(self.inner.max_message)
    }

    /// Addresses currently balanced over.
    pub fn endpoints(&self) -> Vec<String> {
        self.inner
            .endpoints
            .load()
            .iter()
            .map(|e| e.uri.clone())
            .collect()
    }

    fn set_instances(&self, instances: &[Instance]) {
        self.set_endpoints(instances.iter().map(|i| (i.id.clone(), i.uri())));
    }

    /// Replaces the endpoint list, keeping the connections of endpoints that stay.
    fn set_endpoints(&self, wanted: impl Iterator<Item = (String, String)>) {
        let current = self.inner.endpoints.load();
        let mut next = Vec::new();
        for (id, uri) in wanted {
            if let Some(kept) = current.iter().find(|e| e.id == id && e.uri == uri) {
                next.push(kept.clone());
                continue;
            }
            match tonic::transport::Endpoint::from_shared(uri.clone()) {
                Ok(endpoint) => {
                    let endpoint = endpoint
                        .connect_timeout(Duration::from_secs(1))
                        .tcp_nodelay(true)
                        .http2_keep_alive_interval(Duration::from_secs(10))
                        .keep_alive_timeout(Duration::from_secs(5));
                    let channel = match &self.inner.connect {
                        None => endpoint.connect_lazy(),
                        // Fails closed: without a TLS configuration the endpoint is left out,
                        // never called in plaintext.
                        Some(connect) => match connect.client_config(&self.inner.service) {
                            Ok(config) => crate::connect::tls_channel(endpoint, config),
                            Err(e) => {
                                tracing::warn!(uri = %uri, error = %e, "no tls configuration; leaving the instance out");
                                continue;
                            }
                        },
                    };
                    next.push(Arc::new(Endpoint {
                        id,
                        uri,
                        channel,
                        ejected_until: AtomicU64::new(0),
                    }));
                }
                Err(e) => {
                    tracing::warn!(uri = %uri, error = %e, "ignoring instance with a bad address")
                }
            }
        }
        self.inner.endpoints.store(Arc::new(next));
        self.inner.known.send_replace(true);
    }

    /// Waits (briefly) for the first endpoint list if there has been none yet: a call made just
    /// after start must not fail only because Consul's first answer is still on its way. True
    /// when a list arrived during the wait.
    async fn wait_until_known(&self) -> bool {
        if *self.inner.known.borrow() {
            return false;
        }
        let mut known = self.inner.known.subscribe();
        let answered = tokio::time::timeout(FIRST_ANSWER_WAIT, async {
            known.wait_for(|k| *k).await.is_ok()
        })
        .await;
        answered.unwrap_or(false)
    }

    /// Round-robin pick, skipping ejected endpoints unless every one is ejected.
    fn pick(&self, tried: &[usize]) -> Option<(usize, Arc<Endpoint>)> {
        let endpoints = self.inner.endpoints.load();
        let n = endpoints.len();
        if n == 0 {
            return None;
        }
        let now = now_ms();
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let mut fallback = None;
        for k in 0..n {
            let i = (start + k) % n;
            if tried.contains(&i) {
                continue;
            }
            let ep = &endpoints[i];
            if ep.ejected_until.load(Ordering::Relaxed) <= now {
                return Some((i, ep.clone()));
            }
            fallback.get_or_insert((i, ep.clone()));
        }
        fallback
    }
}

fn clock_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(clock_origin().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Did the call fail before the request could reach the server (so a retry elsewhere is safe)?
/// A refused connection, or with mesh TLS a failed handshake (the instance is not the service
/// it is listed as): no byte of the request, bearer token included, was sent.
fn never_reached_server(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            ) {
                return true;
            }
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return true;
            }
        }
        if e.is::<rustls::Error>() {
            return true;
        }
        let text = e.to_string();
        if text.contains("tcp connect error") || text.contains("Connection refused") {
            return true;
        }
        source = e.source();
    }
    false
}

/// Parses a `grpc-timeout` header value (`<digits><unit>`).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

impl Service<http::Request<Body>> for MeshChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is decided per call, when an endpoint is picked.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match &self.metrics {
            // Outermost, so a call refused here (no instance, too large, past its deadline)
            // is counted with the code the caller sees.
            Some(metrics) => {
                let record = metrics.client_call(req.uri().path());
                Box::pin(crate::metrics::observe_client(record, self.call_inner(req)))
            }
            None => self.call_inner(req),
        }
    }
}

impl MeshChannel {
    fn call_inner(
        &self,
        mut req: http::Request<Body>,
    ) -> BoxFuture<'static, Result<http::Response<Body>, BoxError>> {
        let this = self.clone();
        // The call's client span; its context and the request id go out with the request.
        let span = telemetry::client_span(&mut req, &this.inner.service);
        let deadline = match req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
        {
            Some(d) => d,
            None => {
                let d = this.inner.default_deadline;
                if let Ok(v) = http::HeaderValue::from_str(&format!("{}m", d.as_millis())) {
                    req.headers_mut().insert("grpc-timeout", v);
                }
                d
            }
        };
        let call = Box::pin(async move {
            let service = this.inner.service.clone();
            let work = async move {
                // Unary request bodies are one small frame; holding them lets a call move to
                // another instance when the first refuses the connection.
                let (parts, body) = req.into_parts();
                let bytes = body.collect().await.map_err(BoxError::from)?.to_bytes();
                let limit = this.inner.max_message;
                // Refused here, named, rather than by the server after it was sent.
                if let Some(len) = crate::limits::oversized_frame(&bytes, limit) {
                    let what = format!("request to {}", this.inner.service);
                    return Err(Box::new(crate::limits::too_large(&what, len, limit)) as BoxError);
                }
                let mut tried = Vec::new();
                loop {
                    let Some((i, endpoint)) = this.pick(&tried) else {
                        if tried.is_empty() && this.wait_until_known().await {
                            continue;
                        }
                        return Err(unavailable(&this.inner.service, tried.len()));
                    };
                    tried.push(i);
                    let mut request = http::Request::builder()
                        .method(parts.method.clone())
                        .uri(parts.uri.clone())
                        .version(parts.version)
                        .body(Body::new(http_body_util::Full::new(bytes.clone())))
                        .map_err(BoxError::from)?;
                    *request.headers_mut() = parts.headers.clone();
                    let mut channel = endpoint.channel.clone();
                    let result = match channel.ready().await {
                        Ok(ready) => ready.call(request).await,
                        Err(e) => Err(e),
                    };
                    match result {
                        // An answer over the limit fails as its frame header arrives, with
                        // RESOURCE_EXHAUSTED, however large the client's own limit is.
                        Ok(resp) => {
                            let what = format!("response from {}", this.inner.service);
                            return Ok(resp.map(|body| {
                                Body::new(crate::limits::CheckedFrames::new(body, limit, what))
                            }));
                        }
                        // The endpoint's own grpc-timeout fired first; tonic calls that
                        // CANCELLED, but the caller's deadline is what passed.
                        Err(e) if timed_out(&e) => {
                            return Err(Box::new(tonic::Status::deadline_exceeded(format!(
                                "deadline of {deadline:?} exceeded calling {}",
                                this.inner.service
                            ))) as BoxError)
                        }
                        Err(e) if never_reached_server(&e) => {
                            endpoint
                                .ejected_until
                                .store(now_ms() + EJECT_FOR.as_millis() as u64, Ordering::Relaxed);
                            tracing::debug!(uri = %endpoint.uri, error = %e, "instance refused; trying another");
                            continue;
                        }
                        Err(e) => return Err(BoxError::from(e)),
                    }
                }
            };
            match tokio::time::timeout(deadline, work).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(tonic::Status::deadline_exceeded(format!(
                    "deadline of {deadline:?} exceeded calling {service}"
                ))) as BoxError),
            }
        });
        Box::pin(async move {
            match tracing::Instrument::instrument(call, span.clone()).await {
                Ok(response) => Ok(telemetry::observe_response(span, response, false)),
                Err(e) => {
                    telemetry::record_failure(&span, e.as_ref());
                    Err(e)
                }
            }
        })
    }
}

/// Whether tonic's own grpc-timeout ended the call (somewhere in the error's source chain).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if err.is::<tonic::TimeoutExpired>() {
            return true;
        }
        current = err.source();
    }
    false
}

fn unavailable(service: &str, tried: usize) -> BoxError {
    let message = if tried == 0 {
        format!("no healthy instance of {service}")
    } else {
        format!("no instance of {service} accepted the connection")
    };
    Box::new(tonic::Status::unavailable(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("x"), None);
    }

    /// One unary call through `channel` (always ready: readiness is decided per call): the
    /// code it failed with, if it failed, and how long it took.
    async fn call(channel: MeshChannel) -> (Option<tonic::Code>, Duration) {
        let mut client = tonic::client::Grpc::new(channel);
        let started = Instant::now();
        assert!(client.ready().await.is_ok());
        let result = client
            .unary::<(), (), _>(
                tonic::Request::new(()),
                http::uri::PathAndQuery::from_static("/x.Y/Z"),
                tonic_prost::ProstCodec::default(),
            )
            .await;
        (result.err().map(|e| e.code()), started.elapsed())
    }

    #[tokio::test]
    async fn no_instance_fails_fast_with_unavailable() {
        let channel = MeshChannel::fixed("nothing", &[], Duration::from_secs(30));
        let (code, took) = call(channel).await;
        assert_eq!(code, Some(tonic::Code::Unavailable));
        assert!(took < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_call_made_before_the_first_answer_waits_for_it() {
        let channel = MeshChannel::empty(
            "later",
            Duration::from_secs(30),
            crate::limits::DEFAULT_MAX_MESSAGE,
        );
        let answering = channel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            // Consul's first answer: no instances.
            answering.set_endpoints(std::iter::empty());
        });
        let (code, waited) = call(channel).await;
        assert_eq!(code, Some(tonic::Code::Unavailable));
        assert!(
            waited >= Duration::from_millis(300) && waited < FIRST_ANSWER_WAIT,
            "{waited:?}"
        );
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn an_upstream_that_never_answers_is_cut_off_at_the_deadline() {
        // Accepts connections (the kernel does) but never speaks HTTP/2.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}", silent.local_addr().unwrap());
        let channel = MeshChannel::fixed("silent", &[uri], Duration::from_millis(300));
        let (code, took) = call(channel).await;
        assert_eq!(code, Some(tonic::Code::DeadlineExceeded));
        assert!(took < Duration::from_secs(2), "{took:?}");
        drop(silent);
    }
}
