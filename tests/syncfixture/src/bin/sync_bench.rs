//! The data-sync benchmark: sustained creates per second through the fixture's RPC (a MySQL
//! transaction with its outbox row each), then projection lag from commit to applied in each
//! store at a fixed write rate. Runs on the local servers in a namespace of its own.
//!
//!   sync-bench [SECONDS] [CONCURRENCY] [RATE]      (defaults 10, 32, 1000)

use std::sync::Arc;
use std::time::{Duration, Instant};

use talentmesh_mesh::server::Listeners;
use talentmesh_syncfixture::pb::note_service_client::NoteServiceClient;
use talentmesh_syncfixture::pb::CreateNoteRequest;
use talentmesh_syncfixture::{App, AppOptions};
use talentmesh_testkit::{TestEnv, TestKeys};
use tokio::sync::Semaphore;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn request(i: u64) -> CreateNoteRequest {
    CreateNoteRequest {
        title: format!("bench note {i}"),
        body: "a note written by the sync benchmark".into(),
        tags: vec![format!("t{}", i % 16), "bench".into()],
    }
}

async fn wait_idle(app: &App) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let s = app.sync.status().await?;
        let outbox = s.outbox.map_or(1, |o| o.unpublished);
        let behind: i64 = s
            .streams
            .iter()
            .flat_map(|st| st.groups.iter())
            .map(|g| g.pending + g.lag_entries)
            .sum();
        if outbox == 0 && behind == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("projections did not catch up within 300 s")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().map_or(Ok(10), |s| s.parse())?;
    let concurrency: usize = args.get(1).map_or(Ok(32), |s| s.parse())?;
    let rate: u64 = args.get(2).map_or(Ok(1000), |s| s.parse())?;

    let env = TestEnv::new("syncbench");
    let mut vars = env.env();
    let mesh = talentmesh_mesh::MeshConfig::load(&mut vars, "syncfixture", 0);
    let storage = talentmesh_syncfixture::app::storage_config(&mut vars);
    let app = App::start(&mesh, &storage, AppOptions::default()).await?;
    let listeners = Listeners::bind(&mesh).await?;
    let addr = listeners.grpc.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        app.server(mesh, listeners, TestKeys::new().verifier(), async {
            let _ = stopped.await;
        }),
    );
    let client = NoteServiceClient::connect(format!("http://{addr}")).await?;

    // Warm-up: connections, pools, plans.
    for i in 0..200 {
        client.clone().create_note(request(i)).await?;
    }
    wait_idle(&app).await?;

    // 1. Closed loop: as many creates as `concurrency` callers can push.
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let mut c = client.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = (w as u64) << 32;
            while Instant::now() < end {
                let t = Instant::now();
                if c.create_note(request(i)).await.is_ok() {
                    latencies.push(t.elapsed().as_secs_f64());
                }
                i += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let creates = latencies.len();
    println!("## Sync benchmark\n");
    println!(
        "creates: {creates} in {elapsed:.1} s = **{:.0} creates/s** ({concurrency} callers; RPC latency p50 {:.2} ms, p99 {:.2} ms)",
        creates as f64 / elapsed,
        percentile(&latencies, 50.0) * 1e3,
        percentile(&latencies, 99.0) * 1e3
    );
    let drain = Instant::now();
    wait_idle(&app).await?;
    println!(
        "projections caught up with the closed-loop burst {:.1} s after it ended",
        drain.elapsed().as_secs_f64()
    );

    // 2. Open loop at `rate` writes/s: lag from commit to applied, per projection, at steady
    // state. The first WARM_UP seconds are not counted: right after the closed-loop burst the
    // stores are still flushing it (Neo4j's first seconds show lag spikes of several hundred
    // ms, printed below when SYNC_BENCH_WINDOWS is set).
    const WARM_UP: u64 = 5;
    let permits = Arc::new(Semaphore::new(512));
    let started = Instant::now();
    let total = rate * (secs + WARM_UP);
    let mut warm = false;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    let mut inflight = Vec::new();
    while sent < total {
        ticker.tick().await;
        if !warm && started.elapsed() >= Duration::from_secs(WARM_UP) {
            warm = true;
            for c in app.sync.consumers() {
                let early = c.metrics().take_lag_samples();
                if std::env::var_os("SYNC_BENCH_WINDOWS").is_some() {
                    let worst = early.iter().copied().fold(0.0, f64::max) * 1e3;
                    eprintln!(
                        "{} warm-up: {} events, max lag {worst:.0} ms",
                        c.group(),
                        early.len()
                    );
                }
            }
        }
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            let permit = Arc::clone(&permits).acquire_owned().await?;
            let mut c = client.clone();
            let i = (1u64 << 40) + sent;
            inflight.push(tokio::spawn(async move {
                let ok = c.create_note(request(i)).await.is_ok();
                drop(permit);
                ok
            }));
            sent += 1;
        }
    }
    let mut ok = 0;
    for f in inflight {
        if f.await? {
            ok += 1;
        }
    }
    let achieved = ok as f64 / started.elapsed().as_secs_f64();
    wait_idle(&app).await?;
    println!(
        "\nopen loop: {ok} creates at {rate}/s target ({achieved:.0}/s achieved); lag from commit \
         to applied, over the last {secs} s (after {WARM_UP} s of warm-up at the same rate):\n"
    );
    println!("| projection | store | events | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    let stores = ["postgres", "neo4j", "redis"];
    for (i, c) in app.sync.consumers().iter().enumerate() {
        let mut lag = c.metrics().take_lag_samples();
        if std::env::var_os("SYNC_BENCH_WINDOWS").is_some() {
            let windows: Vec<String> = lag
                .chunks(1000)
                .map(|w| format!("{:.0}", w.iter().copied().fold(0.0, f64::max) * 1e3))
                .collect();
            eprintln!(
                "{} max lag per 1000 events (ms): {}",
                c.group(),
                windows.join(" ")
            );
        }
        lag.sort_by(f64::total_cmp);
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            c.group(),
            stores.get(i).copied().unwrap_or("?"),
            lag.len(),
            percentile(&lag, 50.0) * 1e3,
            percentile(&lag, 99.0) * 1e3,
            lag.last().copied().unwrap_or(f64::NAN) * 1e3
        );
    }
    let _ = stop.send(());
    server.await??;
    app.sync.shutdown().await;
    Ok(())
}
