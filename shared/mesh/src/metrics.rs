//! Prometheus metrics of one process, served as text on the metrics port ([`serve_metrics`]),
//! with the names and labels dashboards and alert rules for gRPC services expect:
//!
//! - RPCs served and made: `grpc_server_*` and `grpc_client_*` ([`rpc`]), recorded by
//!   [`MetricsLayer`] in front of a server's routes and by [`ClientMetricsLayer`] (or a
//!   [`crate::MeshChannel`] given the metrics) on outbound channels. Health probes
//!   (grpc.health.v1) are left out: a probe every second would drown the traffic in the series.
//! - HTTP requests (the gateway): `http_server_request_duration_seconds{http_request_method,
//!   http_route,http_response_status_code}`, OpenTelemetry's HTTP server semantic conventions in
//!   Prometheus form (dots become underscores); the request count is the histogram's `_count`.
//! - The process: `process_cpu_seconds_total`, `process_resident_memory_bytes`,
//!   `process_open_fds`, `process_max_fds`, `process_start_time_seconds` ([`process`]).
//! - `talentmesh_build_info{service,version,revision} 1`.
//!
//! Other crates register their own metrics in [`Metrics::registry`]: names there get the
//! `talentmesh_` prefix and a `service` label (the sync runtime's, auth's, rate limits', store
//! pools'). The standard families above live in a second registry without either, because their
//! names are fixed by the conventions; Prometheus adds the target's labels to both.

mod process;
pub mod rpc;

use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tonic::body::Body;

use crate::descriptors::MethodCatalog;
pub use rpc::{code_label, CallRecord, LATENCY_BUCKETS};

/// The labels of `http_server_request_duration_seconds` (OpenTelemetry's `http.request.method`,
/// `http.route`, `http.response.status_code`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// An HTTP method of RFC 9110 (or `PATCH`), else `_OTHER`.
    pub http_request_method: &'static str,
    /// The route template (`/v1/{name=companies/*}`), empty when no route matched.
    pub http_route: String,
    pub http_response_status_code: u16,
}

/// The labels of `talentmesh_build_info` (besides the registry's `service`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
    pub revision: String,
}

/// The label value of an HTTP method: the known methods as themselves, anything else `_OTHER`
/// (a client can send any token as a method; each would be a new series).
pub fn http_method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => "_OTHER",
    }
}

/// The path prefix of the standard health service's calls, which stay out of the RPC series.
const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// The metrics of one process (one per service; an in-process test may make several).
pub struct Metrics {
    /// `talentmesh_`-prefixed, labelled with the service: where other crates register.
    registry: Mutex<Registry>,
    /// The families whose names the conventions fix: RPC, HTTP, process.
    standard: Mutex<Registry>,
    /// The RPCs the descriptors define, for the `grpc_type` label and to bound the series.
    catalog: Arc<RwLock<MethodCatalog>>,
    server: rpc::RpcMetrics,
    client: rpc::RpcMetrics,
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

impl Metrics {
    /// The metrics of service `service` (its mesh name, the `service` label of the
    /// `talentmesh_` series), with the process collector and build info registered.
    pub fn new(service: &str) -> Arc<Self> {
        let mut registry = Registry::with_prefix_and_labels(
            "talentmesh",
            [(
                std::borrow::Cow::Borrowed("service"),
                std::borrow::Cow::Owned(service.to_string()),
            )]
            .into_iter(),
        );
        let mut standard = Registry::default();
        let catalog = Arc::new(RwLock::new(MethodCatalog::builtin()));
        let server = rpc::RpcMetrics::register(&mut standard, "grpc_server", catalog.clone());
        let client = rpc::RpcMetrics::register(&mut standard, "grpc_client", catalog.clone());
        let http = Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            rpc::latency_histogram,
        );
        standard.register(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests, by method, route template and status",
            http.clone(),
        );
        standard.register_collector(Box::new(process::ProcessCollector));
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: crate::build_info::VERSION.to_string(),
                revision: crate::build_info::REVISION.to_string(),
            })
            .set(1);
        registry.register(
            "build_info",
            "The version and git revision the binary was built from (always 1)",
            build,
        );
        Arc::new(Metrics {
            registry: Mutex::new(registry),
            standard: Mutex::new(standard),
            catalog,
            server,
            client,
            http,
        })
    }

    /// Lets another crate add its metrics (names get the `talentmesh_` prefix and the
    /// `service` label).
    pub fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the RPCs of an encoded `FileDescriptorSet` known to the RPC series (contracts
    /// outside `proto/`); calls to methods no known contract defines count as `unknown`.
    ///
    /// # Errors
    /// `set` does not decode.
    pub fn learn_descriptors(&self, set: &[u8]) -> Result<(), prost::DecodeError> {
        self.catalog
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add(set)
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        let result = encode_registry(
            &mut out,
            &self.standard.lock().unwrap_or_else(|p| p.into_inner()),
        )
        .and_then(|()| encode_registry(&mut out, &self.registry()))
        .and_then(|()| encode_eof(&mut out));
        if let Err(e) = result {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// Counts a call this process serves at request path `path` as started; finish the record
    /// with the call's status ([`CallRecord::follow`] does it from the response).
    pub fn server_call(&self, path: &str) -> CallRecord {
        self.server.begin(path)
    }

    /// Counts an outbound call to request path `path` as started (see [`Metrics::server_call`]).
    pub fn client_call(&self, path: &str) -> CallRecord {
        self.client.begin(path)
    }

    /// A recorder for one HTTP route (the gateway's): `method` and `route`, the route template,
    /// come from the route table, never from a raw path. Keep the recorder with the route:
    /// recording then allocates nothing.
    pub fn http_route(&self, method: &str, route: &str) -> HttpRoute {
        HttpRoute {
            method: http_method_label(method),
            route: route.to_string(),
            by_status: RwLock::new(Vec::new()),
            family: self.http.clone(),
        }
    }

    /// Records a request no route matched (its `http_route` is empty).
    pub fn record_unmatched(&self, method: &http::Method, status: u16, seconds: f64) {
        self.http
            .get_or_create(&HttpLabels {
                http_request_method: http_method_label(method.as_str()),
                http_route: String::new(),
                http_response_status_code: status,
            })
            .observe(seconds);
    }
}

/// Times the requests of one HTTP route, holding its series so the hot path only touches
/// atomics (statuses seen so far are cached; a new status is looked up once).
pub struct HttpRoute {
    method: &'static str,
    route: String,
    by_status: RwLock<Vec<(u16, Histogram)>>,
    family: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for HttpRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRoute")
            .field("method", &self.method)
            .field("route", &self.route)
            .finish()
    }
}

impl HttpRoute {
    /// Records one request answered with `status` after `seconds`.
    pub fn record(&self, status: u16, seconds: f64) {
        let cached = self
            .by_status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, h)| h.clone());
        let histogram = match cached {
            Some(h) => h,
            None => {
                let h = self
                    .family
                    .get_or_create(&HttpLabels {
                        http_request_method: self.method,
                        http_route: self.route.clone(),
                        http_response_status_code: status,
                    })
                    .clone();
                self.by_status
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((status, h.clone()));
                h
            }
        };
        histogram.observe(seconds);
    }
}

/// Serves `/metrics` on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_metrics_with_health(listener, metrics, None, shutdown).await
}

/// Serves `/metrics` and, given the gRPC port's health `reporter`, grpc.health.v1 over
/// plaintext HTTP/2 (h2c) on `listener` until `shutdown` completes. Health answers from the
/// same reporter as the gRPC port, so both always say the same: Kubernetes' gRPC probes cannot
/// speak TLS, so with mutual TLS on the gRPC port they probe this port instead. HTTP/1.1 and
/// HTTP/2 are told apart by the connection preface.
pub async fn serve_metrics_with_health(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    reporter: Option<tonic_health::server::HealthReporter>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.encode(),
                )
            }
        }),
    );
    if let Some(reporter) = reporter {
        let health = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(reporter),
        );
        let service =
            tower::ServiceExt::map_request(health, |req: http::Request<axum::body::Body>| {
                req.map(Body::new)
            });
        app = app.route_service(&format!("{HEALTH_PREFIX}{{method}}"), service);
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Records the RPC series of every call a server serves, health probes excepted; sits in
/// front of the routes (see `server.rs` for its place among the layers).
#[derive(Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        MetricsLayer { metrics }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> tower::Service<http::Request<Body>> for MetricsService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if req.uri().path().starts_with(HEALTH_PREFIX) {
            return Box::pin(self.inner.call(req));
        }
        let record = self.metrics.server_call(req.uri().path());
        let fut = self.inner.call(req);
        Box::pin(async move {
            match fut.await {
                Ok(response) => Ok(record.follow(response)),
                Err(e) => {
                    record.finish(tonic::Code::Unknown);
                    Err(e)
                }
            }
        })
    }
}

/// Records the `grpc_client_*` series of every call made through the service it wraps (a
/// tonic `Channel`, or anything a generated client calls through). A [`crate::MeshChannel`]
/// records the same way once given the metrics ([`crate::MeshChannel::with_metrics`]).
#[derive(Clone)]
pub struct ClientMetricsLayer {
    metrics: Arc<Metrics>,
}

impl ClientMetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        ClientMetricsLayer { metrics }
    }
}

impl<S> tower::Layer<S> for ClientMetricsLayer {
    type Service = ClientMetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ClientMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ClientMetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> tower::Service<http::Request<Body>> for ClientMetricsService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Into<crate::discovery::BoxError> + 'static,
{
    type Response = http::Response<Body>;
    type Error = crate::discovery::BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let record = self.metrics.client_call(req.uri().path());
        let fut = self.inner.call(req);
        Box::pin(observe_client(record, async move {
            fut.await.map_err(Into::into)
        }))
    }
}

/// Finishes `record` with the outcome of the outbound call `call`.
pub(crate) async fn observe_client(
    record: CallRecord,
    call: impl std::future::Future<Output = Result<http::Response<Body>, crate::discovery::BoxError>>,
) -> Result<http::Response<Body>, crate::discovery::BoxError> {
    match call.await {
        Ok(response) => Ok(record.follow(response)),
        Err(e) => {
            record.finish(rpc::code_of_error(e.as_ref()));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_requests_are_timed_by_method_route_template_and_status() {
        let metrics = Metrics::new("gateway");
        let register = metrics.http_route("POST", "/v1/users:register");
        register.record(400, 0.003);
        register.record(400, 0.2);
        register.record(201, 0.01);
        metrics.record_unmatched(&http::Method::GET, 404, 0.001);
        let odd = http::Method::from_bytes(b"BREW").unwrap_or(http::Method::GET);
        metrics.record_unmatched(&odd, 404, 0.001);
        let text = metrics.encode();
        let count = |labels: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(&format!(
                        "http_server_request_duration_seconds_count{{{labels}}} "
                    ))
                })
                .and_then(|v| v.parse::<u64>().ok())
        };
        let register = r#"http_request_method="POST",http_route="/v1/users:register""#;
        assert_eq!(
            count(&format!(r#"{register},http_response_status_code="400""#)),
            Some(2),
            "{text}"
        );
        assert_eq!(
            count(&format!(r#"{register},http_response_status_code="201""#)),
            Some(1)
        );
        assert_eq!(
            count(r#"http_request_method="GET",http_route="",http_response_status_code="404""#),
            Some(1),
            "{text}"
        );
        assert_eq!(
            count(r#"http_request_method="_OTHER",http_route="",http_response_status_code="404""#),
            Some(1),
            "{text}"
        );
        // 3 ms lands in the 5 ms bucket, 200 ms does not.
        let bucket = format!(
            r#"http_server_request_duration_seconds_bucket{{le="0.005",{register},http_response_status_code="400"}} 1"#
        );
        assert!(text.contains(&bucket), "{bucket} in\n{text}");
        assert!(!text.contains("talentmesh_http_"), "{text}");
    }
}
