//! Throughput of the gateway against a hand-written axum handler calling the same unary RPC.
//!
//! Both front an in-process tonic IdentityService on loopback; a bounded load generator (fixed
//! request count, fixed concurrency, loopback only) drives each in turn, alternating rounds so
//! drift on a shared machine hits both alike. Prints requests per second, the median per-round
//! throughput ratio and the CPU-efficiency ratio (hand-written CPU per request over the
//! gateway's, the whole process counted, which is steadier than wall-clock throughput when other
//! processes share the cores); the target is gateway ≥ 0.95 × hand-written.
//!
//! Run: `cargo bench -p talentmesh-gateway --bench throughput`
//! (`BENCH_REQUESTS`, `BENCH_CONCURRENCY`, `BENCH_ROUNDS` override the load;
//! `BENCH_SCENARIO=register|get` runs one scenario, `BENCH_TARGET=gateway|baseline` one side,
//! for profiling).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use talentmesh_gateway::{serve, Gateway, GatewayConfig, StaticUpstreams};
use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
use talentmesh_proto::identity::v1::identity_service_server::{
    IdentityService, IdentityServiceServer,
};
use talentmesh_proto::identity::v1::*;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

struct Identity;

#[tonic::async_trait]
impl IdentityService for Identity {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let request = request.into_inner();
        Ok(Response::new(RegisterResponse {
            user: Some(User {
                name: "users/42".to_string(),
                email: request.email,
                roles: vec![request.role],
                create_time: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
            }),
        }))
    }
    async fn login(&self, _: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        Err(Status::unimplemented("bench"))
    }
    async fn refresh(
        &self,
        _: Request<RefreshRequest>,
    ) -> Result<Response<RefreshResponse>, Status> {
        Err(Status::unimplemented("bench"))
    }
    async fn logout(&self, _: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        Err(Status::unimplemented("bench"))
    }
    async fn get_current_user(
        &self,
        _: Request<GetCurrentUserRequest>,
    ) -> Result<Response<GetCurrentUserResponse>, Status> {
        Err(Status::unimplemented("bench"))
    }
    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        Ok(Response::new(GetUserResponse {
            user: Some(User {
                name: request.into_inner().name,
                email: "ada@example.com".to_string(),
                roles: vec![Role::Candidate as i32],
                create_time: None,
            }),
        }))
    }
    async fn list_public_keys(
        &self,
        _: Request<ListPublicKeysRequest>,
    ) -> Result<Response<ListPublicKeysResponse>, Status> {
        Err(Status::unimplemented("bench"))
    }
}

// --- the hand-written baseline ----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    email: String,
    password: String,
    role: String,
}

async fn baseline_register(
    State(client): State<IdentityServiceClient<Channel>>,
    headers: http::HeaderMap,
    Json(body): Json<RegisterBody>,
) -> Result<Json<serde_json::Value>, http::StatusCode> {
    let role = Role::from_str_name(&body.role).ok_or(http::StatusCode::BAD_REQUEST)?;
    let mut request = Request::new(RegisterRequest {
        email: body.email,
        password: body.password,
        role: role as i32,
    });
    forward(&headers, &mut request);
    let user = client
        .clone()
        .register(request)
        .await
        .map_err(|_| http::StatusCode::BAD_GATEWAY)?
        .into_inner()
        .user
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "user": user_json(&user) })))
}

async fn baseline_get_user(
    State(client): State<IdentityServiceClient<Channel>>,
    headers: http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, http::StatusCode> {
    let mut request = Request::new(GetUserRequest {
        name: format!("users/{id}"),
    });
    forward(&headers, &mut request);
    let user = client
        .clone()
        .get_user(request)
        .await
        .map_err(|_| http::StatusCode::BAD_GATEWAY)?
        .into_inner()
        .user
        .unwrap_or_default();
    Ok(Json(user_json(&user)))
}

/// What any handler fronting the mesh has to do too: request id, auth, deadline.
fn forward<T>(headers: &http::HeaderMap, request: &mut Request<T>) {
    let id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = id.parse() {
        request.metadata_mut().insert("x-request-id", value);
    }
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        if let Ok(value) = auth.parse() {
            request.metadata_mut().insert("authorization", value);
        }
    }
    request.set_timeout(Duration::from_secs(10));
}

fn user_json(user: &User) -> serde_json::Value {
    let roles: Vec<&str> = user
        .roles
        .iter()
        .map(|r| {
            Role::try_from(*r)
                .map(|r| r.as_str_name())
                .unwrap_or("ROLE_UNSPECIFIED")
        })
        .collect();
    serde_json::json!({
        "name": user.name,
        "email": user.email,
        "roles": roles,
        "createTime": user.create_time.as_ref().map(|t| t.to_string()),
    })
}

// --- load ----------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Scenario {
    Register,
    GetUser,
}

/// One measured run: requests per second and CPU nanoseconds per request (all threads of the
/// process: load generator, server under test and backend; only the server differs).
struct Run {
    rps: f64,
    cpu_ns: f64,
}

async fn drive(base: &str, scenario: Scenario, requests: usize, concurrency: usize) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let cpu_before = process_cpu_ns();
    let started = Instant::now();
    let per_task = requests / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let request = match scenario {
                    Scenario::Register => client
                        .post(format!("{base}/v1/users:register"))
                        .header("content-type", "application/json")
                        .body(
                            r#"{"email":"ada@example.com","password":"pw","role":"ROLE_CANDIDATE"}"#,
                        ),
                    Scenario::GetUser => client.get(format!("{base}/v1/users/{i}")),
                };
                let response = request.send().await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let done = (per_task * concurrency) as f64;
    Run {
        rps: done / started.elapsed().as_secs_f64(),
        cpu_ns: (process_cpu_ns() - cpu_before) as f64 / done,
    }
}

/// CPU time of every thread of this process, from /proc (Linux); 0 elsewhere.
fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let requests = env_or("BENCH_REQUESTS", 5_000);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let rounds = env_or("BENCH_ROUNDS", 9);

    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(IdentityServiceServer::new(Identity))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(grpc)),
    );
    let channel = Endpoint::from_shared(format!("http://{grpc_addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    let gateway = Gateway::new(
        GatewayConfig::default(),
        StaticUpstreams::new().with("identity", channel.clone()),
    )
    .unwrap();
    let gateway_addr = listen(|listener| async move {
        serve(listener, gateway, std::future::pending())
            .await
            .unwrap();
    })
    .await;

    let baseline = Router::new()
        .route("/v1/users:register", post(baseline_register))
        .route("/v1/users/{id}", get(baseline_get_user))
        .with_state(IdentityServiceClient::new(channel));
    let baseline_addr = listen(|listener| async move {
        axum::serve(listener, baseline).await.unwrap();
    })
    .await;

    let gateway_base = format!("http://{gateway_addr}");
    let baseline_base = format!("http://{baseline_addr}");
    let only = std::env::var("BENCH_SCENARIO").unwrap_or_default();
    let scenarios = [
        ("POST /v1/users:register", "register", Scenario::Register),
        ("GET /v1/users/{id}", "get", Scenario::GetUser),
    ];
    for (name, _, scenario) in scenarios
        .into_iter()
        .filter(|(_, key, _)| only.is_empty() || only == *key)
    {
        // Warm up connections, allocator and caches on both sides.
        drive(&gateway_base, scenario, 2_000, concurrency).await;
        drive(&baseline_base, scenario, 2_000, concurrency).await;
        let target = std::env::var("BENCH_TARGET").unwrap_or_default();
        if !target.is_empty() {
            let base = if target == "gateway" {
                &gateway_base
            } else {
                &baseline_base
            };
            for _ in 0..rounds {
                let run = drive(base, scenario, requests, concurrency).await;
                println!(
                    "{name}: {target} {:.0} req/s, {:.1} µs CPU/request",
                    run.rps,
                    run.cpu_ns / 1e3
                );
            }
            continue;
        }
        // Alternate short rounds so noise from other processes hits both sides alike; compare
        // the median of per-round ratios.
        let mut rps_ratios = Vec::new();
        let mut cpu_ratios = Vec::new();
        let mut gateway_rps = Vec::new();
        let mut baseline_rps = Vec::new();
        for _ in 0..rounds {
            let b = drive(&baseline_base, scenario, requests, concurrency).await;
            let g = drive(&gateway_base, scenario, requests, concurrency).await;
            rps_ratios.push(g.rps / b.rps);
            cpu_ratios.push(b.cpu_ns / g.cpu_ns);
            gateway_rps.push(g.rps);
            baseline_rps.push(b.rps);
        }
        println!(
            "{name}: gateway {:.0} req/s, hand-written {:.0} req/s; throughput ratio {:.3}, \
             CPU-efficiency ratio {:.3} (medians of {rounds} rounds of {requests} requests, \
             concurrency {concurrency})",
            median(&mut gateway_rps),
            median(&mut baseline_rps),
            median(&mut rps_ratios),
            median(&mut cpu_ratios),
        );
    }
}

async fn listen<F, Fut>(run: F) -> SocketAddr
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(run(listener));
    addr
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}
