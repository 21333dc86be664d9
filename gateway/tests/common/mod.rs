//! The test rig: a real tonic backend on 127.0.0.1:0 that echoes every RoutingService call
//! (and serves reflection for the test protos), and a real gateway on 127.0.0.1:0 in front of
//! it. Each test builds its own pair, so tests run in parallel without sharing state.
//!
//! The echo backend returns the request bytes unchanged, so the JSON a test gets back is exactly
//! the message the gateway built. It reports what it saw in response metadata (`x-called-method`,
//! `x-seen-*`), which the gateway forwards as `grpc-metadata-*` headers. A request whose
//! `trigger` field is `fail:<kind>` gets that error instead.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use talentmesh_gateway::{serve, serve_workers, Gateway, GatewayConfig, StaticUpstreams};
use talentmesh_mesh::error::{ApiError, FieldViolation};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

pub const SERVICE: &str = "talentmesh.testing.v1.RoutingService";
pub const ROUTING_PROTO: &str = "talentmesh/testing/v1/routing.proto";

/// The test protos compiled with protox: the full set (what the backend serves by reflection)
/// and the initial gateway set, which lacks the `Refreshed` RPC.
pub struct Protos {
    pub full: Vec<u8>,
    pub initial: Vec<u8>,
}

pub fn protos() -> Protos {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut compiler =
        protox::Compiler::new([root.join("tests/proto"), root.join("../proto")]).unwrap();
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files([ROUTING_PROTO]).unwrap();
    let full = compiler.encode_file_descriptor_set();
    let initial = without_method(&full, "Refreshed");
    Protos { full, initial }
}

/// `set` with one RoutingService method removed, edited as a `DynamicMessage` so the custom
/// options of the other methods survive the round trip.
fn without_method(set: &[u8], method: &str) -> Vec<u8> {
    let pool = DescriptorPool::decode(set).unwrap();
    let desc = pool
        .get_message_by_name("google.protobuf.FileDescriptorSet")
        .unwrap();
    let mut fds = DynamicMessage::decode(desc, set).unwrap();
    let Some(Value::List(files)) = fds.get_field_by_name_mut("file") else {
        panic!("no files")
    };
    let mut removed = false;
    for file in files.iter_mut() {
        let Value::Message(file) = file else { continue };
        if file.get_field_by_name("name").unwrap().as_str() != Some(ROUTING_PROTO) {
            continue;
        }
        let Some(Value::List(services)) = file.get_field_by_name_mut("service") else {
            panic!("no services")
        };
        for service in services.iter_mut() {
            let Value::Message(service) = service else {
                continue;
            };
            let Some(Value::List(methods)) = service.get_field_by_name_mut("method") else {
                continue;
            };
            let before = methods.len();
            methods.retain(|m| {
                m.as_message()
                    .and_then(|m| m.get_field_by_name("name"))
                    .and_then(|n| n.as_str().map(str::to_string))
                    .as_deref()
                    != Some(method)
            });
            removed |= methods.len() < before;
        }
    }
    assert!(removed, "method {method} not found");
    fds.encode_to_vec()
}

/// A backend and a gateway in front of it.
/// How many `fail:slow` calls the backend has begun (per test binary), so a test knows when
/// its slow requests are in flight instead of sleeping and hoping.
pub static SLOW_CALLS_STARTED: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Polls `condition` every 20 ms until it holds or `timeout` passes; whether it held.
pub async fn eventually(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        // The pause between probes of a bounded poll (the deadline above ends it).
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub struct App {
    pub base: String,
    pub backend: SocketAddr,
    pub client: reqwest::Client,
    pub gateway: Gateway<StaticUpstreams>,
    stop_gateway: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _stop_backend: oneshot::Sender<()>,
}

pub struct Options {
    pub deadline: Duration,
    pub body_limit: usize,
    /// Whether the gateway knows the backend as upstream `testing`.
    pub with_upstream: bool,
    /// Worker threads serving HTTP, as the binary does; 0 serves on the test's runtime.
    pub workers: usize,
    /// Every other setting (timeouts, trusted proxies, connection limit, exposed services;
    /// by default the services are `testing` alone). `deadline` and `body_limit` win.
    pub config: GatewayConfig,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            deadline: Duration::from_secs(5),
            body_limit: 1024,
            with_upstream: true,
            workers: 2,
            config: GatewayConfig {
                // The test protos' package, talentmesh.testing.v1, is upstream `testing`.
                services: vec!["testing".to_string()],
                ..GatewayConfig::default()
            },
        }
    }
}

pub async fn app() -> App {
    app_with(Options::default()).await
}

pub async fn app_with(options: Options) -> App {
    let protos = protos();
    let (backend, stop_backend) = start_backend(protos.full).await;
    let channel: Channel = Endpoint::from_shared(format!("http://{backend}"))
        .unwrap()
        .connect_lazy();
    let mut upstreams = StaticUpstreams::new();
    if options.with_upstream {
        upstreams.insert("testing", channel);
    }
    let config = GatewayConfig {
        deadline: options.deadline,
        body_limit: options.body_limit,
        ..options.config
    };
    // Only the test protos: the compiled-in talentmesh routes would overlap (`/v1/users:register`).
    let pool = DescriptorPool::decode(protos.initial.as_slice()).unwrap();
    let gateway = Gateway::with_pool(config, upstreams, pool).unwrap();
    assert!(
        gateway.routes().problems().is_empty(),
        "{:?}",
        gateway.routes().problems()
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let served = if options.workers == 0 {
        tokio::spawn(serve(listener, gateway.clone(), stopped))
    } else {
        tokio::spawn(serve_workers(
            listener,
            gateway.clone(),
            options.workers,
            stopped,
        ))
    };
    App {
        base: format!("http://{addr}"),
        backend,
        client: reqwest::Client::new(),
        gateway,
        stop_gateway: Some(stop),
        served: Some(served),
        _stop_backend: stop_backend,
    }
}

/// What a test looks at in a response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: serde_json::Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The RPC the backend says was called.
    pub fn called(&self) -> &str {
        self.header("grpc-metadata-x-called-method").unwrap_or("")
    }

    /// The first field violation of an error body, as (field, description).
    pub fn violation(&self) -> (String, String) {
        let details = self.json["details"].as_array().expect("details");
        let bad = details
            .iter()
            .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
            .unwrap_or_else(|| panic!("no BadRequest in {}", self.json));
        let v = &bad["fieldViolations"][0];
        (
            v["field"].as_str().unwrap().to_string(),
            v["description"].as_str().unwrap().to_string(),
        )
    }
}

impl App {
    /// Stops the gateway the way SIGTERM does and waits until it has stopped serving.
    pub async fn shut_down(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop_gateway.take() {
            let _ = stop.send(());
        }
        match self.served.take() {
            Some(served) => served.await.expect("the gateway task panicked"),
            None => Ok(()),
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            headers,
            json,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn json(&self, method: &str, path: &str, body: &str) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.send(
            self.client
                .request(method, self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// The echo backend.

async fn start_backend(full_set: Vec<u8>) -> (SocketAddr, oneshot::Sender<()>) {
    let pool = DescriptorPool::decode(full_set.as_slice()).unwrap();
    // The reflection builder borrows the set for as long as the server runs: the whole test.
    let leaked: &'static [u8] = Box::leak(full_set.into_boxed_slice());
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(leaked)
        .build_v1()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(reflection)
            .add_service(Echo { pool })
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stopped.await;
            }),
    );
    (addr, stop)
}

#[derive(Clone)]
struct Echo {
    pool: DescriptorPool,
}

impl NamedService for Echo {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tower::Service<http::Request<tonic::body::Body>> for Echo {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let path = request.uri().path().to_string();
        let headers = request.headers().clone();
        let desc = self
            .pool
            .get_message_by_name("talentmesh.testing.v1.RoutingMessage")
            .unwrap();
        Box::pin(async move {
            let handler = tower::service_fn(move |call: tonic::Request<Bytes>| {
                let path = path.clone();
                let headers = headers.clone();
                let desc = desc.clone();
                async move { echo(&path, &headers, desc, call.into_inner()).await }
            });
            let mut grpc = tonic::server::Grpc::new(BytesCodec);
            Ok(grpc.unary(handler, request).await)
        })
    }
}

async fn echo(
    path: &str,
    headers: &http::HeaderMap,
    desc: prost_reflect::MessageDescriptor,
    bytes: Bytes,
) -> Result<tonic::Response<Bytes>, Status> {
    let message = DynamicMessage::decode(desc, bytes.clone())
        .map_err(|e| Status::invalid_argument(format!("undecodable request: {e}")))?;
    let trigger = message
        .get_field_by_name("trigger")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    match trigger.as_str() {
        "" => {}
        "fail:invalid" => {
            return Err(ApiError::invalid(vec![FieldViolation::new(
                "email",
                "must be an email address",
            )])
            .into())
        }
        "fail:not_found" => {
            return Err(ApiError::not_found("book shelves/1/books/2 does not exist").into())
        }
        "fail:unauthenticated" => return Err(ApiError::unauthenticated("token expired").into()),
        "fail:plain" => return Err(Status::already_exists("taken")),
        "fail:unknown_detail" => {
            let status = talentmesh_proto::google::rpc::Status {
                code: tonic::Code::FailedPrecondition as i32,
                message: "not yet".to_string(),
                details: vec![prost_types::Any {
                    type_url: "type.googleapis.com/example.Unknown".to_string(),
                    value: vec![1, 2, 3],
                }],
            };
            return Err(Status::with_details(
                tonic::Code::FailedPrecondition,
                "not yet",
                status.encode_to_vec().into(),
            ));
        }
        "fail:slow" => {
            SLOW_CALLS_STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Not a wait for a condition: the stand-in backend's slow answer, which the
            // shutdown and deadline tests need in flight (they poll SLOW_CALLS_STARTED).
            tokio::time::sleep(Duration::from_secs(3)).await
        }
        other => return Err(Status::internal(format!("unknown trigger {other}"))),
    }
    let mut response = tonic::Response::new(bytes);
    let metadata = response.metadata_mut();
    metadata.insert("x-called-method", MetadataValue::try_from(path).unwrap());
    for (seen, header) in [
        ("x-seen-authorization", "authorization"),
        ("x-seen-request-id", "x-request-id"),
        ("x-seen-traceparent", "traceparent"),
        ("x-seen-tracestate", "tracestate"),
        ("x-seen-forwarded-for", "x-forwarded-for"),
        ("x-seen-grpc-timeout", "grpc-timeout"),
        ("x-seen-client-ip", "x-talentmesh-client-ip"),
    ] {
        if let Some(value) = headers.get(header).and_then(|v| v.to_str().ok()) {
            metadata.insert(seen, MetadataValue::try_from(value).unwrap());
        }
    }
    Ok(response)
}

/// Passes message bytes through untouched.
#[derive(Clone, Copy, Default)]
struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
