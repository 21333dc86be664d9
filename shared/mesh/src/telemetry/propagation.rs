//! W3C trace context (and baggage) in and out of HTTP/2 headers, with the propagators
//! `OTEL_PROPAGATORS` chose, and the request id that travels with a call. Every span maker of
//! this module (RPC, event) passes its context on through here.

use std::sync::OnceLock;

use http::HeaderMap;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{OtelConfig, Propagator};

/// The propagators of this process: set once by [`init`](super::init), W3C Trace Context and
/// Baggage until then (tests that never call it still pass trace context on).
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

/// Sets this process's propagators (the first call wins for [`propagator`]) and OpenTelemetry's
/// global one; called by [`init`](super::init) and
/// [`init_for_tests_with`](super::init_for_tests_with).
pub(super) fn install(propagators: &[Propagator]) {
    let _ = PROPAGATOR.set(composite(propagators));
    opentelemetry::global::set_text_map_propagator(composite(propagators));
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
/// span (and so of every span under it): [`client_span`](super::client_span) sends it on as
/// `x-request-id`.
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
