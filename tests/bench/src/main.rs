//! The benchmark's tools in one binary (run by `tests/bench/run.sh`, which prints the table):
//!
//! - `handwritten ADDR SERVICE` — a minimal hand-written axum handler for `GET /v1/publicKeys`
//!   that calls identity's ListPublicKeys through the same Consul-discovered channel the gateway
//!   uses and writes the JSON itself: the baseline the gateway is held to.
//! - `http URL CONCURRENCY SECONDS` — load over HTTP/1.1 keep-alive, one connection per worker.
//! - `grpc ADDR CONCURRENCY SECONDS` — the same RPC called directly over gRPC.
//! - `startup BINARY grpc ADDR | http URL` — spawns a service and reports the time until its
//!   gRPC health check says SERVING (or the URL answers 200), then its idle resident memory.
//!
//! Load results are printed as one line: `rps=… p50_us=… p99_us=… errors=…`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use axum::response::IntoResponse;
use http_body_util::Empty;
use talentmesh_bench::{drive, load_http, HttpCall, Outcome};
use talentmesh_proto::identity::v1 as pb;
use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["handwritten", addr, service] => handwritten(addr, service).await,
        ["http", url, c, s] => {
            let call = HttpCall::get(url)?;
            report(load_http(c.parse()?, s.parse()?, |_| vec![call.clone()]).await)
        }
        ["grpc", addr, c, s] => report(load_grpc(addr.to_string(), c.parse()?, s.parse()?).await?),
        ["startup", binary, "grpc", addr] => startup(binary, Probe::Grpc(addr.to_string())).await,
        ["startup", binary, "http", url] => startup(binary, Probe::Http(url.to_string())).await,
        _ => bail!("usage: talentmesh-bench handwritten ADDR SERVICE | http URL C SECS | grpc ADDR C SECS | startup BINARY grpc ADDR|http URL"),
    }
}

async fn handwritten(addr: &str, service: &str) -> anyhow::Result<()> {
    // The local agent, with the ACL token of the environment (Consul runs default deny).
    let consul = talentmesh_mesh::consul::ConsulClient::new("http://127.0.0.1:18500")?.with_token(
        talentmesh_mesh::Secret::new(std::env::var("TALENTMESH_CONSUL_TOKEN").unwrap_or_default()),
    );
    let discovery = talentmesh_mesh::Discovery::new(consul, Duration::from_secs(10));
    let client = IdentityServiceClient::new(discovery.channel(service));
    let app = axum::Router::new().route(
        "/v1/publicKeys",
        axum::routing::get(move || {
            let mut client = client.clone();
            async move {
                match client.list_public_keys(pb::ListPublicKeysRequest {}).await {
                    Ok(resp) => {
                        let keys: Vec<serde_json::Value> = resp
                            .into_inner()
                            .keys
                            .into_iter()
                            .map(|k| {
                                serde_json::json!({
                                    "kty": k.kty, "crv": k.crv, "x": k.x,
                                    "kid": k.kid, "use": k.r#use, "alg": k.alg,
                                })
                            })
                            .collect();
                        axum::Json(serde_json::json!({ "keys": keys })).into_response()
                    }
                    Err(status) => (
                        talentmesh_mesh::error::http_status_for(status.code()),
                        status.message().to_string(),
                    )
                        .into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn report(o: Outcome) -> anyhow::Result<()> {
    println!("{}", o.summary().line());
    Ok(())
}

async fn load_grpc(addr: String, workers: usize, seconds: u64) -> anyhow::Result<Outcome> {
    let mut channels = Vec::new();
    for _ in 0..workers {
        channels.push(
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
                .tcp_nodelay(true)
                .connect()
                .await?,
        );
    }
    let channels = Arc::new(std::sync::Mutex::new(channels));
    Ok(drive(workers, seconds, |_| {
        let channel = channels
            .lock()
            .ok()
            .and_then(|mut c| c.pop())
            .unwrap_or_else(|| {
                tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy()
            });
        let client = IdentityServiceClient::new(channel);
        move || {
            let mut client = client.clone();
            async move {
                client
                    .list_public_keys(pb::ListPublicKeysRequest {})
                    .await
                    .is_ok()
            }
        }
    })
    .await)
}

enum Probe {
    Grpc(String),
    Http(String),
}

async fn ready(probe: &Probe) -> bool {
    match probe {
        Probe::Grpc(addr) => {
            let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            else {
                return false;
            };
            let Ok(ch) = endpoint.connect().await else {
                return false;
            };
            let mut health = tonic_health::pb::health_client::HealthClient::new(ch);
            health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok_and(|r| r.into_inner().status == 1)
        }
        Probe::Http(url) => {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<Empty<bytes::Bytes>>();
            match url.parse::<http::Uri>() {
                Ok(uri) => client.get(uri).await.is_ok_and(|r| r.status().is_success()),
                Err(_) => false,
            }
        }
    }
}

async fn startup(binary: &str, probe: Probe) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawn {binary}"))?;
    let deadline = started + Duration::from_secs(30);
    let serving_after = loop {
        if Instant::now() > deadline {
            return Err(anyhow!("{binary} did not serve within 30s"));
        }
        if ready(&probe).await {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // Idle resident memory, a moment after start.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_kb = child
        .id()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "serving_ms={} rss_mb={:.1}",
        serving_after.as_millis(),
        rss_kb as f64 / 1024.0
    );
    // SIGTERM, so a service that registered in Consul deregisters on its way out.
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        child.start_kill()?;
        let _ = child.wait().await;
    }
    Ok(())
}
