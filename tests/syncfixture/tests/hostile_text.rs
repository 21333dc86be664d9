//! Text the stores cannot hold, and dead letters named by the ids the admin API answers with.
//!
//! The fixture's notes service takes any text (it has no boundary validator on purpose), so
//! these tests feed the projections directly what a service's validator would refuse: a NUL
//! must not turn an event into a poison event that is dead-lettered for ever. And the ids a
//! replay answers with must be the ids its failed letters are stored under afterwards, so an
//! admin can discard exactly what failed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Harness;
use talentmesh_proto::sync::v1::{
    DeadLetter, DiscardDeadLettersRequest, ListDeadLettersRequest, ReplayDeadLettersRequest,
};
use talentmesh_syncfixture::pb::CreateNoteRequest;

const SETTLE: Duration = Duration::from_secs(60);

/// The dead letters as the admin API lists them, oldest first.
async fn letters(h: &Harness) -> Vec<DeadLetter> {
    h.admin
        .clone()
        .list_dead_letters(h.admin_request(ListDeadLettersRequest {
            page_size: 10,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .dead_letters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_the_text_reaches_every_projection_and_is_never_dead_lettered() {
    let h = Harness::start().await;
    let mut notes = h.notes.clone();
    let note = notes
        .create_note(CreateNoteRequest {
            title: "nul\u{0}title".into(),
            body: "body with \u{0} and a \u{1} in it".into(),
            tags: vec!["t\u{0}ag".into(), "plain".into()],
        })
        .await
        .expect("create")
        .into_inner()
        .note
        .expect("note");
    h.create_notes("after", 3, 1).await;
    assert!(h.wait_idle(SETTLE).await, "the groups did not catch up");
    assert_eq!(
        h.status().await.dead_letters,
        0,
        "the NUL was dead-lettered"
    );
    // PostgreSQL holds it with the NUL taken out, searchable by its words.
    let title: String = sqlx::query_scalar("SELECT doc->>'title' FROM note_search WHERE id = $1")
        .bind(&note.id)
        .fetch_one(h.app.stores.postgres().unwrap())
        .await
        .expect("the note is in note_search");
    assert_eq!(title, "nultitle");
    assert_eq!(
        h.pg_count(
            "SELECT COUNT(*) FROM note_search WHERE search @@ to_tsquery('simple', 'nultitle')"
        )
        .await,
        1
    );
    // Neo4j and Redis hold it too.
    assert_eq!(
        h.neo4j_count(
            "MATCH (n:Note {ns: $ns}) WHERE n.title STARTS WITH 'nul' RETURN count(n) AS n"
        )
        .await,
        1
    );
    assert_eq!(h.redis_live_notes().await, 4);
    // Nothing drifted: the stored hash is the entity's, whatever the store had to take out.
    let (drift, op) = h.drift().await;
    assert_eq!(drift, 0, "{op:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_a_replay_reports_as_failed_are_discarded_by_the_ids_it_answered() {
    let h = Harness::start().await;
    h.app.poison.set(true);
    h.create_notes("poison", 2, 1).await;
    assert!(
        talentmesh_testkit::eventually(SETTLE, || async { h.status().await.dead_letters == 2 })
            .await,
        "the poison events were not dead-lettered"
    );
    let mut admin = h.admin.clone();
    let before = letters(&h).await;
    assert_eq!(before.len(), 2);

    // Replaying while the cause is still there fails again; the answer names the letters.
    let replay = admin
        .replay_dead_letters(h.admin_request(ReplayDeadLettersRequest {
            ids: vec![before[0].id.clone()],
            all: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replay.replayed, 0);
    assert_eq!(replay.failed.len(), 1);
    let failed = &replay.failed[0];
    assert_eq!(failed.deliveries, before[0].deliveries + 1);
    let stored = letters(&h).await;
    assert!(
        stored
            .iter()
            .any(|d| d.id == failed.id && d.deliveries == failed.deliveries),
        "the failed letter {} is stored under another id: {stored:?}",
        failed.id
    );

    // Discarding by the answered id removes exactly that letter.
    let discarded = admin
        .discard_dead_letters(h.admin_request(DiscardDeadLettersRequest {
            ids: vec![failed.id.clone()],
            all: false,
        }))
        .await
        .unwrap()
        .into_inner()
        .discarded;
    assert_eq!(discarded, 1);
    let left = letters(&h).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, before[1].id);
}
