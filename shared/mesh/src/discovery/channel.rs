//! A balanced channel to one service ([`MeshChannel`]): the endpoints of its passing instances,
//! replaced as Consul's answers change (connections of endpoints that stay are kept), picked
//! round-robin per call, skipping for a while one that refused a connection.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::connect::ConnectIdentity;
use crate::consul::Instance;

/// How long a call made before Consul's first answer about its service waits for that answer.
pub(super) const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(2);

/// One reachable instance behind a [`MeshChannel`].
pub(super) struct Endpoint {
    id: String,
    pub(super) uri: String,
    pub(super) channel: Channel,
    /// Milliseconds since [`clock_origin`] until which the endpoint is skipped.
    pub(super) ejected_until: AtomicU64,
}

pub(super) struct ChannelInner {
    pub(super) service: String,
    endpoints: ArcSwap<Vec<Arc<Endpoint>>>,
    next: AtomicUsize,
    pub(super) default_deadline: Duration,
    /// The largest message, in encoded bytes, sent or accepted on this channel.
    pub(super) max_message: usize,
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
    pub(super) inner: Arc<ChannelInner>,
    /// Where the `grpc_client_*` series of calls through this handle go; a handle of its own
    /// per process ([`MeshChannel::with_metrics`]), sharing the endpoints.
    pub(super) metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl MeshChannel {
    pub(super) fn empty(service: &str, default_deadline: Duration, max_message: usize) -> Self {
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
    pub(super) fn with_connect(self, connect: Arc<ConnectIdentity>) -> Self {
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

    pub(super) fn set_instances(&self, instances: &[Instance]) {
        self.set_endpoints(instances.iter().map(|i| (i.id.clone(), i.uri())));
    }

    /// Replaces the endpoint list, keeping the connections of endpoints that stay.
    pub(super) fn set_endpoints(&self, wanted: impl Iterator<Item = (String, String)>) {
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
    pub(super) async fn wait_until_known(&self) -> bool {
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
    pub(super) fn pick(&self, tried: &[usize]) -> Option<(usize, Arc<Endpoint>)> {
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

pub(super) fn now_ms() -> u64 {
    u64::try_from(clock_origin().elapsed().as_millis()).unwrap_or(u64::MAX)
}
