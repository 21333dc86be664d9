//! What a platform engineer sees of one running service (issue 16, the mesh's conventions):
//! reflection describing exactly what the port serves, the `grpc_server_*` / `grpc_client_*`
//! series with health probes left out, build info and process metrics, and grpc.health.v1 in
//! plaintext on the metrics port, saying what the gRPC port says.
//!
//! The service here is a stand-in for `talentmesh.job.v1.JobService` (the real contract, so
//! reflection and the metrics' labels come from the real descriptors): `GetJob` answers an
//! empty message, every other method NOT_FOUND. It runs without Consul and without TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use talentmesh_mesh::config::Env;
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::server::{Listeners, ServeOptions};
use talentmesh_mesh::{MeshChannel, MeshConfig};
use tonic::body::Body;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

const JOBS: &str = "talentmesh.job.v1.JobService";

/// The stand-in job service (see the module docs).
#[derive(Clone)]
struct FakeJobs;

impl tonic::server::NamedService for FakeJobs {
    const NAME: &'static str = JOBS;
}

impl tower::Service<http::Request<Body>> for FakeJobs {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let response = if req.uri().path() == format!("/{JOBS}/GetJob") {
            // One empty message (flag 0, length 0), then the trailers with status OK.
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let frames = futures::stream::iter([
                Ok::<_, Infallible>(http_body::Frame::data(bytes::Bytes::from_static(&[
                    0, 0, 0, 0, 0,
                ]))),
                Ok(http_body::Frame::trailers(trailers)),
            ]);
            http::Response::builder()
                .header("content-type", "application/grpc")
                .body(Body::new(http_body_util::StreamBody::new(frames)))
                .unwrap()
        } else {
            tonic::Status::not_found("no such job").into_http()
        };
        std::future::ready(Ok(response))
    }
}

struct Running {
    grpc: SocketAddr,
    metrics_addr: SocketAddr,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start() -> Running {
    let mut env = Env::from_map([
        ("TALENTMESH_GRPC_ADDR", "127.0.0.1:0"),
        ("TALENTMESH_METRICS_ADDR", "127.0.0.1:0"),
        ("TALENTMESH_CONSUL_ADDR", ""),
        ("TALENTMESH_SHUTDOWN_GRACE", "1s"),
    ]);
    let config = MeshConfig::load(&mut env, "job", 0);
    env.finish().unwrap();
    let listeners = Listeners::bind(&config).await.unwrap();
    let grpc = listeners.grpc.local_addr().unwrap();
    let metrics_addr = listeners.metrics.local_addr().unwrap();
    let metrics = Metrics::new("job");
    let ready = Arc::new(AtomicBool::new(true));
    let probe = ready.clone();
    let options = ServeOptions {
        services: vec![JOBS],
        verifier: None,
        policy: Default::default(),
        readiness: Some(Arc::new(move || {
            let ready = probe.load(Ordering::SeqCst);
            Box::pin(async move { ready })
        })),
        metrics: metrics.clone(),
        tags: Vec::new(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(talentmesh_mesh::server::serve(
        config,
        listeners,
        tonic::service::Routes::new(FakeJobs),
        options,
        async move {
            let _ = rx.await;
        },
    ));
    let running = Running {
        grpc,
        metrics_addr,
        metrics,
        ready,
        stop: Some(tx),
    };
    assert!(
        eventually(|| async { health(grpc, "").await == Some(SERVING) }).await,
        "the service never served"
    );
    running
}

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

/// Polls `check` every 50 ms for up to 10 s.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// grpc.health.v1 Check of `service` at `addr` (plaintext HTTP/2), None when it does not answer.
async fn health(addr: SocketAddr, service: &str) -> Option<i32> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .ok()
        .map(|r| r.into_inner().status)
}

/// One unary call of `path` with an empty message through `channel`.
async fn call<C>(channel: C, path: &'static str) -> tonic::Code
where
    C: tonic::client::GrpcService<Body> + Clone,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    C::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.map_err(|_| ()).unwrap();
    match client
        .unary::<(), (), _>(
            tonic::Request::new(()),
            http::uri::PathAndQuery::from_static(path),
            tonic_prost::ProstCodec::default(),
        )
        .await
    {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

/// The value of the sample line that starts with `series` (name and labels, exactly), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// One reflection request: its answer, or the status the stream ended with (tonic's reflection
/// ends the stream with NOT_FOUND for an unknown symbol).
async fn reflect(
    addr: SocketAddr,
    request: MessageRequest,
) -> Result<MessageResponse, tonic::Code> {
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let mut answers = client
        .server_reflection_info(futures::stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        }]))
        .await
        .map_err(|s| s.code())?
        .into_inner();
    match answers.message().await {
        Ok(Some(answer)) => Ok(answer.message_response.unwrap()),
        Ok(None) => panic!("no answer"),
        Err(status) => Err(status.code()),
    }
}

#[tokio::test]
async fn reflection_lists_and_describes_only_what_the_port_serves() {
    let svc = start().await;
    let Ok(MessageResponse::ListServicesResponse(list)) =
        reflect(svc.grpc, MessageRequest::ListServices(String::new())).await
    else {
        panic!("not a list");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        vec!["grpc.health.v1.Health".to_string(), JOBS.to_string()]
    );

    // Served services resolve, with their imports; another service's contract does not.
    for symbol in [
        JOBS,
        "grpc.health.v1.Health",
        "talentmesh.job.v1.GetJobRequest",
    ] {
        let answer = reflect(
            svc.grpc,
            MessageRequest::FileContainingSymbol(symbol.to_string()),
        )
        .await;
        assert!(
            matches!(answer, Ok(MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()),
            "{symbol}: {answer:?}"
        );
    }
    for symbol in [
        "talentmesh.company.v1.CompanyService",
        "talentmesh.identity.v1.IdentityService",
    ] {
        let answer = reflect(
            svc.grpc,
            MessageRequest::FileContainingSymbol(symbol.to_string()),
        )
        .await;
        assert!(
            match answer {
                Err(code) => code == tonic::Code::NotFound,
                Ok(MessageResponse::ErrorResponse(ref e)) => {
                    e.error_code == tonic::Code::NotFound as i32
                }
                Ok(_) => false,
            },
            "{symbol} is not served here: {answer:?}"
        );
    }
}

#[tokio::test]
async fn served_calls_are_counted_by_method_type_and_code_and_health_is_not() {
    let svc = start().await;
    for _ in 0..2 {
        assert_eq!(
            call(
                channel(svc.grpc).await,
                "/talentmesh.job.v1.JobService/GetJob"
            )
            .await,
            tonic::Code::Ok
        );
    }
    assert_eq!(
        call(
            channel(svc.grpc).await,
            "/talentmesh.job.v1.JobService/ListJobs"
        )
        .await,
        tonic::Code::NotFound
    );
    // A path no contract defines is counted, under `unknown`, never under its own name.
    assert_eq!(
        call(channel(svc.grpc).await, "/made.Up/Path").await,
        tonic::Code::Unimplemented
    );
    for _ in 0..3 {
        assert_eq!(health(svc.grpc, JOBS).await, Some(SERVING));
    }

    let text = svc.metrics.encode();
    let get =
        r#"grpc_service="talentmesh.job.v1.JobService",grpc_method="GetJob",grpc_type="unary""#;
    let list =
        r#"grpc_service="talentmesh.job.v1.JobService",grpc_method="ListJobs",grpc_type="unary""#;
    let unknown = r#"grpc_service="unknown",grpc_method="unknown",grpc_type="unknown""#;
    for (series, want) in [
        (format!("grpc_server_started_total{{{get}}}"), 2.0),
        (
            format!(r#"grpc_server_handled_total{{{get},grpc_code="OK"}}"#),
            2.0,
        ),
        (format!("grpc_server_handling_seconds_count{{{get}}}"), 2.0),
        (
            format!(r#"grpc_server_handled_total{{{list},grpc_code="NotFound"}}"#),
            1.0,
        ),
        (
            format!(r#"grpc_server_handled_total{{{unknown},grpc_code="Unimplemented"}}"#),
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, &series), Some(want), "{series} in\n{text}");
    }
    assert!(
        !text.contains("/made.Up/Path") && !text.contains("made.Up"),
        "a raw path became a label:\n{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("grpc_") && l.contains("grpc.health.v1")),
        "health probes are not RPC traffic:\n{text}"
    );
    assert!(
        !text.contains("talentmesh_grpc_"),
        "the old names are gone:\n{text}"
    );
}

#[tokio::test]
async fn the_metrics_port_has_build_info_and_process_metrics() {
    let svc = start().await;
    let text = reqwest::get(format!("http://{}/metrics", svc.metrics_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let build = text
        .lines()
        .find(|l| l.starts_with("talentmesh_build_info{"))
        .unwrap_or_else(|| panic!("no build info in\n{text}"));
    assert!(build.ends_with(" 1"), "{build}");
    assert!(build.contains(r#"service="job""#), "{build}");
    let revision = build
        .split("revision=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("");
    assert!(!revision.is_empty(), "{build}");
    assert_eq!(revision, talentmesh_mesh::build_info::REVISION);
    assert!(
        build.contains(&format!(r#"version="{}""#, env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
    for name in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
    ] {
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.parse::<f64>().ok());
        assert!(value.is_some_and(|v| v > 0.0), "{name} in\n{text}");
    }
}

#[tokio::test]
async fn outbound_calls_through_a_mesh_channel_are_counted() {
    let svc = start().await;
    let caller = Metrics::new("caller");
    let jobs = MeshChannel::fixed(
        "job",
        &[format!("http://{}", svc.grpc)],
        Duration::from_secs(5),
    )
    .with_metrics(caller.clone());
    assert_eq!(
        call(jobs.clone(), "/talentmesh.job.v1.JobService/GetJob").await,
        tonic::Code::Ok
    );
    assert_eq!(
        call(jobs, "/talentmesh.job.v1.JobService/ListJobs").await,
        tonic::Code::NotFound
    );
    // No instance at all: refused on this side, counted all the same.
    let nowhere =
        MeshChannel::fixed("job", &[], Duration::from_secs(5)).with_metrics(caller.clone());
    assert_eq!(
        call(nowhere, "/talentmesh.job.v1.JobService/GetJob").await,
        tonic::Code::Unavailable
    );
    // A channel without the metrics records nothing.
    let unmetered = MeshChannel::fixed(
        "job",
        &[format!("http://{}", svc.grpc)],
        Duration::from_secs(5),
    );
    assert_eq!(
        call(unmetered, "/talentmesh.job.v1.JobService/UpdateJob").await,
        tonic::Code::NotFound
    );

    let text = caller.encode();
    let get =
        r#"grpc_service="talentmesh.job.v1.JobService",grpc_method="GetJob",grpc_type="unary""#;
    let list =
        r#"grpc_service="talentmesh.job.v1.JobService",grpc_method="ListJobs",grpc_type="unary""#;
    for (series, want) in [
        (format!("grpc_client_started_total{{{get}}}"), 2.0),
        (
            format!(r#"grpc_client_handled_total{{{get},grpc_code="OK"}}"#),
            1.0,
        ),
        (
            format!(r#"grpc_client_handled_total{{{get},grpc_code="Unavailable"}}"#),
            1.0,
        ),
        (format!("grpc_client_handling_seconds_count{{{get}}}"), 2.0),
        (
            format!(r#"grpc_client_handled_total{{{list},grpc_code="NotFound"}}"#),
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, &series), Some(want), "{series} in\n{text}");
    }
    assert!(!text.contains("UpdateJob"), "{text}");
    // The caller served nothing.
    assert!(
        !text.lines().any(|l| l.starts_with("grpc_server_")),
        "{text}"
    );
}

#[tokio::test]
async fn the_metrics_port_answers_health_in_plaintext_as_the_grpc_port_does() {
    let svc = start().await;
    for service in ["", JOBS] {
        assert_eq!(
            health(svc.metrics_addr, service).await,
            Some(SERVING),
            "{service:?}"
        );
    }
    // A service the port does not serve is unknown there too.
    let unknown = HealthClient::new(channel(svc.metrics_addr).await)
        .check(HealthCheckRequest {
            service: "talentmesh.company.v1.CompanyService".to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    // /metrics is still HTTP/1.1 on the same port.
    let page = reqwest::get(format!("http://{}/metrics", svc.metrics_addr))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    // The stores go away: both ports say NOT_SERVING, from the same reporter.
    svc.ready.store(false, Ordering::SeqCst);
    assert!(
        eventually(|| async { health(svc.metrics_addr, JOBS).await == Some(NOT_SERVING) }).await,
        "the metrics port never said NOT_SERVING"
    );
    assert_eq!(health(svc.grpc, JOBS).await, Some(NOT_SERVING));
}
