//! The event bus against the real Redis, with handlers the tests control: a consumer killed
//! before its ack gets the entries again (its own pending first after a restart, or claimed by
//! another consumer), transient failures are retried until they pass and never dead-lettered,
//! and permanent ones are dead-lettered after the delivery limit while later entries flow.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use talentmesh_proto::events::v1::Envelope;
use talentmesh_storage::bus::{
    Consumer, ConsumerConfig, DeadLetters, Event, Handler, HandlerError,
};
use talentmesh_storage::{Needs, RedisPool, StorageConfig, Stores};
use talentmesh_testkit::{eventually, TestEnv};
use tokio::sync::Semaphore;

const WAIT: Duration = Duration::from_secs(15);

async fn redis(env: &TestEnv) -> RedisPool {
    let mut vars = env.env();
    let needs = Needs {
        mysql: false,
        postgres: false,
        neo4j: false,
        redis: true,
    };
    let config = StorageConfig::load(&mut vars, "bus", needs);
    let stores = Stores::connect(&config, Default::default()).await.unwrap();
    stores.redis().unwrap().clone()
}

async fn publish(redis: &RedisPool, stream: &str, subjects: &[&str]) {
    let mut conn = redis.get().await.unwrap();
    for s in subjects {
        let envelope = Envelope {
            id: uuid::Uuid::now_v7().to_string(),
            r#type: "test.Event".into(),
            subject: s.to_string(),
            entity_version: 1,
            ..Default::default()
        };
        redis::cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("envelope")
            .arg(envelope.encode_to_vec())
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
}

fn config(stream: &str, consumer: &str) -> ConsumerConfig {
    ConsumerConfig {
        batch: 10,
        block: Duration::from_millis(100),
        claim_idle: Duration::from_millis(500),
        max_deliveries: 3,
        max_backoff: Duration::from_millis(100),
        ..ConsumerConfig::new("g", stream, consumer)
    }
}

/// Records what it applied; can be told to hang (to be killed mid-batch) or to fail.
#[derive(Default)]
struct Recorder {
    applied: Mutex<HashMap<String, usize>>,
    /// While present, handling waits for a permit that never comes.
    hang: Mutex<Option<Arc<Semaphore>>>,
    transient_failures_left: Mutex<usize>,
    reject: Mutex<Option<String>>,
}

impl Recorder {
    fn count(&self, subject: &str) -> usize {
        self.applied
            .lock()
            .unwrap()
            .get(subject)
            .copied()
            .unwrap_or(0)
    }
}

#[tonic::async_trait]
impl Handler for Recorder {
    async fn handle(&self, events: &[Event]) -> Result<(), HandlerError> {
        let hang = self.hang.lock().unwrap().clone();
        if let Some(gate) = hang {
            let _ = gate.acquire().await;
        }
        {
            let mut left = self.transient_failures_left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(HandlerError::Transient("store down".into()));
            }
        }
        let reject = self.reject.lock().unwrap().clone();
        if let Some(bad) = reject {
            if events.iter().any(|e| e.envelope.subject == bad) {
                return Err(HandlerError::Permanent(format!("cannot apply {bad}")));
            }
        }
        let mut applied = self.applied.lock().unwrap();
        for e in events {
            *applied.entry(e.envelope.subject.clone()).or_default() += 1;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_consumer_killed_before_its_ack_gets_its_own_pending_entries_first_after_restart() {
    let env = TestEnv::new("bus");
    let redis = redis(&env).await;
    let stream = redis.key("events");
    let dead = DeadLetters::new(redis.clone());
    let first = Arc::new(Recorder::default());
    *first.hang.lock().unwrap() = Some(Arc::new(Semaphore::new(0)));
    let handle = Consumer::spawn(
        redis.clone(),
        config(&stream, "c1"),
        first.clone(),
        dead.clone(),
    );
    publish(&redis, &stream, &["a", "b"]).await;
    // Delivered (pending) but never acknowledged: the handler hangs, then the process dies.
    assert!(
        eventually(WAIT, || {
            let redis = redis.clone();
            let stream = stream.clone();
            async move {
                let mut conn = redis.get().await.unwrap();
                let pending: (i64, Option<String>, Option<String>, redis::Value) =
                    redis::cmd("XPENDING")
                        .arg(&stream)
                        .arg("g")
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                pending.0 == 2
            }
        })
        .await
    );
    handle.abort();
    assert_eq!(first.count("a"), 0);

    // The same consumer name restarts: its pending entries are handled first, and acknowledged.
    let second = Arc::new(Recorder::default());
    let restarted = Consumer::spawn(
        redis.clone(),
        config(&stream, "c1"),
        second.clone(),
        dead.clone(),
    );
    assert!(
        eventually(WAIT, || async {
            second.count("a") == 1 && second.count("b") == 1
        })
        .await
    );
    assert!(eventually(WAIT, || async { restarted.metrics().delivered() == 2 }).await);
    // Handled from its own pending list, not claimed after the idle time.
    assert_eq!(restarted.metrics().claimed(), 0);
    restarted.shutdown().await;
}

#[tokio::test]
async fn entries_of_a_dead_consumer_are_claimed_by_another() {
    let env = TestEnv::new("bus");
    let redis = redis(&env).await;
    let stream = redis.key("events");
    let dead = DeadLetters::new(redis.clone());
    let stuck = Arc::new(Recorder::default());
    *stuck.hang.lock().unwrap() = Some(Arc::new(Semaphore::new(0)));
    let gone = Consumer::spawn(redis.clone(), config(&stream, "dead"), stuck, dead.clone());
    publish(&redis, &stream, &["x"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    gone.abort();

    let other = Arc::new(Recorder::default());
    let live = Consumer::spawn(
        redis.clone(),
        config(&stream, "live"),
        other.clone(),
        dead.clone(),
    );
    assert!(eventually(WAIT, || async { other.count("x") == 1 }).await);
    assert!(live.metrics().claimed() >= 1);
    live.shutdown().await;
}

#[tokio::test]
async fn transient_failures_are_retried_until_they_pass_and_never_dead_lettered() {
    let env = TestEnv::new("bus");
    let redis = redis(&env).await;
    let stream = redis.key("events");
    let dead = DeadLetters::new(redis.clone());
    let handler = Arc::new(Recorder::default());
    // Far more failures than the delivery limit: an outage, not a bad event.
    *handler.transient_failures_left.lock().unwrap() = 12;
    let c = Consumer::spawn(
        redis.clone(),
        config(&stream, "c"),
        handler.clone(),
        dead.clone(),
    );
    publish(&redis, &stream, &["t"]).await;
    assert!(eventually(WAIT, || async { handler.count("t") == 1 }).await);
    assert_eq!(dead.count().await.unwrap(), 0);
    assert!(c.metrics().failed() >= 12);
    c.shutdown().await;
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_after_the_limit_and_later_entries_flow() {
    let env = TestEnv::new("bus");
    let redis = redis(&env).await;
    let stream = redis.key("events");
    let dead = DeadLetters::new(redis.clone());
    let handler = Arc::new(Recorder::default());
    *handler.reject.lock().unwrap() = Some("bad".into());
    let c = Consumer::spawn(
        redis.clone(),
        config(&stream, "c"),
        handler.clone(),
        dead.clone(),
    );
    publish(&redis, &stream, &["ok1", "bad", "ok2"]).await;
    assert!(eventually(WAIT, || async { handler.count("ok2") == 1 }).await);
    assert!(eventually(WAIT, || async { dead.count().await.unwrap() == 1 }).await);
    let letters = dead.all().await.unwrap();
    assert_eq!(letters[0].deliveries, 3);
    assert!(letters[0].error.contains("cannot apply bad"));
    assert_eq!(handler.count("bad"), 0);
    assert_eq!(c.metrics().dead_lettered(), 1);
    c.shutdown().await;
}

/// Remembers the trace context its handler ran in.
#[derive(Default)]
struct TraceRecorder {
    seen: Mutex<Vec<String>>,
}

#[tonic::async_trait]
impl Handler for TraceRecorder {
    async fn handle(&self, _events: &[Event]) -> Result<(), HandlerError> {
        let current = talentmesh_mesh::telemetry::current_traceparent().unwrap_or_default();
        self.seen.lock().unwrap().push(current);
        Ok(())
    }
}

#[tokio::test]
async fn the_handler_runs_in_the_trace_of_the_request_that_recorded_the_event() {
    let env = TestEnv::new("bus");
    let redis = redis(&env).await;
    let stream = redis.key("events");
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let envelope = Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: "test.Event".into(),
        subject: "traced".into(),
        entity_version: 1,
        traceparent: format!("00-{trace_id}-00f067aa0ba902b7-01"),
        ..Default::default()
    };
    let mut conn = redis.get().await.unwrap();
    redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("envelope")
        .arg(envelope.encode_to_vec())
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let handler = Arc::new(TraceRecorder::default());
    let c = Consumer::spawn(
        redis.clone(),
        config(&stream, "c"),
        handler.clone(),
        DeadLetters::new(redis.clone()),
    );
    assert!(eventually(WAIT, || async { !handler.seen.lock().unwrap().is_empty() }).await);
    let seen = handler.seen.lock().unwrap()[0].clone();
    assert!(
        seen.contains(trace_id),
        "handler ran in trace {seen:?}, not the producer's"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn consumers_gone_idle_with_nothing_pending_are_forgotten_and_busy_ones_kept() {
    let env = TestEnv::new("bus");
    let redis = redis(&env).await;
    let stream = redis.key("events");
    let mut conn = redis.get().await.unwrap();
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("g")
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    publish(&redis, &stream, &["held"]).await;
    // "holder" takes the entry and never acknowledges it; "ghost" joined and holds nothing.
    redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g")
        .arg("holder")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async::<redis::Value>(&mut conn)
        .await
        .unwrap();
    redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(&stream)
        .arg("g")
        .arg("ghost")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let consumers = || {
        let redis = redis.clone();
        let stream = stream.clone();
        async move {
            let mut conn = redis.get().await.unwrap();
            let reply: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
                .arg("CONSUMERS")
                .arg(&stream)
                .arg("g")
                .query_async(&mut conn)
                .await
                .unwrap();
            let mut names: Vec<String> = reply
                .iter()
                .filter_map(|c| match c.get("name") {
                    Some(redis::Value::BulkString(b)) => {
                        Some(String::from_utf8_lossy(b).into_owned())
                    }
                    _ => None,
                })
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(consumers().await, vec!["ghost", "holder"]);

    let handler = Arc::new(Recorder::default());
    let mut cfg = config(&stream, "live");
    // Long enough that the held entry is not claimed during the test.
    cfg.claim_idle = Duration::from_secs(60);
    cfg.forget_idle_consumers = Duration::from_millis(300);
    let c = Consumer::spawn(redis.clone(), cfg, handler, DeadLetters::new(redis.clone()));
    assert!(
        eventually(WAIT, || async {
            consumers().await == vec!["holder", "live"]
        })
        .await,
        "consumers now: {:?}",
        consumers().await
    );
    c.shutdown().await;
}
