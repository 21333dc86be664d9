//! Interview times over raw gRPC: any instant from 1970 to the end of 9999 is kept and read
//! back exactly (past 2038-01-19T03:14:07Z too, where a MySQL TIMESTAMP ends), and a time
//! outside that range is INVALID_ARGUMENT naming `interview.time`, never a 500.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::applications::{apply, mv, start, Mesh};
use common::{req, User};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::job::v1 as pb;
use tonic::Code;

/// An application in the interview stage, and its company owner.
async fn in_interview(m: &Mesh) -> (String, User) {
    let owner = m.user(&["employer"]);
    let cand = m.user(&["candidate"]);
    let (_, job) = m.posted_job(&owner).await;
    let cv = m.resume(&cand).await;
    let mut apps = m.apps.clone();
    let app = apps
        .create_application(req(apply(&job, &cv), &cand))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    for stage in [pb::Stage::Screening, pb::Stage::Interview] {
        apps.move_application(req(mv(&app.name, stage, ""), &owner))
            .await
            .unwrap();
    }
    (app.name, owner)
}

fn schedule(name: &str, seconds: i64, nanos: i32) -> pb::ScheduleInterviewRequest {
    pb::ScheduleInterviewRequest {
        name: name.to_string(),
        interview: Some(pb::Interview {
            time: Some(prost_types::Timestamp { seconds, nanos }),
            place: "Room 1".into(),
            interviewers: vec![],
        }),
    }
}

#[tokio::test]
async fn interviews_after_2038_are_kept_and_read_back_exactly() {
    let m = start().await;
    let (name, owner) = in_interview(&m).await;
    let mut apps = m.apps.clone();
    // 2038-01-19T03:14:08Z, one second past the 32-bit TIMESTAMP; 2100-01-01T00:00:00.123456Z.
    let asked = [(2_147_483_648, 0), (4_102_444_800, 123_456_000)];
    for (seconds, nanos) in asked {
        apps.schedule_interview(req(schedule(&name, seconds, nanos), &owner))
            .await
            .unwrap();
    }
    let app = apps
        .get_application(req(
            pb::GetApplicationRequest { name: name.clone() },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let read: Vec<(i64, i32)> = app
        .interviews
        .iter()
        .map(|i| {
            let t = i.time.unwrap();
            (t.seconds, t.nanos)
        })
        .collect();
    assert_eq!(read, asked);
    m.stop().await;
}

#[tokio::test]
async fn interview_times_before_1970_or_after_9999_name_the_field() {
    let m = start().await;
    let (name, owner) = in_interview(&m).await;
    let mut apps = m.apps.clone();
    // 1969-12-31T23:59:59Z, 10000-01-01T00:00:00Z, and one far past anything chrono holds.
    for seconds in [-1, 253_402_300_800, i64::MAX] {
        let err = apps
            .schedule_interview(req(schedule(&name, seconds, 0), &owner))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{seconds}: {err:?}");
        let fields: Vec<String> = field_violations_of(&err)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["interview.time"], "{seconds}");
    }
    // Nothing was scheduled.
    let app = apps
        .get_application(req(pb::GetApplicationRequest { name }, &owner))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert!(app.interviews.is_empty());
    m.stop().await;
}
