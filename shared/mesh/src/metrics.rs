//! Prometheus metrics per RPC — request count, errors by code, latency histogram, in-flight —
//! recorded by a tower layer in front of the routes and served as text over HTTP. Other crates
//! register their own metrics in the same [`Metrics::registry`] before serving starts.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tonic::body::Body;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub method: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

/// At most this many distinct method labels; callers can send any path, and each new label is
/// a new time series, so paths past the cap are counted under `other`.
const MAX_METHODS: usize = 256;

/// The metrics of one process.
pub struct Metrics {
    methods: std::sync::RwLock<std::collections::HashSet<String>>,
    registry: Mutex<Registry>,
    requests: Family<RpcLabels, Counter>,
    errors: Family<RpcLabels, Counter>,
    latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Metrics {
    pub fn new(service: &str) -> Arc<Self> {
        let mut registry = Registry::with_prefix_and_labels(
            "talentmesh",
            [(
                std::borrow::Cow::Borrowed("service"),
                std::borrow::Cow::Owned(service.to_string()),
            )]
            .into_iter(),
        );
        let requests = Family::<RpcLabels, Counter>::default();
        let errors = Family::<RpcLabels, Counter>::default();
        let latency = Family::<MethodLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let in_flight = Gauge::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_latency =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "grpc_requests",
            "gRPC requests by method and status code",
            requests.clone(),
        );
        registry.register(
            "grpc_errors",
            "gRPC requests that ended in an error status",
            errors.clone(),
        );
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC request latency",
            latency.clone(),
        );
        registry.register(
            "grpc_in_flight",
            "gRPC requests being served",
            in_flight.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status (the gateway)",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route (the gateway)",
            http_latency.clone(),
        );
        Arc::new(Metrics {
            methods: std::sync::RwLock::new(std::collections::HashSet::new()),
            registry: Mutex::new(registry),
            requests,
            errors,
            latency,
            in_flight,
            http_requests,
            http_latency,
        })
    }

    fn method_label(&self, method: &str) -> String {
        // Every request reads; only a method's first request writes.
        let known = self
            .methods
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(method);
        if known {
            return method.to_string();
        }
        let mut seen = self.methods.write().unwrap_or_else(|p| p.into_inner());
        if seen.len() < MAX_METHODS {
            seen.insert(method.to_string());
            return method.to_string();
        }
        "other".to_string()
    }

    /// A recorder for one HTTP route (the gateway's). `route` must come from a bounded set, e.g.
    /// the route template, never the raw path. Keep the recorder with the route: recording then
    /// allocates nothing.
    pub fn http_route(&self, route: &str) -> HttpRoute {
        HttpRoute {
            label: route.to_string(),
            latency: self
                .http_latency
                .get_or_create(&RouteLabels {
                    route: route.to_string(),
                })
                .clone(),
            by_status: std::sync::RwLock::new(Vec::new()),
            requests: self.http_requests.clone(),
        }
    }

    /// Lets another crate add its metrics.
    pub fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }

    fn record(&self, method: &str, code: &str, seconds: f64) {
        let method = self.method_label(method);
        let labels = RpcLabels {
            method: method.clone(),
            code: code.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        if code != "OK" {
            self.errors.get_or_create(&labels).inc();
        }
        self.latency
            .get_or_create(&MethodLabels { method })
            .observe(seconds);
    }
}

/// Counts and times the requests of one HTTP route, holding its series so the hot path only
/// touches atomics (statuses seen so far are cached; a new status is looked up once).
pub struct HttpRoute {
    label: String,
    latency: Histogram,
    by_status: std::sync::RwLock<Vec<(u16, Counter)>>,
    requests: Family<HttpLabels, Counter>,
}

impl std::fmt::Debug for HttpRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRoute")
            .field("label", &self.label)
            .finish()
    }
}

impl HttpRoute {
    pub fn record(&self, status: u16, seconds: f64) {
        self.latency.observe(seconds);
        let cached = self
            .by_status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, c)| c.clone());
        let counter = match cached {
            Some(c) => c,
            None => {
                let c = self
                    .requests
                    .get_or_create(&HttpLabels {
                        route: self.label.clone(),
                        status,
                    })
                    .clone();
                self.by_status
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((status, c.clone()));
                c
            }
        };
        counter.inc();
    }
}

/// Serves `/metrics` on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
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
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

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
        let method = req.uri().path().to_string();
        let metrics = self.metrics.clone();
        metrics.in_flight.inc();
        let started = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            metrics.in_flight.dec();
            // Errors are sent trailers-only, so their status is in the headers; a success's
            // grpc-status 0 comes in trailers, and an absent header here means OK.
            let code = match &result {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or("OK", |c| match tonic::Code::from_i32(c) {
                        tonic::Code::Ok => "OK",
                        code => crate::error::ErrorCode::from_grpc_code(code).as_str(),
                    }),
                Err(_) => "TRANSPORT_ERROR",
            };
            metrics.record(&method, code, started.elapsed().as_secs_f64());
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_capped() {
        let metrics = Metrics::new("test");
        for i in 0..(MAX_METHODS + 10) {
            metrics.record(&format!("/x.Y/M{i}"), "OK", 0.001);
        }
        metrics.record("/x.Y/M0", "NOT_FOUND", 0.001);
        let text = metrics.encode();
        assert!(text.contains(r#"method="other""#));
        assert!(
            text.contains(r#"method="/x.Y/M0",code="NOT_FOUND""#),
            "{text}"
        );
        let series = text
            .lines()
            .filter(|l| l.starts_with("talentmesh_grpc_requests_total"))
            .count();
        assert!(series <= MAX_METHODS + 2, "{series} series");
    }
}
