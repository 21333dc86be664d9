//! The data-sync framework end to end on the real servers, through the fixture's RPC: writes
//! land in MySQL with their events, the three projections converge, the checker finds and
//! repairs drift, poison events are dead-lettered and replayed, versions arriving out of order
//! end in the in-order state, and a wiped Redis is rebuilt from the outbox retention.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Harness;
use talentmesh_proto::sync::v1::{ListDeadLettersRequest, OperationKind, ReplayDeadLettersRequest};
use talentmesh_syncfixture::notes::change_of_note;
use talentmesh_syncfixture::pb::{DeleteNoteRequest, Note, UpdateNoteRequest};
use talentmesh_syncfixture::projections;

const SETTLE: Duration = Duration::from_secs(60);

/// The fixture is served by the service kit like every service: health for each served
/// service by its proto name, reflection of exactly those (its own contract included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_reports_health_and_reflection_for_exactly_what_is_served() {
    let h = Harness::start().await;
    talentmesh_testkit::assert_serving_exactly(
        &h.server,
        &[
            "talentmesh.sync.v1.SyncAdminService",
            "talentmesh.syncfixture.v1.NoteService",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_creates_updates_and_deletes_converges_in_every_store_with_zero_drift() {
    let h = Harness::start().await;
    let notes = h.create_notes("burst", 600, 16).await;
    assert_eq!(notes.len(), 600);
    let mut client = h.notes.clone();
    for n in notes.iter().take(100) {
        client
            .update_note(UpdateNoteRequest {
                id: n.id.clone(),
                expected_version: 1,
                title: format!("{} (edited)", n.title),
                body: "edited".into(),
                tags: vec!["edited".into()],
            })
            .await
            .expect("update");
    }
    for n in notes.iter().skip(500) {
        client
            .delete_note(DeleteNoteRequest {
                id: n.id.clone(),
                expected_version: 1,
            })
            .await
            .expect("delete");
    }
    // A stale version never overwrites.
    let stale = client
        .update_note(UpdateNoteRequest {
            id: notes[0].id.clone(),
            expected_version: 1,
            title: "lost update".into(),
            body: String::new(),
            tags: vec![],
        })
        .await
        .expect_err("stale version must fail");
    assert_eq!(stale.code(), tonic::Code::Aborted);

    assert!(
        h.wait_idle(SETTLE).await,
        "sync did not catch up: {:?}",
        h.status().await
    );
    let (drift, op) = h.drift().await;
    assert_eq!(drift, 0, "drift after a clean burst: {op:?}");
    assert_eq!(
        h.pg_count("SELECT COUNT(*) FROM note_search WHERE NOT deleted")
            .await,
        500
    );
    assert_eq!(
        h.pg_count("SELECT COUNT(*) FROM note_search WHERE doc->>'body' = 'edited'")
            .await,
        100
    );
    assert_eq!(
        h.neo4j_count("MATCH (n:Note {ns: $ns}) WHERE NOT n.deleted RETURN count(n) AS n")
            .await,
        500
    );
    assert_eq!(
        h.neo4j_count(
            "MATCH (:Note {ns: $ns})-[:TAGGED]->(:Tag {name: 'edited'}) RETURN count(*) AS n"
        )
        .await,
        100
    );
    assert_eq!(h.redis_live_notes().await, 500);
    let status = h.status().await;
    assert_eq!(status.dead_letters, 0);
    let counters = status.counters.expect("counters");
    assert!(
        counters.published >= 700,
        "published {}",
        counters.published
    );
    assert!(
        counters.delivered >= 3 * 700,
        "delivered {}",
        counters.delivered
    );
    assert!((counters.success_rate - 1.0).abs() < f64::EPSILON);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_reports_missing_stale_and_orphaned_records_and_repair_fixes_them() {
    let h = Harness::start().await;
    let notes = h.create_notes("drift", 50, 8).await;
    assert!(h.wait_idle(SETTLE).await);
    // Break each store in its own way, behind the framework's back.
    sqlx::query("DELETE FROM note_search WHERE id = $1")
        .bind(&notes[0].id)
        .execute(h.app.stores.postgres().unwrap())
        .await
        .unwrap();
    let mut redis = h.env.redis().await;
    let key = format!("{}note:{}", h.env.redis_prefix, notes[1].id);
    redis::cmd("HSET")
        .arg(&key)
        .arg("_v")
        .arg(0)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    h.app
        .stores
        .neo4j()
        .unwrap()
        .run(
            neo4rs::query(
                "CREATE (:Note {key: $ns + '/00000000-0000-0000-0000-000000000000', ns: $ns, \
                 id: '00000000-0000-0000-0000-000000000000', version: 1, deleted: false, hash: 'x'})",
            )
            .param("ns", h.env.neo4j_namespace.clone()),
        )
        .await
        .unwrap();

    let (drift, op) = h.drift().await;
    assert_eq!(drift, 3, "{op:?}");
    let by_name = |name: &str| {
        op.projections
            .iter()
            .find(|p| p.projection == name)
            .cloned()
            .expect(name)
    };
    assert_eq!(by_name(projections::SEARCH).missing, 1);
    assert_eq!(by_name(projections::CACHE).stale, 1);
    assert_eq!(by_name(projections::GRAPH).orphaned, 1);
    assert_eq!(by_name(projections::SEARCH).scanned, 50);

    let repair = h.operation(OperationKind::Repair).await;
    assert_eq!(talentmesh_storage::sync::drift_total(&repair), 3);
    assert_eq!(
        repair.projections.iter().map(|p| p.repaired).sum::<i64>(),
        3
    );
    let (after, op) = h.drift().await;
    assert_eq!(after, 0, "{op:?}");
    assert_eq!(h.pg_count("SELECT COUNT(*) FROM note_search").await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_two_delivered_before_version_one_ends_in_the_in_order_state() {
    let h = Harness::start().await;
    let v1 = Note {
        id: uuid::Uuid::now_v7().to_string(),
        version: 1,
        title: "first".into(),
        body: "one".into(),
        tags: vec!["a".into()],
        deleted: false,
    };
    let v2 = Note {
        version: 2,
        title: "second".into(),
        tags: vec!["b".into()],
        ..v1.clone()
    };
    let all = projections::all(&h.app.stores, &Default::default()).unwrap();
    for p in &all {
        p.apply(&[change_of_note(&v2)]).await.unwrap();
        p.apply(&[change_of_note(&v1)]).await.unwrap();
        // A duplicate of the newest changes nothing either.
        p.apply(&[change_of_note(&v2)]).await.unwrap();
        let stamps = p.stamps(std::slice::from_ref(&v1.id)).await.unwrap();
        assert_eq!(stamps.len(), 1, "{}", p.name());
        assert_eq!(stamps[0].version, 2, "{}", p.name());
        assert_eq!(
            stamps[0].hash,
            change_of_note(&v2).content_hash(),
            "{}",
            p.name()
        );
    }
    let title: String = sqlx::query_scalar("SELECT doc->>'title' FROM note_search WHERE id = $1")
        .bind(&v1.id)
        .fetch_one(h.app.stores.postgres().unwrap())
        .await
        .unwrap();
    assert_eq!(title, "second");
    assert_eq!(
        h.neo4j_count(
            "MATCH (:Note {ns: $ns, title: 'second'})-[:TAGGED]->(t:Tag) RETURN count(t) AS n"
        )
        .await,
        1
    );
    // A tombstone wins over any older state that arrives after it.
    let gone = Note {
        version: 3,
        deleted: true,
        ..Note::default()
    };
    let gone = Note {
        id: v1.id.clone(),
        ..gone
    };
    for p in &all {
        p.apply(&[change_of_note(&gone)]).await.unwrap();
        p.apply(&[change_of_note(&v2)]).await.unwrap();
        let stamps = p.stamps(std::slice::from_ref(&v1.id)).await.unwrap();
        assert!(
            stamps[0].deleted && stamps[0].version == 3,
            "{}: {stamps:?}",
            p.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_after_its_tries_the_stream_flows_on_and_replay_applies_it()
{
    let h = Harness::start().await;
    h.app.poison.set(true);
    let poison = h.create_notes("poison", 1, 1).await;
    let after = h.create_notes("healthy", 20, 4).await;
    assert!(
        talentmesh_testkit::eventually(SETTLE, || async { h.status().await.dead_letters == 1 })
            .await,
        "the poison event was not dead-lettered"
    );
    // The events behind it were applied: the group did not stall.
    assert!(h.wait_idle(SETTLE).await);
    assert_eq!(
        h.pg_count("SELECT COUNT(*) FROM note_search").await,
        20,
        "only the poison note is missing from search"
    );
    let mut admin = h.admin.clone();
    let letters = admin
        .list_dead_letters(h.admin_request(ListDeadLettersRequest {
            page_size: 10,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .dead_letters;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].group, projections::SEARCH);
    assert_eq!(letters[0].subject, format!("notes/{}", poison[0].id));
    assert!(letters[0].error.contains("poison"), "{}", letters[0].error);
    assert_eq!(letters[0].deliveries, 3);
    assert!(after.len() == 20);

    // Replaying before the fix keeps it, with the error.
    let again = admin
        .replay_dead_letters(h.admin_request(ReplayDeadLettersRequest {
            ids: vec![letters[0].id.clone()],
            all: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.replayed, 0);
    assert_eq!(again.failed.len(), 1);

    h.app.poison.set(false);
    let fixed = admin
        .replay_dead_letters(h.admin_request(ReplayDeadLettersRequest {
            ids: vec![],
            all: true,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fixed.replayed, 1, "{fixed:?}");
    assert_eq!(h.status().await.dead_letters, 0);
    assert_eq!(h.pg_count("SELECT COUNT(*) FROM note_search").await, 21);
    let (drift, op) = h.drift().await;
    assert_eq!(drift, 0, "{op:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_redis_gets_its_stream_rebuilt_from_the_outbox_and_the_cache_refilled() {
    let h = Harness::start().await;
    let notes = h.create_notes("wipe", 300, 8).await;
    assert_eq!(notes.len(), 300);
    assert!(h.wait_idle(SETTLE).await);
    assert_eq!(h.redis_live_notes().await, 300);

    // Everything the service had in Redis is gone: stream, groups, cache, epoch.
    let keys = h.env.redis_keys("*").await;
    assert!(keys.len() > 300);
    let mut redis = h.env.redis().await;
    redis::cmd("DEL")
        .arg(&keys)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    assert_eq!(h.redis_live_notes().await, 0);

    assert!(
        talentmesh_testkit::eventually(SETTLE, || async { h.redis_live_notes().await == 300 })
            .await,
        "cache not refilled: {}",
        h.redis_live_notes().await
    );
    assert!(h.app.sync.relay().unwrap().metrics().republished() >= 1);
    assert!(h.wait_idle(SETTLE).await);
    let (drift, op) = h.drift().await;
    assert_eq!(drift, 0, "{op:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_backfills_a_wiped_projection_with_progress_while_writes_go_on() {
    let h = Harness::start().await;
    let first = h.create_notes("rebuild", 400, 8).await;
    assert!(h.wait_idle(SETTLE).await);
    // The search table loses everything (a new index, a restored backup...).
    sqlx::query("TRUNCATE note_search")
        .execute(h.app.stores.postgres().unwrap())
        .await
        .unwrap();
    let writes = tokio::spawn(common::create_notes(h.notes.clone(), "during", 200, 4));
    let op = h.operation(OperationKind::Rebuild).await;
    let more = writes.await.unwrap();
    let search = op
        .projections
        .iter()
        .find(|p| p.projection == projections::SEARCH)
        .expect("search progress");
    assert!(search.done);
    assert!(
        search.scanned >= 400 && search.scanned >= search.total.min(400),
        "{search:?}"
    );
    assert!(search.repaired >= 400, "{search:?}");
    assert!(h.wait_idle(SETTLE).await);
    let (drift, check) = h.drift().await;
    assert_eq!(drift, 0, "{check:?}");
    assert_eq!(
        h.pg_count("SELECT COUNT(*) FROM note_search").await,
        (first.len() + more.len()) as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_of_a_write_travels_in_its_event_and_metrics_count_the_flow() {
    let h = Harness::start().await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let mut req = tonic::Request::new(talentmesh_syncfixture::pb::CreateNoteRequest {
        title: "traced".into(),
        body: String::new(),
        tags: vec![],
    });
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-b7ad6b7169203331-01")
            .parse()
            .unwrap(),
    );
    let mut client = h.notes.clone();
    client.create_note(req).await.unwrap();
    let envelope: Vec<u8> = sqlx::query_scalar("SELECT envelope FROM outbox")
        .fetch_one(h.app.stores.mysql().unwrap())
        .await
        .unwrap();
    let envelope =
        <talentmesh_proto::events::v1::Envelope as prost::Message>::decode(envelope.as_slice())
            .unwrap();
    assert!(
        envelope.traceparent.contains(trace_id),
        "event carries {:?}",
        envelope.traceparent
    );

    assert!(h.wait_idle(SETTLE).await);
    // The sampler refreshes the series every two seconds.
    let metrics_url = format!("http://{}/metrics", h.server.metrics);
    let text = talentmesh_testkit::eventually_value(SETTLE, || async {
        let text = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
        text.contains("talentmesh_sync_events_delivered_total{")
            .then_some(text)
    })
    .await
    .expect("sync series on /metrics");
    for series in [
        "talentmesh_sync_events_published_total",
        "talentmesh_sync_lag_entries{",
        "talentmesh_sync_lag_seconds{",
        "talentmesh_sync_dead_letters",
        "talentmesh_sync_success_ratio",
    ] {
        assert!(text.contains(series), "{series} missing from /metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_checks_find_and_repair_drift_without_being_asked() {
    let h = Harness::start_with(talentmesh_syncfixture::AppOptions {
        check_every: Some(Duration::from_secs(1)),
        ..Default::default()
    })
    .await;
    let notes = h.create_notes("scheduled", 20, 4).await;
    assert!(h.wait_idle(SETTLE).await);
    let mut redis = h.env.redis().await;
    let key = format!("{}note:{}", h.env.redis_prefix, notes[3].id);
    redis::cmd("DEL")
        .arg(&key)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    assert!(
        talentmesh_testkit::eventually(SETTLE, || async { h.redis_live_notes().await == 20 }).await,
        "the scheduled repair did not restore the cache entry"
    );
    // The counters are added when the projection's check ends, a moment after its repair
    // wrote the entry back: wait for them too.
    let counted = talentmesh_testkit::eventually_value(SETTLE, || async {
        let counters = h.status().await.counters.expect("counters");
        (counters.drift_found >= 1 && counters.drift_repaired >= 1).then_some(counters)
    })
    .await;
    assert!(
        counted.is_some(),
        "drift found and repaired never counted: {:?}",
        h.status().await.counters
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_is_read_from_the_stream_not_from_redis_counters() {
    let h = Harness::start().await;
    assert_eq!(h.create_notes("lag", 20, 4).await.len(), 20);
    assert!(h.wait_idle(SETTLE).await);
    let stream = h.status().await.streams[0].stream.clone();
    let mut redis = h.env.redis().await;
    // Two groups nobody consumes: one at the end of the stream whose counter says it read
    // nothing (as after a restart), for which Redis reports every entry as lag; one at the
    // start, for which every entry is truly waiting.
    for (group, at, read) in [("caught_up", "$", Some(0)), ("behind", "0", None)] {
        let mut create = redis::cmd("XGROUP");
        create.arg("CREATE").arg(&stream).arg(group).arg(at);
        if let Some(read) = read {
            create.arg("ENTRIESREAD").arg(read);
        }
        create.query_async::<()>(&mut redis).await.unwrap();
    }
    let length: i64 = redis::cmd("XLEN")
        .arg(&stream)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(length >= 20);

    let status = h.status().await;
    let group = |name: &str| {
        status.streams[0]
            .groups
            .iter()
            .find(|g| g.group == name)
            .unwrap_or_else(|| panic!("no group {name} in {status:?}"))
            .clone()
    };
    let caught_up = group("caught_up");
    assert_eq!((caught_up.lag_entries, caught_up.lag_seconds), (0, 0.0));
    let behind = group("behind");
    assert_eq!(behind.lag_entries, length);
    assert!(behind.lag_seconds > 0.0, "{behind:?}");
}
