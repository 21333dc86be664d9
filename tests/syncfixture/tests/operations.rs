//! Sync operations as long-running operations (AIP-151) through the fixture's admin contract:
//! listed newest first in pages, filtered by state, and cancelled cooperatively: a running
//! repair stops at its next batch boundary, ends CANCELLED and keeps what it repaired.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Harness;
use talentmesh_proto::sync::v1::{
    CancelOperationRequest, GetOperationRequest, ListOperationsRequest, ListOperationsResponse,
    Operation, OperationKind, OperationState,
};
use talentmesh_syncfixture::gate::CheckGate;
use talentmesh_syncfixture::{projections, AppOptions};
use tonic::Code;

const SETTLE: Duration = Duration::from_secs(60);

async fn get(h: &Harness, name: &str) -> Operation {
    h.admin
        .clone()
        .get_operation(h.admin_request(GetOperationRequest { name: name.into() }))
        .await
        .expect("get operation")
        .into_inner()
        .operation
        .expect("operation")
}

async fn list(
    h: &Harness,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<ListOperationsResponse, tonic::Status> {
    h.admin
        .clone()
        .list_operations(h.admin_request(ListOperationsRequest {
            page_size,
            page_token: page_token.into(),
            filter: filter.into(),
        }))
        .await
        .map(|r| r.into_inner())
}

async fn cancel(h: &Harness, name: &str) -> Result<Operation, tonic::Status> {
    h.admin
        .clone()
        .cancel_operation(h.admin_request(CancelOperationRequest { name: name.into() }))
        .await
        .map(|r| r.into_inner().operation.expect("operation"))
}

/// Polls operation `name` until `done` holds, for at most a minute.
async fn wait_for(
    h: &Harness,
    name: &str,
    what: &str,
    done: impl Fn(&Operation) -> bool,
) -> Operation {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let op = get(h, name).await;
        if done(&op) {
            return op;
        }
        assert!(Instant::now() < deadline, "{what} did not happen: {op:?}");
        // The pause of a bounded poll (the deadline asserted above ends it).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names(page: &ListOperationsResponse) -> Vec<String> {
    page.operations.iter().map(|o| o.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_listed_newest_first_in_pages_and_filtered_by_state() {
    let h = Harness::start().await;
    let mut started = Vec::new();
    for _ in 0..5 {
        let op = h.operation(OperationKind::Check).await;
        assert_eq!(op.state, OperationState::Succeeded as i32, "{op:?}");
        assert!(
            op.done && op.end_time.is_some() && op.create_time.is_some(),
            "{op:?}"
        );
        started.push(op.name);
    }
    let newest_first: Vec<String> = started.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = list(&h, 2, &token, "").await.unwrap();
        pages += 1;
        assert!(page.operations.len() <= 2, "{page:?}");
        seen.extend(names(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, newest_first);
    assert_eq!(pages, 3);

    // The default page holds them all; filters pick by state.
    let all = list(&h, 0, "", "").await.unwrap();
    assert_eq!(names(&all), newest_first);
    assert!(all.next_page_token.is_empty());
    let succeeded = list(&h, 0, "", "state = SUCCEEDED").await.unwrap();
    assert_eq!(names(&succeeded), newest_first);
    let running = list(&h, 0, "", "state = OPERATION_STATE_RUNNING")
        .await
        .unwrap();
    assert!(running.operations.is_empty(), "{running:?}");

    // A token is bound to its filter; bad sizes and filters are refused.
    let first = list(&h, 2, "", "").await.unwrap();
    let other = list(&h, 2, &first.next_page_token, "state = SUCCEEDED")
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::InvalidArgument, "{other:?}");
    for (size, filter) in [
        (1001, ""),
        (-1, ""),
        (0, "kind = CHECK"),
        (0, "state = LATE"),
    ] {
        let refused = list(&h, size, "", filter).await.unwrap_err();
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{size} {filter}: {refused:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_repair_stops_at_a_batch_boundary_and_keeps_what_it_repaired() {
    let gate = CheckGate::default();
    let h = Harness::start_with(AppOptions {
        check_gate: Some(gate.clone()),
        ..Default::default()
    })
    .await;
    let notes = h.create_notes("cancel", 30, 6).await;
    assert!(h.wait_idle(SETTLE).await);
    // Drift in the first projection (search) and in the last (cache).
    for note in &notes[..4] {
        sqlx::query("DELETE FROM note_search WHERE id = $1")
            .bind(&note.id)
            .execute(h.app.stores.postgres().unwrap())
            .await
            .unwrap();
    }
    let mut redis = h.env.redis().await;
    redis::cmd("DEL")
        .arg(format!("{}note:{}", h.env.redis_prefix, notes[5].id))
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    assert_eq!(h.pg_count("SELECT COUNT(*) FROM note_search").await, 26);
    let cache_before = h.redis_live_notes().await;

    // The repair may start one projection: it repairs search, then waits before the next.
    gate.allow(1);
    let op = h.start_operation(OperationKind::Repair).await;
    assert_eq!(op.projections[0].projection, projections::SEARCH);
    let first_done = wait_for(&h, &op.name, "the search repair", |o| o.projections[0].done).await;
    assert_eq!(first_done.state, OperationState::Running as i32);
    assert!(!first_done.done);
    assert!(!first_done.cancel_requested);

    let asked = cancel(&h, &op.name).await.unwrap();
    assert_eq!(asked.name, op.name);
    assert_eq!(asked.state, OperationState::Running as i32);
    assert!(asked.cancel_requested, "{asked:?}");
    // Held before its next batch boundary, it still runs, and reads show the request at once.
    let waiting = get(&h, &op.name).await;
    assert_eq!(waiting.state, OperationState::Running as i32);
    assert!(waiting.cancel_requested, "{waiting:?}");
    let running = list(&h, 0, "", "state = RUNNING").await.unwrap();
    assert_eq!(names(&running), vec![op.name.clone()]);
    assert!(running.operations[0].cancel_requested, "{running:?}");
    gate.open();
    let ended = wait_for(&h, &op.name, "the cancellation", |o| o.done).await;

    assert_eq!(ended.state, OperationState::Cancelled as i32, "{ended:?}");
    assert!(ended.cancel_requested, "{ended:?}");
    assert!(
        ended.end_time.is_some() && ended.error.is_empty(),
        "{ended:?}"
    );
    let search = &ended.projections[0];
    assert!(search.done, "{ended:?}");
    assert_eq!(
        (search.missing, search.repaired, search.scanned),
        (4, 4, 30),
        "{ended:?}"
    );
    assert!(
        ended.projections[1..]
            .iter()
            .all(|p| !p.done && p.scanned == 0),
        "later projections must not have run past the boundary: {ended:?}"
    );
    // What was repaired stays repaired; what was not reached stays broken.
    assert_eq!(h.pg_count("SELECT COUNT(*) FROM note_search").await, 30);
    assert_eq!(h.redis_live_notes().await, cache_before);

    // Done operations are not cancelled again; unknown ones are not found.
    let again = cancel(&h, &op.name).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    let details = talentmesh_mesh::error::rpc_status_of(&again).details;
    assert!(
        details
            .iter()
            .any(|d| d.type_url.ends_with("/google.rpc.PreconditionFailure")),
        "{details:?}"
    );
    let unknown = cancel(&h, &format!("operations/{}", uuid::Uuid::now_v7()))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let malformed = cancel(&h, "operations/x").await.unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument, "{malformed:?}");

    // It is listed as cancelled.
    let cancelled = list(&h, 0, "", "state = CANCELLED").await.unwrap();
    assert_eq!(names(&cancelled), vec![op.name.clone()]);
}

/// A finished operation as the version before AIP-151 `ListOperations` stored it: no `done`, no
/// `create_time`, not in the list index; its id from `age` ago, so it sorts before `recent`.
async fn store_legacy(h: &Harness, recent: &Operation, age: Duration) -> Operation {
    let at = std::time::SystemTime::now() - age;
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap();
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, since.as_secs(), since.subsec_nanos());
    let id = uuid::Uuid::new_v7(ts).to_string();
    let old = Operation {
        name: format!("operations/{id}"),
        done: false,
        create_time: None,
        ..recent.clone()
    };
    let mut conn = h.env.redis().await;
    redis::cmd("SET")
        .arg(format!("{}sync:operation:{id}", h.env.redis_prefix))
        .arg(prost::Message::encode_to_vec(&old))
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    old
}

/// Issue 16: operations stored by the version before the list index still read as done and
/// join the list once they are read, by id or as a projection's latest operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_stored_before_the_list_index_read_as_done_and_join_the_list() {
    let h = Harness::start().await;
    let recent = h.operation(OperationKind::Check).await;
    assert_eq!(recent.state, OperationState::Succeeded as i32, "{recent:?}");
    let by_id = store_legacy(&h, &recent, Duration::from_secs(3600)).await;
    let as_last = store_legacy(&h, &recent, Duration::from_secs(7200)).await;
    let projection = &recent.projections[0].projection;
    let mut conn = h.env.redis().await;
    redis::cmd("SET")
        .arg(format!("{}sync:last:{projection}", h.env.redis_prefix))
        .arg(prost::Message::encode_to_vec(&as_last))
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        names(&list(&h, 0, "", "").await.unwrap()),
        vec![recent.name.clone()]
    );

    let read = get(&h, &by_id.name).await;
    assert!(read.done, "{read:?}");
    assert_eq!(read.state, OperationState::Succeeded as i32);
    let status = h.status().await;
    let last = status
        .projections
        .iter()
        .find(|p| &p.name == projection)
        .and_then(|p| p.last_operation.clone())
        .expect("the projection's last operation");
    assert_eq!(last.name, as_last.name);
    assert!(last.done, "{last:?}");

    let all = list(&h, 0, "", "").await.unwrap();
    assert_eq!(
        names(&all),
        vec![
            recent.name.clone(),
            by_id.name.clone(),
            as_last.name.clone()
        ]
    );
    assert!(all.operations.iter().all(|o| o.done), "{all:?}");
    let done = list(&h, 0, "", "state = SUCCEEDED").await.unwrap();
    assert_eq!(names(&done).len(), 3, "{done:?}");
}
