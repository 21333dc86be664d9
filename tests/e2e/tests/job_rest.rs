//! Jobs through the gateway: an employer's company posts a job, anyone finds it with a Chinese
//! query, and the REST surface maps refusals and bad input to the right statuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use talentmesh_e2e::{bad_fields, Mesh};
use talentmesh_testkit::eventually_value;

const PASSWORD: &str = "correct horse 42";

async fn login(mesh: &Mesh, email: &str, role: &str) -> String {
    mesh.login(email, PASSWORD, Some(role)).await.token
}

#[tokio::test]
async fn an_employer_posts_a_job_and_a_candidate_finds_it_in_chinese() {
    let mesh = Mesh::start_with_jobs(|env| env).await;
    let employer = login(&mesh, "boss@example.com", "ROLE_EMPLOYER").await;
    let candidate = login(&mesh, "seeker@example.com", "ROLE_CANDIDATE").await;
    let (status, company) = mesh
        .call(
            Method::POST,
            "/v1/companies",
            Some(&employer),
            Some(json!({"displayName": "星河科技", "industry": "software", "cityCode": "440300"})),
        )
        .await;
    assert_eq!(status, 200, "{company}");
    let company = company["name"].as_str().unwrap().to_string();

    let posting = json!({"title": "高级Rust后端工程师", "description": "高并发服务",
        "requiredSkills": ["Rust", "PostgreSQL"], "salaryMin": 30000, "salaryMax": 50000,
        "cityCode": "440300", "recruitType": "RECRUIT_TYPE_SOCIAL", "headcount": 1});
    let (status, _) = mesh
        .call(
            Method::POST,
            &format!("/v1/{company}/jobs"),
            Some(&candidate),
            Some(posting.clone()),
        )
        .await;
    assert_eq!(status, 403, "a candidate posts nothing");
    let mut bad = posting.clone();
    bad["salaryMin"] = json!(60000);
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{company}/jobs"),
            Some(&employer),
            Some(bad),
        )
        .await;
    assert_eq!(
        (status, bad_fields(&body)),
        (400, vec!["job.salary_min".to_string()]),
        "{body}"
    );

    let (status, job) = mesh
        .call(
            Method::POST,
            &format!("/v1/{company}/jobs"),
            Some(&employer),
            Some(posting),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], "JOB_STATE_DRAFT");
    let name = job["name"].as_str().unwrap().to_string();
    let (status, _) = mesh.get(&format!("/v1/{name}"), None).await;
    assert_eq!(status, 404, "a draft is not public");
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}:publish"),
            Some(&employer),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let found = eventually_value(Duration::from_secs(20), || async {
        // "Rust工程师", URL-encoded.
        let (status, body) = mesh
            .get(
                "/v1/jobs:search?query=Rust%E5%B7%A5%E7%A8%8B%E5%B8%88&cityCode=440300",
                Some(&candidate),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["jobs"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await
    .expect("found by a Chinese query");
    assert_eq!(found[0]["name"], name.as_str());
    let (status, public) = mesh.get(&format!("/v1/{name}"), None).await;
    assert_eq!(
        (status, &public["title"]),
        (200, &json!("高级Rust后端工程师"))
    );
    let (status, listed) = mesh.get(&format!("/v1/{company}/jobs"), None).await;
    assert_eq!(
        (status, listed["jobs"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{listed}"
    );

    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}:close"),
            Some(&candidate),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}:close"),
            Some(&employer),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = mesh
        .call(
            Method::POST,
            &format!("/v1/{name}:close"),
            Some(&employer),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        status, 400,
        "closing twice is a failed precondition: {body}"
    );
    let (status, body) = mesh
        .call(
            Method::PATCH,
            &format!("/v1/{name}?updateMask=headcount"),
            Some(&employer),
            Some(json!({"headcount": 3})),
        )
        .await;
    assert_eq!((status, &body["headcount"]), (200, &json!(3)), "{body}");
    mesh.stop().await;
}
