//! What the span tests of this module share: a tracing subscriber whose spans are exported as
//! they end, lookups into the exported spans, and a gRPC answer with its status in trailers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use http::HeaderMap;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// Keeps the spans the SDK exports.
#[derive(Debug, Clone, Default)]
struct Exported(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

impl opentelemetry_sdk::trace::SpanExporter for Exported {
    fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        self.0.lock().unwrap().extend(batch);
        std::future::ready(Ok(()))
    }
}

/// Runs `f` with a tracing subscriber whose spans are exported as they end; returns what
/// `f` returned and the spans.
pub(super) fn traced<R>(f: impl FnOnce() -> R) -> (R, Vec<opentelemetry_sdk::trace::SpanData>) {
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

pub(super) fn named<'a>(
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

pub(super) fn attribute(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// An answer whose gRPC status comes in its trailers.
pub(super) fn answer_with_trailers(code: &str, message: &str) -> http::Response<tonic::body::Body> {
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
