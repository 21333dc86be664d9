//! Logs and traces. Structured logs go through `tracing` (JSON by default, each line with the
//! `trace_id` and `span_id` of the span it was written in); spans are bridged to OpenTelemetry
//! so W3C trace context is taken from every incoming RPC and passed on with every outgoing call
//! and event, and exported over OTLP/gRPC when an endpoint is configured.
//!
//! Where the spans come from, following OpenTelemetry's semantic conventions:
//! - a server span per RPC ([`server_span`], put on every server by `server::TraceLayer`), named
//!   after the method (`talentmesh.job.v1.JobService/CreateJob`) with the `rpc.*`, `server.*` and
//!   `network.peer.*` attributes and the gRPC status (read from the trailers);
//! - a client span per call through a mesh channel ([`client_span`], `discovery::MeshChannel`),
//!   whose context travels in the call's `traceparent`, with the request id;
//! - a producer span per event recorded in the outbox ([`event_created`]), whose context the
//!   event's envelope carries, and a consumer span per delivery ([`continue_events`]) that is its
//!   child (the first event of a batch) or linked to it (the others);
//! - the gateway's server span per HTTP request (`gateway/src/access_log.rs`).
//!
//! Configuration is the standard `OTEL_*` environment ([`OtelConfig`]); what the SDK reads
//! itself (the sampler, resource attributes, batch and span limits) it keeps reading itself.

use std::sync::OnceLock;

use http::HeaderMap;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::field::Empty;
use tracing::{Event, Subscriber};
use tracing_opentelemetry::{OpenTelemetrySpanExt, OtelData};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Env, LogFormat, MeshConfig};

/// Keeps the tracer provider alive; dropping it flushes spans still buffered for export.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports the spans ended so far now rather than at the next batch. Blocks until the
    /// exporter answered: call it from a blocking thread inside a runtime.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// The standard OpenTelemetry environment, as far as this process acts on it
/// (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>).
///
/// Read here: `OTEL_SDK_DISABLED` (`true`: nothing is recorded or exported; trace ids still pass
/// through), `OTEL_TRACES_EXPORTER` (`otlp`, the default, or `none`),
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and then `OTEL_EXPORTER_OTLP_ENDPOINT` (then the older
/// `TALENTMESH_OTLP_ENDPOINT`): spans are exported only when one is set, to that URL over gRPC;
/// `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (only `grpc` is built in), and `OTEL_PROPAGATORS`
/// (`tracecontext` and `baggage`, the default, or `none`).
///
/// Read by the SDK itself from the process environment: `OTEL_SERVICE_NAME` and
/// `OTEL_RESOURCE_ATTRIBUTES` (the service's own name is used when neither names it),
/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`, `OTEL_SPAN_*_LIMIT`,
/// `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_COMPRESSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelConfig {
    pub sdk_disabled: bool,
    /// Where spans go over OTLP/gRPC; `None` keeps them in the process.
    pub traces_endpoint: Option<String>,
    pub propagators: Vec<Propagator>,
}

/// A context propagation format of `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C Trace Context: `traceparent`, `tracestate`.
    TraceContext,
    /// W3C Baggage: `baggage`.
    Baggage,
}

impl OtelConfig {
    /// Reads the `OTEL_*` settings listed on [`OtelConfig`], recording problems in `env`.
    pub fn load(env: &mut Env) -> OtelConfig {
        let sdk_disabled = env
            .optional("OTEL_SDK_DISABLED")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let mut export = true;
        for exporter in list(&env.string("OTEL_TRACES_EXPORTER", "otlp")) {
            match exporter.as_str() {
                "otlp" => {}
                "none" => export = false,
                other => env.problem(format!(
                    "OTEL_TRACES_EXPORTER: `{other}` is not supported (otlp or none)"
                )),
            }
        }
        for key in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = env.optional(key) {
                if protocol.trim() != "grpc" {
                    env.problem(format!(
                        "{key}: `{protocol}` is not supported (only grpc is built in)"
                    ));
                }
                break;
            }
        }
        let endpoint = env
            .optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| env.optional("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .or_else(|| env.optional("TALENTMESH_OTLP_ENDPOINT"));
        let mut propagators = Vec::new();
        for name in list(&env.string("OTEL_PROPAGATORS", "tracecontext,baggage")) {
            let propagator = match name.as_str() {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "none" => continue,
                other => {
                    env.problem(format!(
                        "OTEL_PROPAGATORS: `{other}` is not supported (tracecontext, baggage or none)"
                    ));
                    continue;
                }
            };
            if !propagators.contains(&propagator) {
                propagators.push(propagator);
            }
        }
        OtelConfig {
            sdk_disabled,
            traces_endpoint: endpoint.filter(|_| export && !sdk_disabled),
            propagators,
        }
    }
}

impl Default for OtelConfig {
    fn default() -> Self {
        OtelConfig {
            sdk_disabled: false,
            traces_endpoint: None,
            propagators: vec![Propagator::TraceContext, Propagator::Baggage],
        }
    }
}

/// The comma-separated, trimmed, lower-case entries of an `OTEL_*` list.
fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The propagators of this process: set once by [`init`], W3C Trace Context and Baggage until
/// then (tests that never call it still pass trace context on).
static PROPAGATOR: OnceLock<TextMapCompositePropagator> = OnceLock::new();

fn composite(propagators: &[Propagator]) -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(
        propagators
            .iter()
            .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
                match p {
                    Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                    Propagator::Baggage => Box::new(BaggagePropagator::new()),
                }
            })
            .collect(),
    )
}

fn propagator() -> &'static TextMapCompositePropagator {
    PROPAGATOR.get_or_init(|| composite(&OtelConfig::default().propagators))
}

/// Where log lines go.
enum Sink {
    Stdout(LogFormat),
    /// Captured by the test harness; quiet unless `TEST_LOG` is set.
    Tests,
}

/// Installs the global subscriber once per process. Filters come from `RUST_LOG` (default
/// `info`). Test binaries call [`init_for_tests`] instead.
///
/// # Errors
/// The OTLP exporter cannot be built (a malformed endpoint).
pub fn init(config: &MeshConfig) -> anyhow::Result<TelemetryGuard> {
    install(config, Sink::Stdout(config.log_format))
}

/// Like [`init`] for a test process: spans are exported as `config` says, logs are quiet unless
/// `TEST_LOG` is set. Call it before anything else installs a subscriber (the first one wins).
///
/// # Errors
/// The OTLP exporter cannot be built (a malformed endpoint).
pub fn init_for_tests_with(config: &MeshConfig) -> anyhow::Result<TelemetryGuard> {
    install(config, Sink::Tests)
}

fn install(config: &MeshConfig, sink: Sink) -> anyhow::Result<TelemetryGuard> {
    let otel = &config.otel;
    let _ = PROPAGATOR.set(composite(&otel.propagators));
    opentelemetry::global::set_text_map_propagator(composite(&otel.propagators));

    // The SDK's default resource reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the
    // service's own name applies only when neither gave one.
    let detected = opentelemetry_sdk::Resource::builder().build();
    let mut resource = opentelemetry_sdk::Resource::builder();
    let named = detected
        .get(&opentelemetry::Key::new("service.name"))
        .is_some_and(|v| v.as_str() != "unknown_service");
    if !named {
        resource = resource.with_service_name(config.service_name.clone());
    }
    let resource = resource
        .with_attributes([
            opentelemetry::KeyValue::new("service.version", config.version.clone()),
            opentelemetry::KeyValue::new("service.instance.id", config.instance_id.clone()),
        ])
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if otel.sdk_disabled {
        // Nothing is recorded; span and trace ids are still made, so context still passes on.
        builder = builder.with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff);
    }
    if let Some(endpoint) = otel.traces_endpoint.clone() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    // Without an exporter the provider still mints span and trace ids, so context propagates
    // across hops even when nothing is exported.
    let provider = builder.build();
    let tracer = provider.tracer(config.service_name.clone());
    // Traces and logs are filtered apart: RUST_LOG quiets logs without breaking the trace
    // context that spans carry from hop to hop.
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(spans);
    let result = match sink {
        Sink::Stdout(format) => {
            let filter =
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
            registry
                .with(log_layer(format, std::io::stdout).with_filter(filter))
                .try_init()
        }
        Sink::Tests => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .event_format(TraceIds::text())
                    .with_filter(test_filter()),
            )
            .try_init(),
    };
    if let Err(e) = result {
        // A second init in one process (tests) keeps the first subscriber.
        tracing::debug!(error = %e, "telemetry already initialised");
    }
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

fn test_filter() -> EnvFilter {
    if std::env::var_os("TEST_LOG").is_some() {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"))
    } else {
        EnvFilter::new("off")
    }
}

/// The log layer of `format` writing to `writer`: JSON lines (fields flattened, with
/// `trace_id` and `span_id` first) or text lines (ending in `trace_id=… span_id=…`).
fn log_layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .event_format(TraceIds::json())
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .event_format(TraceIds::text())
            .boxed(),
    }
}

/// Quiet unless `TEST_LOG` is set; safe to call from every test.
pub fn init_for_tests() {
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("test");
    let _ = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(LevelFilter::INFO),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .event_format(TraceIds::text())
                .with_filter(test_filter()),
        )
        .try_init();
}

/// An event format that adds the trace and span ids of the innermost traced span around the
/// event to the line the wrapped format writes: first fields of a JSON object, or the end of a
/// text line. Lines outside any span are written unchanged.
struct TraceIds<F> {
    inner: F,
    json: bool,
}

impl TraceIds<tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>> {
    fn json() -> Self {
        TraceIds {
            inner: tracing_subscriber::fmt::format().json().flatten_event(true),
            json: true,
        }
    }
}

impl TraceIds<tracing_subscriber::fmt::format::Format> {
    fn text() -> Self {
        TraceIds {
            inner: tracing_subscriber::fmt::format().with_ansi(false),
            json: false,
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        // The innermost span the OpenTelemetry layer saw (debug spans are not traced).
        let ids = ctx.event_scope().and_then(|scope| {
            scope.into_iter().find_map(|span| {
                let extensions = span.extensions();
                let data = extensions.get::<OtelData>()?;
                let (trace, span) = (data.trace_id()?, data.span_id()?);
                (trace != opentelemetry::TraceId::INVALID).then_some((trace, span))
            })
        });
        let Some((trace_id, span_id)) = ids else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        if self.json {
            match line.strip_prefix('{') {
                Some(rest) => write!(
                    writer,
                    "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
                ),
                None => writer.write_str(&line),
            }
        } else {
            let body = line.strip_suffix('\n').unwrap_or(&line);
            writeln!(writer, "{body} trace_id={trace_id} span_id={span_id}")
        }
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // An empty `tracestate` says nothing; it is left out.
        if value.is_empty() {
            return;
        }
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes the current span's trace context (`traceparent`, `tracestate`) into outgoing headers.
pub fn inject_current(headers: &mut HeaderMap) {
    inject(&tracing::Span::current(), headers);
}

/// Writes `span`'s trace context into `headers`; writes nothing when it has none (no
/// OpenTelemetry layer in this process).
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let cx = span.context();
    propagator().inject_context(&cx, &mut HeaderInjector(headers));
}

/// The remote context carried by `headers`, when they carry a valid one.
pub fn extract(headers: &HeaderMap) -> Option<opentelemetry::Context> {
    let cx = propagator().extract(&HeaderExtractor(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `span` a child of the trace context carried by incoming `headers`, if any; says
/// whether it did. Call it before the span is first entered.
pub fn adopt_parent(span: &tracing::Span, headers: &HeaderMap) -> bool {
    match extract(headers) {
        Some(cx) => span.set_parent(cx).is_ok(),
        None => false,
    }
}

/// The current `traceparent` value, for events recorded in the outbox.
pub fn current_traceparent() -> Option<String> {
    let mut headers = HeaderMap::new();
    inject_current(&mut headers);
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `span`'s `(trace_id, span_id)` in hex, when it is traced.
pub fn ids_of(span: &tracing::Span) -> Option<(String, String)> {
    let cx = span.context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// The request id of the call being served, carried in the OpenTelemetry context of its server
/// span (and so of every span under it): [`client_span`] sends it on as `x-request-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The request id of the call this code runs for, if any.
pub fn current_request_id() -> Option<String> {
    opentelemetry::Context::current()
        .get::<RequestId>()
        .map(|id| id.0.clone())
}

/// The `x-request-id` header.
pub const X_REQUEST_ID: &str = "x-request-id";

/// `/pkg.Service/Method` as (`pkg.Service`, `Method`).
fn split_method(path: &str) -> (&str, &str) {
    let name = path.strip_prefix('/').unwrap_or(path);
    name.split_once('/').unwrap_or((name, ""))
}

/// Whether `path` is a health check (Consul and Kubernetes probes every second): those get no
/// span, so traces show calls, not probes.
pub fn is_health_check(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

/// The server span of an incoming gRPC call: named after the method
/// (`talentmesh.job.v1.JobService/CreateJob`), kind server, with `rpc.system`, `rpc.service`,
/// `rpc.method`, `server.address`/`server.port` (the local socket), `network.peer.address`/
/// `network.peer.port` and `request_id`; a child of the caller's trace context. The request id
/// goes into the span's context ([`current_request_id`]). The status is recorded by
/// [`observe_response`].
pub fn server_span<B>(req: &http::Request<B>) -> tracing::Span {
    let path = req.uri().path();
    let (service, method) = split_method(path);
    let span = tracing::info_span!(
        "rpc",
        otel.name = path.strip_prefix('/').unwrap_or(path),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
        server.address = Empty,
        server.port = Empty,
        network.peer.address = Empty,
        network.peer.port = Empty,
        request_id = Empty,
    );
    let tcp = req
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .cloned()
        .or_else(|| {
            req.extensions()
                .get::<crate::connect::ConnectInfo>()
                .map(|c| c.tcp.clone())
        });
    if let Some(tcp) = tcp {
        if let Some(local) = tcp.local_addr() {
            span.record("server.address", local.ip().to_string());
            span.record("server.port", local.port());
        }
        if let Some(peer) = tcp.remote_addr() {
            span.record("network.peer.address", peer.ip().to_string());
            span.record("network.peer.port", peer.port());
        }
    }
    let mut cx = extract(req.headers());
    if let Some(id) = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    {
        span.record("request_id", id);
        cx = Some(cx.unwrap_or_default().with_value(RequestId(id.to_string())));
    }
    if let Some(cx) = cx {
        let _ = span.set_parent(cx);
    }
    span
}

/// The client span of an outgoing gRPC call to mesh service `peer`, child of the trace context
/// the request already carries or else of the current span; its context replaces the request's
/// `traceparent`, and the current request id is added as `x-request-id` when the request has
/// none. The status is recorded by [`observe_response`] or [`record_failure`].
pub fn client_span<B>(req: &mut http::Request<B>, peer: &str) -> tracing::Span {
    let path = req.uri().path();
    let (service, method) = split_method(path);
    let span = tracing::info_span!(
        "rpc.client",
        otel.name = path.strip_prefix('/').unwrap_or(path),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        server.address = peer,
        rpc.grpc.status_code = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    if let Some(cx) = extract(req.headers()) {
        let _ = span.set_parent(cx);
    }
    inject(&span, req.headers_mut());
    if !req.headers().contains_key(X_REQUEST_ID) {
        if let Some(id) = current_request_id().and_then(|id| http::HeaderValue::from_str(&id).ok())
        {
            req.headers_mut().insert(X_REQUEST_ID, id);
        }
    }
    span
}

/// Records gRPC status `code` (and its message) on an RPC span. Server spans are marked failed
/// only for codes that are the server's fault (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
/// INTERNAL, UNAVAILABLE, DATA_LOSS), client spans for every code but OK, as OpenTelemetry's
/// gRPC conventions say.
pub fn record_grpc_status(span: &tracing::Span, code: i32, message: Option<&str>, server: bool) {
    span.record("rpc.grpc.status_code", i64::from(code));
    let failed = if server {
        matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
    } else {
        code != 0
    };
    if failed {
        span.record("otel.status_code", "error");
        if let Some(message) = message {
            span.record("otel.status_description", message);
        }
    }
}

/// Records a call that failed without a gRPC answer (or with a status as its error).
pub fn record_failure(span: &tracing::Span, error: &(dyn std::error::Error + 'static)) {
    match error.downcast_ref::<tonic::Status>() {
        Some(status) => {
            record_grpc_status(span, status.code() as i32, Some(status.message()), false)
        }
        None => {
            span.record("otel.status_code", "error");
            span.record("otel.status_description", error.to_string());
        }
    }
}

/// The status carried by gRPC headers or trailers, if they have one.
fn grpc_status(headers: &HeaderMap) -> Option<(i32, Option<&str>)> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = headers.get("grpc-message").and_then(|v| v.to_str().ok());
    Some((code, message))
}

/// Watches `response` for its gRPC status: at once when the headers carry it (a trailers-only
/// answer), else from the trailers as the body ends. `span` lives as long as the body does, so
/// the RPC's span ends when its answer has been sent (or dropped).
pub fn observe_response(
    span: tracing::Span,
    response: http::Response<tonic::body::Body>,
    server: bool,
) -> http::Response<tonic::body::Body> {
    let mut done = false;
    if let Some((code, message)) = grpc_status(response.headers()) {
        record_grpc_status(&span, code, message, server);
        done = true;
    }
    response.map(|inner| {
        tonic::body::Body::new(StatusBody {
            inner,
            span,
            server,
            done,
        })
    })
}

pin_project_lite::pin_project! {
    /// A response body that records the gRPC status of its trailers on the RPC's span.
    struct StatusBody {
        #[pin]
        inner: tonic::body::Body,
        span: tracing::Span,
        server: bool,
        done: bool,
    }
}

impl http_body::Body for StatusBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if !*this.done {
            if let std::task::Poll::Ready(Some(Ok(frame))) = &polled {
                if let Some((code, message)) = frame.trailers_ref().and_then(grpc_status) {
                    record_grpc_status(this.span, code, message, *this.server);
                    *this.done = true;
                }
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

/// The context of a `traceparent` (and `tracestate`) written by [`current_traceparent`] or an
/// event's envelope.
pub fn context_of(traceparent: &str, tracestate: &str) -> Option<opentelemetry::Context> {
    if traceparent.is_empty() {
        return None;
    }
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", traceparent.parse().ok()?);
    if let Ok(v) = tracestate.parse() {
        headers.insert("tracestate", v);
    }
    extract(&headers)
}

/// The producer span of an event recorded in the outbox: a child of the request's context
/// (`traceparent`, `tracestate` as the draft carried them), kind producer, named
/// `create <event type>`, with the messaging attributes. Returns the `(traceparent, tracestate)`
/// the envelope carries: the producer span's, or what was given when there is no trace.
pub fn event_created(
    traceparent: &str,
    tracestate: &str,
    event_type: &str,
    source: &str,
    event_id: &str,
) -> (String, String) {
    let given = || (traceparent.to_string(), tracestate.to_string());
    let Some(parent) = context_of(traceparent, tracestate) else {
        return given();
    };
    let span = tracing::info_span!(
        parent: None,
        "event.create",
        otel.name = format!("create {event_type}"),
        otel.kind = "producer",
        messaging.system = "redis",
        messaging.operation.type = "create",
        messaging.message.id = event_id,
        talentmesh.event.type = event_type,
        talentmesh.event.source = source,
    );
    if span.set_parent(parent).is_err() {
        return given();
    }
    let mut headers = HeaderMap::new();
    inject(&span, &mut headers);
    let read = |key: &str| {
        headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match read("traceparent") {
        Some(tp) => (tp, read("tracestate").unwrap_or_default()),
        None => given(),
    }
}

/// Makes a consumer's span continue the events it handles: a child of the first event's
/// producer span, linked to the others' (`(traceparent, tracestate)` of each envelope). Call it
/// before the span is first entered.
pub fn continue_events<'a>(
    span: &tracing::Span,
    contexts: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let mut parented = false;
    for (traceparent, tracestate) in contexts {
        let Some(cx) = context_of(traceparent, tracestate) else {
            continue;
        };
        if parented {
            span.add_link(cx.span().span_context().clone());
        } else {
            parented = span.set_parent(cx).is_ok();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into a shared buffer, to read log lines back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    /// Logs one line inside a traced span and one outside, in `format`; returns the lines and
    /// the span's ids.
    fn logged(format: LogFormat) -> (Vec<String>, (String, String)) {
        let provider = SdkTracerProvider::builder().build();
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("test"))
                    .with_filter(LevelFilter::INFO),
            )
            .with(log_layer(format, captured.clone()));
        let ids = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("work", request_id = "r-1");
            let ids = ids_of(&span).expect("a traced span");
            span.in_scope(|| {
                // A debug span is not traced: its lines carry the traced parent's ids.
                tracing::debug_span!("detail").in_scope(|| tracing::info!(n = 1, "inside"));
            });
            tracing::info!("outside");
            ids
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        (text.lines().map(str::to_string).collect(), ids)
    }

    #[test]
    fn json_lines_carry_the_trace_and_span_ids_as_fields() {
        let (lines, (trace_id, span_id)) = logged(LogFormat::Json);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let inside: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(inside["trace_id"], trace_id.as_str(), "{inside}");
        assert_eq!(inside["span_id"], span_id.as_str(), "{inside}");
        assert_eq!(inside["message"], "inside");
        assert_eq!(inside["n"], 1);
        let outside: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert!(outside.get("trace_id").is_none(), "{outside}");
        assert_eq!(outside["message"], "outside");
    }

    #[test]
    fn text_lines_carry_the_trace_and_span_ids() {
        let (lines, (trace_id, span_id)) = logged(LogFormat::Pretty);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("inside")
                && lines[0].ends_with(&format!("trace_id={trace_id} span_id={span_id}")),
            "{}",
            lines[0]
        );
        assert!(!lines[1].contains("trace_id="), "{}", lines[1]);
    }

    #[test]
    fn otel_environment_is_read() {
        let load = |vars: &[(&str, &str)]| {
            let mut env = Env::from_map(vars.iter().map(|(k, v)| (*k, *v)));
            let config = OtelConfig::load(&mut env);
            env.finish().map(|()| config)
        };
        assert_eq!(load(&[]).unwrap(), OtelConfig::default());
        let both = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
            ("OTEL_PROPAGATORS", "tracecontext"),
        ])
        .unwrap();
        assert_eq!(both.traces_endpoint.as_deref(), Some("http://traces:4317"));
        assert_eq!(both.propagators, vec![Propagator::TraceContext]);
        let general = load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")]).unwrap();
        assert_eq!(
            general.traces_endpoint.as_deref(),
            Some("http://collector:4317")
        );
        for off in [
            [("OTEL_SDK_DISABLED", "true")],
            [("OTEL_TRACES_EXPORTER", "none")],
        ] {
            let mut vars = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")];
            vars.extend(off);
            assert_eq!(load(&vars).unwrap().traces_endpoint, None, "{off:?}");
        }
        assert!(load(&[("OTEL_PROPAGATORS", "none")])
            .unwrap()
            .propagators
            .is_empty());
        for bad in [
            ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ] {
            let problems = load(&[bad]).err().map(|e| e.problems.join(";"));
            assert!(problems.is_some_and(|p| p.contains(bad.0)), "{bad:?}");
        }
    }

    /// Keeps the spans the SDK exports.
    #[derive(Debug, Clone, Default)]
    struct Exported(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

    impl opentelemetry_sdk::trace::SpanExporter for Exported {
        fn export(
            &self,
            batch: Vec<opentelemetry_sdk::trace::SpanData>,
        ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send
        {
            self.0.lock().unwrap().extend(batch);
            std::future::ready(Ok(()))
        }
    }

    /// Runs `f` with a tracing subscriber whose spans are exported as they end; returns what
    /// `f` returned and the spans.
    fn traced<R>(f: impl FnOnce() -> R) -> (R, Vec<opentelemetry_sdk::trace::SpanData>) {
        let exported = Exported::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exported.clone())
            .build();
        let subscriber = tracing_subscriber::registry().with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("test"))
                .with_filter(LevelFilter::INFO),
        );
        let result = tracing::subscriber::with_default(subscriber, f);
        let spans = exported.0.lock().unwrap().clone();
        (result, spans)
    }

    fn named<'a>(
        spans: &'a [opentelemetry_sdk::trace::SpanData],
        name: &str,
    ) -> &'a opentelemetry_sdk::trace::SpanData {
        let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
        assert_eq!(
            found.len(),
            1,
            "{name} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        found[0]
    }

    fn attribute(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }

    /// An answer whose gRPC status comes in its trailers.
    fn answer_with_trailers(code: &str, message: &str) -> http::Response<tonic::body::Body> {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", code.parse().unwrap());
        trailers.insert("grpc-message", message.parse().unwrap());
        let frames = vec![
            Ok::<_, tonic::Status>(http_body::Frame::data(bytes::Bytes::from_static(b"x"))),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        http::Response::new(tonic::body::Body::new(http_body_util::StreamBody::new(
            futures::stream::iter(frames),
        )))
    }

    #[test]
    fn rpc_spans_are_named_after_the_method_and_carry_status_and_request_id() {
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let (onward, spans) = traced(|| {
            let incoming = http::Request::builder()
                .uri("/talentmesh.test.v1.TestService/Call")
                .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
                .header(X_REQUEST_ID, "req-7")
                .body(())
                .unwrap();
            let server = server_span(&incoming);
            let onward = server.in_scope(|| {
                let mut call = http::Request::builder()
                    .uri("/talentmesh.other.v1.OtherService/Get")
                    .body(())
                    .unwrap();
                let client = client_span(&mut call, "other");
                // A trailers-only answer: the status is in the headers.
                let refused = http::Response::builder()
                    .header("grpc-status", "5")
                    .body(tonic::body::Body::empty())
                    .unwrap();
                drop(observe_response(client, refused, false));
                let header = |k: &str| call.headers()[k].to_str().unwrap().to_string();
                (header("traceparent"), header(X_REQUEST_ID))
            });
            let answer = observe_response(server, answer_with_trailers("13", "boom"), true);
            futures::executor::block_on(http_body_util::BodyExt::collect(answer.into_body()))
                .unwrap();
            onward
        });
        let server = named(&spans, "talentmesh.test.v1.TestService/Call");
        assert_eq!(server.span_kind, opentelemetry::trace::SpanKind::Server);
        assert_eq!(server.span_context.trace_id().to_string(), trace_id);
        assert_eq!(server.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(server.status, opentelemetry::trace::Status::error("boom"));
        for (key, value) in [
            ("rpc.system", "grpc"),
            ("rpc.service", "talentmesh.test.v1.TestService"),
            ("rpc.method", "Call"),
            ("rpc.grpc.status_code", "13"),
            ("request_id", "req-7"),
        ] {
            assert_eq!(attribute(server, key).as_deref(), Some(value), "{key}");
        }
        let client = named(&spans, "talentmesh.other.v1.OtherService/Get");
        assert_eq!(client.span_kind, opentelemetry::trace::SpanKind::Client);
        assert_eq!(client.parent_span_id, server.span_context.span_id());
        // NOT_FOUND fails a client span (a server's is not its fault, see below).
        assert!(matches!(
            client.status,
            opentelemetry::trace::Status::Error { .. }
        ));
        assert_eq!(
            attribute(client, "server.address").as_deref(),
            Some("other")
        );
        assert_eq!(
            onward,
            (
                format!("00-{trace_id}-{}-01", client.span_context.span_id()),
                "req-7".to_string()
            )
        );
    }

    #[test]
    fn a_client_error_is_not_a_failed_server_span() {
        let ((), spans) = traced(|| {
            let incoming = http::Request::builder()
                .uri("/talentmesh.test.v1.TestService/Get")
                .body(())
                .unwrap();
            let answer = observe_response(
                server_span(&incoming),
                answer_with_trailers("5", "no such thing"),
                true,
            );
            futures::executor::block_on(http_body_util::BodyExt::collect(answer.into_body()))
                .unwrap();
        });
        let server = named(&spans, "talentmesh.test.v1.TestService/Get");
        assert_eq!(
            attribute(server, "rpc.grpc.status_code").as_deref(),
            Some("5")
        );
        assert_eq!(server.status, opentelemetry::trace::Status::Unset);
    }

    #[test]
    fn a_consumer_span_is_the_child_of_the_first_events_producer_and_linked_to_the_others() {
        let request = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let (first, spans) = traced(|| {
            let first = event_created(request, "", "x.v1.Changed", "x", "e-1");
            let span = tracing::info_span!("consume", otel.kind = "consumer");
            continue_events(&span, [(first.0.as_str(), ""), ("", ""), (other, "")]);
            drop(span);
            first
        });
        let producer = named(&spans, "create x.v1.Changed");
        assert_eq!(producer.span_kind, opentelemetry::trace::SpanKind::Producer);
        assert_eq!(producer.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(
            first.0,
            format!(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
                producer.span_context.span_id()
            )
        );
        let consumer = named(&spans, "consume");
        assert_eq!(consumer.parent_span_id, producer.span_context.span_id());
        let links: Vec<String> = consumer
            .links
            .iter()
            .map(|l| l.span_context.trace_id().to_string())
            .collect();
        assert_eq!(links, vec!["0af7651916cd43dd8448eb211c80319c".to_string()]);
    }

    #[test]
    fn method_paths_split_into_service_and_method() {
        assert_eq!(
            split_method("/talentmesh.job.v1.JobService/CreateJob"),
            ("talentmesh.job.v1.JobService", "CreateJob")
        );
        assert_eq!(split_method("/odd"), ("odd", ""));
    }
}
