//! With an OTLP endpoint configured, spans leave the process over OTLP/gRPC. The receiver here
//! is a real OTLP collector endpoint (the trace service of the OTLP protocol) that keeps what it
//! is sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use talentmesh_mesh::config::{Env, MeshConfig};
use talentmesh_mesh::telemetry;
use tokio::sync::mpsc;

struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_when_an_endpoint_is_configured() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(tx)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let mut env = Env::from_map([("TALENTMESH_OTLP_ENDPOINT", format!("http://{addr}"))]);
    let config = MeshConfig::load(&mut env, "otlp-test", 0);
    env.finish().unwrap();
    let guard = telemetry::init(&config).unwrap();
    tracing::info_span!("exported_span", rpc.method = "/x.Y/Z").in_scope(|| {
        tracing::info!("inside");
    });
    // Dropping the guard shuts the provider down, which flushes the batch.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();

    let request = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the collector received an export")
        .unwrap();
    let spans: Vec<String> = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect();
    assert!(spans.iter().any(|n| n == "exported_span"), "{spans:?}");
    let service_name = request.resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|a| a.key == "service.name")
        .and_then(|a| a.value.as_ref())
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    assert!(service_name.contains("otlp-test"), "{service_name}");
}
