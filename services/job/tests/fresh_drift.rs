//! Fresh data does not drift (issue 16): jobs created and published concurrently, as
//! `talentmeshctl demo seed` does, and one job changed by many callers at once (updates, closes
//! and reopens racing each other), leave every job projection equal to MySQL once the events
//! have landed: a check finds no drift without any repair.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{company, job, req, start};
use talentmesh_proto::job::v1 as pb;
use talentmesh_proto::sync::v1::{OperationKind, OperationState};
use talentmesh_testkit::{drift, in_sync_soon, sync_operation};
use tokio::task::JoinSet;
use tonic::Code;

const PROJECTIONS: [&str; 3] = ["jobs_search", "jobs_graph", "jobs_cache"];
/// Jobs created and published at once.
const JOBS: usize = 40;
/// Callers changing the one contended job at once, and changes each makes.
const WRITERS: usize = 8;
const CHANGES: usize = 6;

#[tokio::test]
async fn concurrent_writes_leave_no_drift_in_any_job_projection() {
    let m = std::sync::Arc::new(start().await);
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "并发科技").await;

    // Many jobs at once: create then publish each, all in parallel.
    let mut posts = JoinSet::new();
    for i in 0..JOBS {
        let (m, owner, co) = (m.clone(), owner.clone(), co.clone());
        posts.spawn(async move {
            m.post(&owner, &co, job(&format!("并发岗位 {i}"), &["Rust"]))
                .await
                .name
        });
    }
    let names: Vec<String> = posts.join_all().await;
    assert_eq!(names.len(), JOBS);

    // One job changed by several callers at once; a lost race (ABORTED: the version moved) or a
    // move the state no longer allows (FAILED_PRECONDITION) is a normal answer, anything else
    // is not.
    let contended = names[0].clone();
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        let (mut jobs, owner, name) = (m.jobs.clone(), owner.clone(), contended.clone());
        writers.spawn(async move {
            let mut done = 0;
            for c in 0..CHANGES {
                let answer = match (w + c) % 3 {
                    0 => jobs
                        .update_job(req(
                            pb::UpdateJobRequest {
                                job: Some(pb::Job {
                                    name: name.clone(),
                                    title: format!("并发岗位 w{w} c{c}"),
                                    headcount: i32::try_from(1 + w * CHANGES + c).unwrap(),
                                    ..Default::default()
                                }),
                                update_mask: Some(prost_types::FieldMask {
                                    paths: vec!["title".into(), "headcount".into()],
                                }),
                                expected_version: 0,
                            },
                            &owner,
                        ))
                        .await
                        .map(drop),
                    1 => jobs
                        .close_job(req(pb::CloseJobRequest { name: name.clone() }, &owner))
                        .await
                        .map(drop),
                    _ => jobs
                        .reopen_job(req(pb::ReopenJobRequest { name: name.clone() }, &owner))
                        .await
                        .map(drop),
                };
                match answer {
                    Ok(()) => done += 1,
                    Err(s) if matches!(s.code(), Code::Aborted | Code::FailedPrecondition) => {}
                    Err(s) => panic!("writer {w}, change {c}: {s:?}"),
                }
            }
            done
        });
    }
    let changed: usize = writers.join_all().await.into_iter().sum();
    assert!(changed > 0, "no concurrent change went through");

    // Once the events have landed a check finds nothing: drift that stays is a bug, not lag.
    let admin = m.keys.token("ops", &["admin"]);
    let url = m.job.url();
    assert!(
        in_sync_soon(&url, &admin, &PROJECTIONS).await,
        "fresh jobs still drift after their events landed: {:?}",
        sync_operation(&url, &admin, OperationKind::Check).await
    );
    let op = sync_operation(&url, &admin, OperationKind::Check).await;
    assert_eq!(op.state, OperationState::Succeeded as i32, "{op:?}");
    for p in PROJECTIONS {
        let scanned = op
            .projections
            .iter()
            .find(|x| x.projection == p)
            .map_or(0, |x| x.scanned);
        assert_eq!(scanned, JOBS as i64, "{p} scanned: {op:?}");
        assert_eq!(drift(&op, p), (0, 0), "{p}: {op:?}");
    }
    std::sync::Arc::into_inner(m)
        .expect("every task holding the mesh has ended")
        .stop()
        .await;
}
