//! Faults under a write burst through the fixture's RPC: a derived store stopped and started
//! again mid-burst (Neo4j, then PostgreSQL, then Redis), and the relay and consumers killed
//! mid-flight. Every acknowledged write must be in MySQL, every projection must converge with
//! zero drift, and nothing may be dead-lettered.
//!
//! These tests stop the shared local servers, so they run one at a time (a lock in this
//! binary; cargo runs test binaries one after another) and always start the server again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{create_notes, Harness};
use talentmesh_syncfixture::pb::Note;
use talentmesh_syncfixture::AppOptions;

const BURST: usize = 2000;
const CONVERGE: Duration = Duration::from_secs(180);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn servers_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dev/servers.sh")
}

fn servers(cmd: &str, name: &str) {
    let status = Command::new("bash")
        .arg(servers_script())
        .arg(cmd)
        .arg(name)
        .status()
        .expect("run dev/servers.sh");
    assert!(status.success(), "dev/servers.sh {cmd} {name} failed");
}

/// Starts the server again even if the test fails half-way.
struct Restart(&'static str);

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(servers_script())
            .arg("up")
            .arg(self.0)
            .status();
    }
}

/// Every acknowledged note is in MySQL.
async fn all_in_mysql(h: &Harness, acked: &[Note]) {
    let mut found = 0;
    for chunk in acked.chunks(500) {
        let mut q = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM notes WHERE id IN (");
        let mut list = q.separated(", ");
        for n in chunk {
            list.push_bind(&n.id);
        }
        q.push(")");
        let n: i64 = q
            .build_query_scalar()
            .fetch_one(h.app.stores.mysql().unwrap())
            .await
            .unwrap();
        found += n;
    }
    assert_eq!(
        found,
        acked.len() as i64,
        "acknowledged writes missing from MySQL"
    );
}

async fn converged_without_loss(h: &Harness, acked: &[Note]) {
    all_in_mysql(h, acked).await;
    assert!(
        h.wait_idle(CONVERGE).await,
        "sync did not catch up: {:?}",
        h.status().await
    );
    let (drift, op) = h.drift().await;
    assert_eq!(drift, 0, "drift after the fault: {op:?}");
    let status = h.status().await;
    assert_eq!(status.dead_letters, 0, "dead letters after the fault");
    let live = acked.len() as i64;
    assert_eq!(h.pg_count("SELECT COUNT(*) FROM note_search").await, live);
    assert_eq!(
        h.neo4j_count("MATCH (n:Note {ns: $ns}) RETURN count(n) AS n")
            .await,
        live
    );
    assert_eq!(h.redis_live_notes().await as i64, live);
}

/// Stops `server` once part of the burst is in, starts it again, and checks the outcome.
async fn stop_mid_burst(server: &'static str) {
    let _serial = SERIAL.lock().await;
    let h = Harness::start().await;
    let burst = tokio::spawn(create_notes(h.notes.clone(), server, BURST, 16));
    let started = talentmesh_testkit::eventually(Duration::from_secs(60), || async {
        h.mysql_count("SELECT COUNT(*) FROM notes").await >= (BURST / 5) as i64
    })
    .await;
    assert!(started, "the burst did not get going");
    let restart = Restart(server);
    tokio::task::spawn_blocking(move || servers("down", server))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::spawn_blocking(move || servers("up", server))
        .await
        .unwrap();
    drop(restart);
    let acked = burst.await.unwrap();
    assert_eq!(acked.len(), BURST, "writes were refused for good");
    converged_without_loss(&h, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4j_stopped_mid_burst_loses_nothing_and_converges() {
    stop_mid_burst("neo4j").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_burst_loses_nothing_and_converges() {
    stop_mid_burst("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_burst_loses_nothing_and_converges() {
    stop_mid_burst("redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_relay_and_consumers_duplicate_but_end_in_the_clean_state() {
    let _serial = SERIAL.lock().await;
    let first = Harness::start().await;
    let burst = tokio::spawn(create_notes(first.notes.clone(), "kill", BURST, 16));
    assert!(
        talentmesh_testkit::eventually(Duration::from_secs(60), || async {
            first.mysql_count("SELECT COUNT(*) FROM notes").await >= (BURST / 4) as i64
        })
        .await
    );
    // Kill this instance's relay and consumers wherever they are: a batch may be on the stream
    // but not marked, entries may be delivered but not acknowledged.
    let env = Arc::clone(&first.env);
    let Harness {
        app, server, notes, ..
    } = first;
    app.sync.abort();
    let acked = burst.await.unwrap();
    drop(notes);
    server.stop().await;
    drop(app.stores);

    // A second instance takes over the relay lease and claims the dead consumers' entries.
    let second = Harness::start_in(env, AppOptions::default()).await;
    converged_without_loss(&second, &acked).await;
    let rows = second.mysql_count("SELECT COUNT(*) FROM outbox").await;
    let status = second.status().await;
    let stream_len = status.streams.iter().map(|s| s.length).max().unwrap_or(0);
    assert!(stream_len >= rows, "every outbox row reached the stream");
    let claimed: u64 = second
        .app
        .sync
        .consumers()
        .iter()
        .map(|c| c.metrics().claimed())
        .sum();
    println!(
        "kill test: {rows} outbox rows, {stream_len} stream entries ({} duplicates), \
         {claimed} entries claimed from the killed consumers",
        stream_len - rows
    );
}
