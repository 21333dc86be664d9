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
//!
//! Files: `env.rs` reads the `OTEL_*` environment; `propagation.rs` carries W3C trace context
//! and the request id in headers; `rpc.rs` makes the server and client span of a gRPC call and
//! `status.rs` records its status; `events.rs` makes the producer and consumer spans of outbox
//! events; `logs.rs` formats log lines with their trace and span ids. This file installs it all.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, MeshConfig};

mod env;
mod events;
mod logs;
mod propagation;
mod rpc;
mod status;
#[cfg(test)]
mod test_support;

pub use env::{OtelConfig, Propagator};
pub use events::{continue_events, event_created};
pub use propagation::{
    adopt_parent, context_of, current_request_id, current_traceparent, extract, ids_of, inject,
    inject_current, RequestId, X_REQUEST_ID,
};
pub use rpc::{client_span, is_health_check, server_span};
pub use status::{observe_response, record_failure, record_grpc_status};

use logs::{log_layer, TraceIds};

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
    propagation::install(&otel.propagators);

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
