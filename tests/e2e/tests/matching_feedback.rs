//! Learning from outcomes through the gateway: applications moved to interview or rejected
//! are the feedback the admins tune the weights on; the answer compares the weights in use and
//! the tuned ones on held-back jobs (NDCG@10).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod matching_world;

use matching_world::*;
use reqwest::Method;
use serde_json::{json, Value};
use talentmesh_testkit::eventually_value;

#[tokio::test]
async fn application_outcomes_tune_the_weights_on_held_back_feedback() {
    let w = world().await;
    let mesh = &w.mesh;
    let roles = [
        (
            "Rust后端工程师",
            vec!["Rust", "Kubernetes"],
            "五年Rust和k8s经验，写过存储引擎。",
        ),
        (
            "Java开发工程师",
            vec!["Java", "Spring"],
            "Java and Spring Boot developer, 4 years.",
        ),
        (
            "Frontend Engineer",
            vec!["React", "TypeScript"],
            "三年React和TypeScript前端开发。",
        ),
    ];
    let mut jobs = Vec::new();
    for (title, skills, _) in &roles {
        jobs.push(
            w.job(
                json!({"title": title, "requiredSkills": skills, "cityCode": "440300"}),
                true,
            )
            .await,
        );
    }
    // Each candidate applies to every job; their own role's job interviews them, the others
    // reject them: outcomes that follow the skills.
    let mut expected = 0;
    for (i, (title, skills, summary)) in roles.iter().enumerate() {
        let token = mesh
            .login(
                &format!("c{i}@example.com"),
                PASSWORD,
                Some("ROLE_CANDIDATE"),
            )
            .await
            .token;
        let skills: Vec<Value> = skills.iter().map(|s| json!({"name": s})).collect();
        let resume = w
            .resume(
                &token,
                json!({"title": title, "summary": summary, "skills": skills}),
            )
            .await;
        for (j, job) in jobs.iter().enumerate() {
            let (s, app) = call(
                mesh,
                Method::POST,
                &format!("/v1/{job}/applications"),
                &token,
                Some(json!({"resume": resume})),
            )
            .await;
            assert_eq!(s, 200, "{app}");
            let app = app["name"].as_str().unwrap().to_string();
            let moves: Vec<Value> = if i == j {
                vec![
                    json!({"stage": "STAGE_SCREENING"}),
                    json!({"stage": "STAGE_INTERVIEW"}),
                ]
            } else {
                vec![json!({"stage": "STAGE_REJECTED", "reason": "skills do not fit"})]
            };
            for m in moves {
                let (s, b) = call(
                    mesh,
                    Method::POST,
                    &format!("/v1/{app}:move"),
                    &w.boss,
                    Some(m),
                )
                .await;
                assert_eq!(s, 200, "{b}");
            }
            expected += 1;
        }
    }
    assert_eq!(expected, 9);

    // Once matching has the outcomes: two jobs tune, one is held back and replayed.
    let tuned = eventually_value(FRESH, || async {
        let (s, b) = call(
            mesh,
            Method::POST,
            "/v1/matching/weights:tune",
            &w.admin,
            Some(json!({"apply": true})),
        )
        .await;
        (s == 200 && b["heldBackQueries"] == 1).then_some(b)
    })
    .await
    .expect("the feedback reaches matching");
    eprintln!("tuning: {tuned}");
    assert_eq!(tuned["trainingQueries"], 2, "{tuned}");
    let (current, best) = (
        tuned["currentNdcg"].as_f64().unwrap(),
        tuned["tunedNdcg"].as_f64().unwrap(),
    );
    assert!(
        (0.0..=1.0).contains(&current) && (0.0..=1.0).contains(&best),
        "{tuned}"
    );
    let sum: f64 = tuned["tuned"]["weights"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-6, "{tuned}");
    assert_eq!(tuned["applied"], best > current, "{tuned}");
    let (s, b) = mesh.get("/v1/matching/weights", Some(&w.boss)).await;
    assert_eq!(s, 200);
    let origin = if best > current { "tuned" } else { "default" };
    assert_eq!(b["weights"]["origin"], origin, "{b}");
    w.mesh.stop().await;
}
