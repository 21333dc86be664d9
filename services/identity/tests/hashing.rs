//! Argon2 is bounded: a burst of registrations never runs more password hashes at once than the
//! configured bound, and what cannot get a turn within the queue deadline is refused with
//! RESOURCE_EXHAUSTED and a RetryInfo, writing nothing (issue 15: 64 concurrent registrations
//! used to take identity to a 3.7 GiB peak).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::start;
use talentmesh_mesh::error::rpc_status_of;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_testkit::TestEnv;
use tonic::Code;

/// The value of the metric line starting with `name` (`name{...} value`), if exported.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_burst_of_registrations_never_hashes_more_than_the_bound_at_once() {
    let env = TestEnv::new("identity")
        .set("TALENTMESH_IDENTITY_HASH_CONCURRENCY", "2")
        .set("TALENTMESH_IDENTITY_HASH_QUEUE_DEADLINE", "100ms");
    let app = start(env).await;
    let client = app.client().await;

    const BURST: usize = 32;
    let calls = (0..BURST).map(|i| {
        let mut client = client.clone();
        async move {
            client
                .register(pb::RegisterRequest {
                    email: format!("burst{i}@example.com"),
                    password: "correct horse 42".into(),
                    role: pb::Role::Candidate as i32,
                })
                .await
        }
    });
    let answers = futures::future::join_all(calls).await;

    let mut ok: i64 = 0;
    let mut refused = 0;
    for answer in &answers {
        match answer {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(
                    rpc_status_of(status)
                        .details
                        .iter()
                        .any(|d| d.type_url.ends_with("google.rpc.RetryInfo")),
                    "a refusal says when to retry: {status:?}"
                );
                refused += 1;
            }
        }
    }
    // 32 hashes of 19 MiB each, two at a time, take far longer than the 100 ms a request may
    // wait for its turn: some must be refused rather than piled up.
    assert!(ok >= 2, "the bound still lets work through: {ok} ok");
    assert!(refused >= 1, "the excess is refused, not piled up: {ok} ok");
    assert_eq!(
        app.user_count().await,
        ok,
        "every refused registration wrote nothing"
    );

    let text = reqwest::get(format!("http://{}/metrics", app.service.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let peak = metric(&text, "talentmesh_identity_password_hashes_in_flight_max")
        .expect("the high-water mark of concurrent hashes is exported");
    assert!(
        (1.0..=2.0).contains(&peak),
        "at most 2 hashes ran at once, saw {peak}"
    );
    assert_eq!(
        metric(&text, "talentmesh_identity_password_hashes_in_flight"),
        Some(0.0),
        "no hash is left running"
    );
    assert_eq!(
        metric(&text, "talentmesh_identity_password_hashes_refused_total"),
        Some(refused as f64),
        "each refusal is counted"
    );
    app.stop().await;
}
