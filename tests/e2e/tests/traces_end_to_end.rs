//! One request is one trace: a REST call through the gateway to the company service, the event
//! the company service records in its outbox, and the matching service consuming that event all
//! reach an OTLP receiver as spans of the client's trace, each the child of the one before.
//!
//! The receiver is a real OTLP/gRPC trace service (opentelemetry-proto's) in this process; the
//! mesh runs in this process too, with telemetry pointed at it through `OTEL_EXPORTER_OTLP_ENDPOINT`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use talentmesh_e2e::Mesh;
use talentmesh_mesh::config::{Env, MeshConfig};
use talentmesh_mesh::telemetry;
use talentmesh_testkit::eventually_value;

/// Keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.0.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A string or integer attribute of `span`, as text.
fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

fn kind(span: &Span) -> SpanKind {
    SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified)
}

/// The spans of one trace, as the test reads them.
struct Trace(Vec<Span>);

impl Trace {
    fn one(&self, what: &str, pick: impl Fn(&Span) -> bool) -> Option<&Span> {
        let found: Vec<&Span> = self.0.iter().filter(|s| pick(s)).collect();
        assert!(
            found.len() <= 1,
            "more than one {what}: {:?}",
            names(&found)
        );
        found.first().copied()
    }

    fn by_id(&self, id: &[u8]) -> Option<&Span> {
        self.0.iter().find(|s| s.span_id == id)
    }

    /// Whether `ancestor` is `span`'s parent, grandparent, … within this trace.
    fn descends_from(&self, span: &Span, ancestor: &Span) -> bool {
        let mut current = span;
        for _ in 0..64 {
            if current.parent_span_id == ancestor.span_id {
                return true;
            }
            match self.by_id(&current.parent_span_id) {
                Some(parent) => current = parent,
                None => return false,
            }
        }
        false
    }
}

fn names(spans: &[&Span]) -> Vec<String> {
    spans
        .iter()
        .map(|s| format!("{} ({:?})", s.name, kind(s)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_its_event_and_the_consumer_in_another_service_are_one_trace() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = Receiver::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    // Before anything else installs a subscriber: the first one is the process's.
    let mut env = Env::from_map([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}")),
        ("TALENTMESH_CONSUL_ADDR", String::new()),
    ]);
    let config = MeshConfig::load(&mut env, "e2e-traces", 0);
    env.finish().unwrap();
    let guard = Arc::new(telemetry::init_for_tests_with(&config).unwrap());

    let mesh = Mesh::start_with_matching(|env| env).await;
    let employer = mesh
        .login(
            "traces@example.com",
            "correct horse 42",
            Some("ROLE_EMPLOYER"),
        )
        .await;

    // The client's own trace context: everything below must continue it.
    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let client_span_id = "00f067aa0ba902b7";
    let request_id = format!("traces-{trace_id}");
    let response = mesh
        .http
        .post(mesh.url("/v1/companies"))
        .bearer_auth(&employer.token)
        .header("traceparent", format!("00-{trace_id}-{client_span_id}-01"))
        .header("x-request-id", &request_id)
        .json(&serde_json::json!({
            "displayName": "Trace Robotics", "industry": "software", "cityCode": "440300"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let is_consumer = |s: &Span| {
        kind(s) == SpanKind::Consumer
            && attribute(s, "messaging.consumer.group.name")
                .is_some_and(|g| g.contains("matching_companies"))
    };
    // Spans leave in batches: flush, look, until the matching service's consumer span is in.
    let trace = eventually_value(Duration::from_secs(60), || {
        let (receiver, guard, trace_id) = (receiver.clone(), guard.clone(), trace_id.clone());
        async move {
            tokio::task::spawn_blocking(move || guard.flush())
                .await
                .unwrap();
            let spans: Vec<Span> = receiver
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|s| hex(&s.trace_id) == trace_id)
                .cloned()
                .collect();
            spans.iter().any(is_consumer).then_some(Trace(spans))
        }
    })
    .await
    .unwrap_or_else(|| {
        let seen = receiver.0.lock().unwrap().len();
        panic!("no consumer span of matching_companies in trace {trace_id} ({seen} spans received)")
    });
    let all: Vec<&Span> = trace.0.iter().collect();
    let method = "talentmesh.company.v1.CompanyService/CreateCompany";

    // The gateway's server span continues the client's context.
    let gateway = trace
        .one("gateway span", |s| {
            kind(s) == SpanKind::Server && attribute(s, "http.request.method").is_some()
        })
        .unwrap_or_else(|| panic!("no gateway span in {:?}", names(&all)));
    assert_eq!(hex(&gateway.parent_span_id), client_span_id);
    assert_eq!(
        attribute(gateway, "http.route").as_deref(),
        Some("/v1/companies")
    );
    assert_eq!(gateway.name, "POST /v1/companies");
    assert_eq!(
        attribute(gateway, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attribute(gateway, "url.path").as_deref(),
        Some("/v1/companies")
    );

    // Its call to the company service is a client span, whose child is the service's span.
    let call = trace
        .one("gateway call", |s| {
            kind(s) == SpanKind::Client && s.name == method
        })
        .unwrap_or_else(|| panic!("no client span of {method} in {:?}", names(&all)));
    assert_eq!(call.parent_span_id, gateway.span_id);
    let server = trace
        .one("service span", |s| {
            kind(s) == SpanKind::Server && s.name == method
        })
        .unwrap_or_else(|| panic!("no server span of {method} in {:?}", names(&all)));
    assert_eq!(server.parent_span_id, call.span_id);
    for (key, value) in [
        ("rpc.system", "grpc"),
        ("rpc.service", "talentmesh.company.v1.CompanyService"),
        ("rpc.method", "CreateCompany"),
        ("rpc.grpc.status_code", "0"),
        ("request_id", request_id.as_str()),
    ] {
        assert_eq!(attribute(server, key).as_deref(), Some(value), "{key}");
    }
    assert!(attribute(server, "server.port").is_some());
    assert!(attribute(server, "network.peer.address").is_some());

    // The event's producer span is under the service's span; the consumer in the matching
    // service is the producer's child.
    let producer = trace
        .one("producer span", |s| {
            kind(s) == SpanKind::Producer && s.name == "create talentmesh.company.v1.CompanyChanged"
        })
        .unwrap_or_else(|| panic!("no producer span in {:?}", names(&all)));
    assert!(
        trace.descends_from(producer, server),
        "the producer span is not under the service's span: {:?}",
        names(&all)
    );
    let consumer = trace.one("consumer span", is_consumer).unwrap();
    assert_eq!(consumer.parent_span_id, producer.span_id);
    assert_eq!(
        attribute(consumer, "messaging.operation.type").as_deref(),
        Some("process")
    );

    mesh.stop().await;
}
