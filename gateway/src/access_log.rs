//! The gateway's server span and access log, wrapped around every request (the gateway's own
//! endpoints included).
//!
//! The span (OpenTelemetry HTTP server conventions: `http.request.method`, `http.route` — the
//! route's template, `url.path`, `client.address`, `http.response.status_code`, failed on 5xx)
//! continues the client's W3C trace context when it sent a well-formed one, and its own context
//! replaces the client's `traceparent` before the request goes on, so the upstream call's spans
//! are its children. The request id is settled here too (the client's when sane, else a fresh
//! one, see [`metadata::request_id`]) and written into the request, so the proxy, the upstream
//! call and the response all carry the same one.
//!
//! One log line per request (target `talentmesh_gateway::access_log`, level info) when the
//! answer has been sent or abandoned: method, route, path, status, duration, bytes of the body
//! sent, client address, request id, trace and span ids. `RUST_LOG` filters it like any other
//! target (`talentmesh_gateway::access_log=off` silences it).

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use talentmesh_mesh::telemetry;
use tracing::field::Empty;
use tracing::Instrument as _;

use crate::gateway::Shared;
use crate::metadata::{self, X_CLIENT_IP, X_REQUEST_ID};
use crate::routes::RouteMatch;
use crate::upstream::Upstreams;
use crate::workers::ClientAddr;

/// The longest client `tracestate` continued (as W3C Trace Context recommends); a longer one is
/// ignored and the trace continues without it.
const MAX_TRACESTATE_BYTES: usize = 512;

/// Wraps the gateway's router: see the module documentation.
pub(crate) struct AccessLogLayer<U> {
    shared: Arc<Shared<U>>,
}

impl<U> AccessLogLayer<U> {
    pub(crate) fn new(shared: Arc<Shared<U>>) -> Self {
        AccessLogLayer { shared }
    }
}

impl<U> Clone for AccessLogLayer<U> {
    fn clone(&self) -> Self {
        AccessLogLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<S, U> tower::Layer<S> for AccessLogLayer<U> {
    type Service = AccessLog<S, U>;
    fn layer(&self, inner: S) -> Self::Service {
        AccessLog {
            inner,
            shared: self.shared.clone(),
        }
    }
}

pub(crate) struct AccessLog<S, U> {
    inner: S,
    shared: Arc<Shared<U>>,
}

impl<S: Clone, U> Clone for AccessLog<S, U> {
    fn clone(&self) -> Self {
        AccessLog {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S, U> tower::Service<Request<Body>> for AccessLog<S, U>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
    U: Upstreams,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let route = self.route_of(&method, &path);
        let request_id = metadata::request_id(request.headers());
        request
            .headers_mut()
            .insert(X_REQUEST_ID, request_id.clone());
        let client = self.client_ip(&request, &request_id);
        let span = tracing::info_span!(
            "http.request",
            otel.name = match &route {
                Some(route) => format!("{method} {route}"),
                None => method.to_string(),
            },
            otel.kind = "server",
            http.request.method = method.as_str(),
            http.route = route.as_deref(),
            url.path = path.as_str(),
            client.address = client.map(|ip| ip.to_string()),
            http.response.status_code = Empty,
            otel.status_code = Empty,
            request_id = request_id.to_str().unwrap_or_default(),
        );
        continue_trace(&span, request.headers_mut());
        let call = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(async move {
            let Ok(response) = call.instrument(span.clone()).await;
            let status = response.status().as_u16();
            span.record("http.response.status_code", status);
            if response.status().is_server_error() {
                span.record("otel.status_code", "error");
            }
            let entry = Entry {
                started,
                method,
                route,
                path,
                status,
                client,
                request_id,
                span,
            };
            Ok(response.map(|inner| {
                Body::new(Logged {
                    inner,
                    bytes: 0,
                    entry: Some(entry),
                })
            }))
        })
    }
}

impl<S, U: Upstreams> AccessLog<S, U> {
    /// The template of the route `method path` finds (`/v1/{parent=companies/*}/jobs`), or the
    /// path of one of the gateway's own endpoints; `None` for a path nothing serves.
    fn route_of(&self, method: &Method, path: &str) -> Option<String> {
        if matches!(path, "/healthz" | "/readyz" | "/openapi.json") {
            return Some(path.to_string());
        }
        match self.shared.routes.load().find(method, path) {
            RouteMatch::Found { route, .. } => Some(route.pattern.clone()),
            _ => None,
        }
    }

    /// The client's address as the services are told it (the peer, or what trusted proxies
    /// reported): the same rule as the upstream call's metadata.
    fn client_ip(&self, request: &Request<Body>, request_id: &HeaderValue) -> Option<IpAddr> {
        let client = request
            .extensions()
            .get::<ConnectInfo<ClientAddr>>()
            .map(|c| &c.0)?;
        let metadata = metadata::outgoing(
            request.headers(),
            request_id,
            Some(client),
            &self.shared.config.trusted_proxies,
        );
        metadata
            .into_headers()
            .get(&X_CLIENT_IP)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .or(Some(client.addr.ip()))
    }
}

/// Makes `span` a child of the client's trace context when it is well-formed (an oversized
/// `tracestate` is left out), then puts the span's own context in `headers` in its place. With
/// no tracing in the process the span has no context, and the client's headers stay as they are.
fn continue_trace(span: &tracing::Span, headers: &mut HeaderMap) {
    let mut incoming = HeaderMap::new();
    if let Some(traceparent) = headers.get("traceparent") {
        incoming.insert("traceparent", traceparent.clone());
        if let Some(state) = headers
            .get("tracestate")
            .filter(|v| v.len() <= MAX_TRACESTATE_BYTES)
        {
            incoming.insert("tracestate", state.clone());
        }
    }
    telemetry::adopt_parent(span, &incoming);
    let mut ours = HeaderMap::new();
    telemetry::inject(span, &mut ours);
    if ours.contains_key("traceparent") {
        headers.remove("tracestate");
        for (name, value) in ours.iter() {
            headers.insert(name.clone(), value.clone());
        }
    }
}

/// What the access log line says about a request, kept until its answer is done.
struct Entry {
    started: Instant,
    method: Method,
    /// The route template, `None` when no route matched.
    route: Option<String>,
    path: String,
    status: u16,
    client: Option<IpAddr>,
    request_id: HeaderValue,
    /// The request's span: it ends when the answer is done.
    span: tracing::Span,
}

impl Entry {
    fn write(&self, bytes: u64) {
        let ids = telemetry::ids_of(&self.span);
        let (trace_id, span_id) = match &ids {
            Some((trace, span)) => (trace.as_str(), span.as_str()),
            None => ("", ""),
        };
        // No parent: the ids are fields of the line itself, not of a span around it.
        tracing::info!(
            target: "talentmesh_gateway::access_log",
            parent: None,
            method = %self.method,
            route = self.route.as_deref().unwrap_or("-"),
            path = %self.path,
            status = self.status,
            duration_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            bytes,
            client_ip = %self.client.map(|ip| ip.to_string()).unwrap_or_else(|| "-".into()),
            request_id = self.request_id.to_str().unwrap_or_default(),
            trace_id,
            span_id,
            "request"
        );
    }
}

pin_project_lite::pin_project! {
    /// The answer's body, counting what is sent; the access log line is written when it is
    /// dropped (sent whole, or abandoned by the client).
    struct Logged {
        #[pin]
        inner: Body,
        bytes: u64,
        entry: Option<Entry>,
    }

    impl PinnedDrop for Logged {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(entry) = this.entry.take() {
                entry.write(*this.bytes);
            }
        }
    }
}

impl http_body::Body for Logged {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                *this.bytes += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use http_body_util::BodyExt as _;
    use opentelemetry::trace::TracerProvider as _;
    use tower::ServiceExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::{Gateway, GatewayConfig, StaticUpstreams};

    /// The fields of every access log line.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

    struct Fields(BTreeMap<String, String>);

    impl tracing::field::Visit for Fields {
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            self.0.insert(field.name().to_string(), value.to_string());
        }
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            self.0
                .insert(field.name().to_string(), format!("{value:?}"));
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Lines {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if event.metadata().target() == "talentmesh_gateway::access_log" {
                let mut fields = Fields(BTreeMap::new());
                event.record(&mut fields);
                self.0.lock().unwrap().push(fields.0);
            }
        }
    }

    #[tokio::test]
    async fn every_request_is_one_access_log_line_with_its_trace() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(lines.clone());
        // The test's runtime is this one thread, so the thread's default sees every request.
        let _default = tracing::subscriber::set_default(subscriber);
        let gateway = Gateway::new(GatewayConfig::default(), StaticUpstreams::new()).unwrap();
        let router = gateway.router();

        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let healthz = router
            .clone()
            .oneshot(
                Request::get("/healthz")
                    .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
                    .header(X_REQUEST_ID, "rid-1")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(healthz.status(), 200);
        let sent = healthz.into_body().collect().await.unwrap().to_bytes();
        // A route whose service has no instance: the status is the gateway's 503.
        let create = router
            .clone()
            .oneshot(
                Request::post("/v1/companies")
                    .header("content-type", "application/json")
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = create.status().as_u16();
        let generated = create.headers()[X_REQUEST_ID].to_str().unwrap().to_string();
        drop(create.into_body().collect().await.unwrap());

        let lines = lines.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let field = |i: usize, key: &str| lines[i].get(key).cloned().unwrap_or_default();
        assert_eq!(field(0, "method"), "GET");
        assert_eq!(field(0, "route"), "/healthz");
        assert_eq!(field(0, "status"), "200");
        assert_eq!(field(0, "bytes"), sent.len().to_string());
        assert_eq!(field(0, "request_id"), "rid-1");
        assert_eq!(field(0, "trace_id"), trace_id);
        assert_eq!(field(0, "span_id").len(), 16);
        assert!(field(0, "duration_ms").parse::<f64>().unwrap() >= 0.0);
        // No connection info in this test: the client is unknown.
        assert_eq!(field(0, "client_ip"), "-");

        assert_eq!(field(1, "method"), "POST");
        assert_eq!(field(1, "route"), "/v1/companies");
        assert_eq!(field(1, "status"), status.to_string());
        assert_eq!(field(1, "request_id"), generated);
        let other_trace = field(1, "trace_id");
        assert!(
            other_trace.len() == 32 && other_trace != trace_id,
            "{other_trace}"
        );
    }
}
