//! The outbox against the real MariaDB and Redis: what a service records in a committed
//! transaction reaches its stream (once per relay round, in id order, nothing skipped), what it
//! rolls back never does, one relay publishes at a time, a crash between publish and mark
//! re-publishes instead of losing, and a stale versioned update changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use sqlx::MySqlPool;
use talentmesh_proto::events::v1::Envelope;
use talentmesh_storage::outbox::{
    Conflict, EventDraft, Outbox, RecordedEvent, Relay, RelayConfig, VersionedUpdate,
};
use talentmesh_storage::{Error, Needs, RedisPool, StorageConfig, Stores};
use talentmesh_testkit::{eventually, scalar_i64, TestEnv};

const WAIT: Duration = Duration::from_secs(15);

struct Fixture {
    env: TestEnv,
    pool: MySqlPool,
    redis: RedisPool,
    outbox: Outbox,
}

async fn fixture() -> Fixture {
    let env = TestEnv::new("outbox");
    let mut vars = env.env();
    let needs = Needs {
        mysql: true,
        postgres: false,
        neo4j: false,
        redis: true,
    };
    let config = StorageConfig::load(&mut vars, "outbox", needs);
    vars.finish().unwrap();
    let stores = Stores::connect(&config, Default::default()).await.unwrap();
    let pool = stores.mysql().unwrap().clone();
    Outbox::install(&pool).await.unwrap();
    // Installing twice is harmless (every start does it).
    Outbox::install(&pool).await.unwrap();
    sqlx::query(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, \
         version BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    Fixture {
        redis: stores.redis().unwrap().clone(),
        pool,
        outbox: Outbox::new("outbox-test"),
        env,
    }
}

fn draft(item: i64, version: i64) -> EventDraft {
    EventDraft {
        event_type: "talentmesh.test.v1.ItemChanged".into(),
        subject: format!("items/{item}"),
        entity_version: version,
        payload: prost_types::Any {
            type_url: "type.googleapis.com/talentmesh.test.v1.ItemChanged".into(),
            value: format!("item {item} v{version}").into_bytes(),
        },
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        tracestate: String::new(),
    }
}

impl Fixture {
    /// Creates item `item` at version 1 and records its event, in one transaction.
    async fn create(&self, item: i64) -> RecordedEvent {
        let mut tx = self.pool.begin().await.unwrap();
        sqlx::query("INSERT INTO items (id, name, version) VALUES (?, ?, 1)")
            .bind(item)
            .bind(format!("item {item}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        let recorded = self.outbox.record(&mut tx, draft(item, 1)).await.unwrap();
        tx.commit().await.unwrap();
        recorded
    }

    /// The `id` field of every stream entry, in stream order.
    async fn stream_ids(&self) -> Vec<String> {
        self.stream().await.into_iter().map(|(id, _)| id).collect()
    }

    /// Every stream entry: its `id` field and the decoded envelope.
    async fn stream(&self) -> Vec<(String, Envelope)> {
        let mut conn = self.env.redis().await;
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.redis.key("events"))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        reply
            .ids
            .into_iter()
            .map(|entry| {
                let id: String = entry.get("id").unwrap();
                let bytes: Vec<u8> = entry.get("envelope").unwrap();
                (id, Envelope::decode(bytes.as_slice()).unwrap())
            })
            .collect()
    }

    async fn unpublished(&self) -> i64 {
        scalar_i64(
            &self.pool,
            "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL",
        )
        .await
    }

    /// Waits until the stream holds `n` entries and no row is waiting.
    async fn settled(&self, n: usize) -> bool {
        eventually(WAIT, || async {
            self.stream_ids().await.len() >= n && self.unpublished().await == 0
        })
        .await
    }
}

fn counts(ids: &[String]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id.clone()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn committed_events_reach_the_stream_once_in_id_order_and_are_marked() {
    let f = fixture().await;
    let mut recorded = Vec::new();
    for item in 1..=20 {
        recorded.push(f.create(item).await);
    }
    let relay = Relay::spawn(f.pool.clone(), f.redis.clone(), RelayConfig::default());
    assert!(f.settled(20).await, "not all events were published");
    // Idle rounds after the last batch must not publish anything again.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stream = f.stream().await;
    let expected: Vec<String> = recorded.iter().map(|r| r.event_id.to_string()).collect();
    let got: Vec<String> = stream.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(got, expected, "stream differs from the outbox in id order");
    for (item, (id, envelope)) in (1..=20).zip(&stream) {
        assert_eq!(&envelope.id, id);
        assert_eq!(
            uuid::Uuid::parse_str(id).unwrap().get_version_num(),
            7,
            "event ids are UUID v7"
        );
        assert_eq!(envelope.source, "outbox-test");
        assert_eq!(envelope.r#type, "talentmesh.test.v1.ItemChanged");
        assert_eq!(envelope.subject, format!("items/{item}"));
        assert_eq!(envelope.entity_version, 1);
        assert!(envelope.time.is_some());
        assert_eq!(
            envelope.payload.as_ref().unwrap().value,
            format!("item {item} v1").into_bytes()
        );
    }
    let published = scalar_i64(
        &f.pool,
        "SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL",
    )
    .await;
    assert_eq!(published, 20);
    assert_eq!(relay.metrics().published(), 20);
    assert!(relay.metrics().is_leader());
    relay.shutdown().await;
}

#[tokio::test]
async fn a_rolled_back_transaction_publishes_nothing() {
    let f = fixture().await;
    let relay = Relay::spawn(f.pool.clone(), f.redis.clone(), RelayConfig::default());
    let mut tx = f.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO items (id, name, version) VALUES (1, 'gone', 1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    f.outbox.record(&mut tx, draft(1, 1)).await.unwrap();
    tx.rollback().await.unwrap();
    // A committed marker after the rollback: once it is on the stream, the relay has passed
    // the rolled-back id.
    let marker = f.create(2).await;
    assert!(f.settled(1).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.stream_ids().await, vec![marker.event_id.to_string()]);
    assert_eq!(scalar_i64(&f.pool, "SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(scalar_i64(&f.pool, "SELECT COUNT(*) FROM items").await, 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn a_row_committed_after_a_later_id_is_still_published() {
    let f = fixture().await;
    let relay = Relay::spawn(f.pool.clone(), f.redis.clone(), RelayConfig::default());

    // The held transaction takes the lower outbox id but commits last.
    let mut held = f.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO items (id, name, version) VALUES (1, 'slow', 1)")
        .execute(&mut *held)
        .await
        .unwrap();
    let slow = f.outbox.record(&mut held, draft(1, 1)).await.unwrap();
    let fast = f.create(2).await;
    assert!(slow.row_id < fast.row_id, "{slow:?} {fast:?}");

    assert!(
        eventually(WAIT, || async {
            f.stream_ids().await == vec![fast.event_id.to_string()]
        })
        .await,
        "the later committed event was not published while the earlier id was open"
    );
    // Let the relay poll a few more times past the higher id before the lower one commits.
    tokio::time::sleep(Duration::from_millis(200)).await;
    held.commit().await.unwrap();

    assert!(
        f.settled(2).await,
        "the late-committing row was skipped: {:?}",
        f.stream_ids().await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ids = f.stream_ids().await;
    assert_eq!(
        ids,
        vec![fast.event_id.to_string(), slow.event_id.to_string()]
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn two_relays_publish_each_event_once_and_the_standby_takes_over() {
    let f = fixture().await;
    let first = Relay::spawn(f.pool.clone(), f.redis.clone(), RelayConfig::default());
    let second = Relay::spawn(f.pool.clone(), f.redis.clone(), RelayConfig::default());
    let mut recorded = Vec::new();
    for item in 1..=50 {
        recorded.push(f.create(item).await);
    }
    assert!(f.settled(50).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ids = f.stream_ids().await;
    assert_eq!(ids.len(), 50, "an event was published twice");
    assert!(counts(&ids).values().all(|&n| n == 1));
    assert_eq!(
        first.metrics().is_leader() as u8 + second.metrics().is_leader() as u8,
        1,
        "exactly one relay leads"
    );
    assert_eq!(
        first.metrics().published() + second.metrics().published(),
        50
    );

    // Kill the leader like a crashed process: its connection closes and the standby leads.
    let (leader, standby) = if first.metrics().is_leader() {
        (first, second)
    } else {
        (second, first)
    };
    leader.abort();
    for item in 51..=60 {
        recorded.push(f.create(item).await);
    }
    assert!(f.settled(60).await, "the standby did not take over");
    assert!(standby.metrics().is_leader());
    let ids = f.stream_ids().await;
    let seen = counts(&ids);
    for r in &recorded {
        assert!(seen.contains_key(&r.event_id.to_string()), "{r:?} lost");
    }
    standby.shutdown().await;
}

#[tokio::test]
async fn rows_published_but_not_marked_are_published_again_after_a_crash() {
    let f = fixture().await;
    let mut recorded = Vec::new();
    for item in 1..=10 {
        recorded.push(f.create(item).await);
    }
    let relay = Relay::spawn(f.pool.clone(), f.redis.clone(), RelayConfig::default());
    assert!(f.settled(10).await);
    relay.abort();

    // The state a crash between XADD and UPDATE leaves: on the stream, not marked.
    let crashed: Vec<i64> = recorded[..4].iter().map(|r| r.row_id).collect();
    sqlx::query("UPDATE outbox SET published_at = NULL WHERE id <= ?")
        .bind(crashed[3])
        .execute(&f.pool)
        .await
        .unwrap();
    assert_eq!(f.unpublished().await, 4);

    let restarted = Relay::spawn(f.pool.clone(), f.redis.clone(), RelayConfig::default());
    assert!(
        f.settled(14).await,
        "unmarked rows were not published again"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ids = f.stream_ids().await;
    assert_eq!(ids.len(), 14);
    let seen = counts(&ids);
    for (i, r) in recorded.iter().enumerate() {
        let expected = if i < 4 { 2 } else { 1 };
        assert_eq!(seen.get(&r.event_id.to_string()), Some(&expected), "{r:?}");
    }
    // The duplicates come after the first copies, still in id order among themselves.
    let tail: Vec<String> = recorded[..4]
        .iter()
        .map(|r| r.event_id.to_string())
        .collect();
    assert_eq!(&ids[10..], tail.as_slice());
    restarted.shutdown().await;
}

#[tokio::test]
async fn a_stale_version_update_conflicts_and_changes_nothing() {
    let f = fixture().await;
    f.create(7).await;

    let mut tx = f.pool.begin().await.unwrap();
    let v2 = VersionedUpdate::new("items")
        .set("name", "renamed")
        .execute(&mut tx, 7_i64, 1)
        .await
        .unwrap();
    assert_eq!(v2, 2);
    f.outbox.record(&mut tx, draft(7, v2)).await.unwrap();
    tx.commit().await.unwrap();

    // A writer that read version 1 before the rename.
    let mut tx = f.pool.begin().await.unwrap();
    let stale = VersionedUpdate::new("items")
        .set("name", "lost update")
        .execute(&mut tx, 7_i64, 1)
        .await;
    match stale {
        Err(Error::Conflict(conflict)) => assert_eq!(
            conflict,
            Conflict {
                table: "items",
                id: "7".into(),
                expected: 1,
                actual: Some(2)
            }
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    tx.rollback().await.unwrap();
    let (name, version): (String, i64) =
        sqlx::query_as("SELECT name, version FROM items WHERE id = 7")
            .fetch_one(&f.pool)
            .await
            .unwrap();
    assert_eq!((name.as_str(), version), ("renamed", 2));
    assert_eq!(scalar_i64(&f.pool, "SELECT COUNT(*) FROM outbox").await, 2);

    // A missing row is a conflict too, with nothing found.
    let mut tx = f.pool.begin().await.unwrap();
    let missing = VersionedUpdate::new("items")
        .set("name", "x")
        .execute(&mut tx, 8_i64, 1)
        .await;
    assert!(
        matches!(missing, Err(Error::Conflict(Conflict { actual: None, .. }))),
        "{missing:?}"
    );
    // Identity and version are not the caller's to set.
    let bad = VersionedUpdate::new("items")
        .set("version", 99_i64)
        .execute(&mut tx, 7_i64, 2)
        .await;
    assert!(matches!(bad, Err(Error::InvalidUpdate(_))), "{bad:?}");

    let api: talentmesh_mesh::ApiError = Error::Conflict(Conflict {
        table: "items",
        id: "7".into(),
        expected: 1,
        actual: Some(2),
    })
    .into();
    assert_eq!(api.code, talentmesh_mesh::ErrorCode::Aborted);
}

#[tokio::test]
async fn published_rows_past_the_retention_are_deleted_and_waiting_ones_kept() {
    let f = fixture().await;
    for item in 1..=5 {
        f.create(item).await;
    }
    let config = RelayConfig {
        retention: Duration::ZERO,
        sweep_every: Duration::from_millis(50),
        ..RelayConfig::default()
    };
    let mut held = f.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO items (id, name, version) VALUES (6, 'held', 1)")
        .execute(&mut *held)
        .await
        .unwrap();
    let late = f.outbox.record(&mut held, draft(6, 1)).await.unwrap();
    let relay = Relay::spawn(f.pool.clone(), f.redis.clone(), config);
    assert!(f.settled(5).await);
    assert!(
        eventually(WAIT, || async {
            scalar_i64(&f.pool, "SELECT COUNT(*) FROM outbox").await == 0
        })
        .await,
        "published rows were not swept"
    );
    held.commit().await.unwrap();
    assert!(f.settled(6).await);
    assert!(f.stream_ids().await.contains(&late.event_id.to_string()));
    assert!(relay.metrics().swept() >= 5);
    relay.shutdown().await;
}
