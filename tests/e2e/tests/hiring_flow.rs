//! The whole hiring flow through the gateway, as the web clients drive it: an employer verifies
//! a company and posts a job; a candidate builds a resume, finds the job by a Chinese query and
//! applies; the company moves the application to interview; the candidate sees it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use talentmesh_e2e::Mesh;
use talentmesh_testkit::eventually_value;

const PASSWORD: &str = "correct horse 42";
const ADMIN: &str = "root@example.com";

async fn login(mesh: &Mesh, email: &str, role: Option<&str>) -> String {
    mesh.login(email, PASSWORD, role).await.token
}

#[tokio::test]
async fn employer_verifies_and_posts_candidate_finds_and_applies_company_interviews() {
    let mesh = Mesh::start_with_jobs(|env| {
        env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN)
            .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", PASSWORD)
    })
    .await;
    let admin = login(&mesh, ADMIN, None).await;
    let boss = login(&mesh, "boss@example.com", Some("ROLE_EMPLOYER")).await;
    let other_boss = login(&mesh, "other@example.com", Some("ROLE_EMPLOYER")).await;
    let cand = login(&mesh, "mei@example.com", Some("ROLE_CANDIDATE")).await;
    let call = |m: Method, path: String, token: &str, body: Option<serde_json::Value>| {
        let token = token.to_string();
        let mesh = &mesh;
        async move { mesh.call(m, &path, Some(&token), body).await }
    };

    // The employer's company, verified by the platform.
    let (s, company) = call(
        Method::POST,
        "/v1/companies".into(),
        &boss,
        Some(json!({"displayName": "星河科技", "industry": "software", "cityCode": "440300"})),
    )
    .await;
    assert_eq!(s, 200, "{company}");
    let company = company["name"].as_str().unwrap().to_string();
    let (s, b) = call(Method::POST, format!("/v1/{company}:submitVerification"), &boss, Some(json!({"uscc": "914403001922038216", "legalName": "深圳星河科技有限公司", "legalRepresentative": "王五", "licenceDocument": "files/l.pdf"}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        Method::POST,
        format!("/v1/{company}:reviewVerification"),
        &admin,
        Some(json!({"approve": true})),
    )
    .await;
    assert_eq!(
        (s, &b["company"]["verificationState"]),
        (200, &json!("VERIFICATION_STATE_VERIFIED")),
        "{b}"
    );

    // A published job.
    let (s, job) = call(Method::POST, format!("/v1/{company}/jobs"), &boss, Some(json!({"title": "高级Rust后端工程师", "requiredSkills": ["Rust"], "salaryMin": 30000, "salaryMax": 50000, "cityCode": "440300", "recruitType": "RECRUIT_TYPE_SOCIAL"}))).await;
    assert_eq!(s, 200, "{job}");
    let job = job["name"].as_str().unwrap().to_string();
    let (s, b) = call(
        Method::POST,
        format!("/v1/{job}:publish"),
        &boss,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    // The candidate's resume, analysed on save.
    let (s, resume) = call(Method::POST, "/v1/resumes".into(), &cand, Some(json!({"title": "我的简历", "fullName": "韩梅梅", "contact": {"email": "mei@example.com"}, "summary": "五年Rust和k8s经验", "skills": [{"name": "JS", "level": 3}]}))).await;
    assert_eq!(s, 200, "{resume}");
    let skills: Vec<&str> = resume["analysis"]["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(skills, ["javascript", "kubernetes", "rust"]);
    let resume = resume["name"].as_str().unwrap().to_string();

    // Found by a Chinese query ("Rust工程师"), then applied to.
    let found = eventually_value(Duration::from_secs(20), || async {
        let (_, b) = mesh
            .get(
                "/v1/jobs:search?query=Rust%E5%B7%A5%E7%A8%8B%E5%B8%88",
                Some(&cand),
            )
            .await;
        b["jobs"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await
    .expect("job found");
    assert_eq!(found[0]["name"], job.as_str());
    let (s, app) = call(
        Method::POST,
        format!("/v1/{job}/applications"),
        &cand,
        Some(json!({"resume": resume})),
    )
    .await;
    assert_eq!((s, &app["stage"]), (200, &json!("STAGE_APPLIED")), "{app}");
    let app = app["name"].as_str().unwrap().to_string();

    // Refusals: the candidate cannot move it; another company sees nothing of it.
    let (s, _) = call(
        Method::POST,
        format!("/v1/{app}:move"),
        &cand,
        Some(json!({"stage": "STAGE_OFFER"})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(
        Method::GET,
        format!("/v1/{job}/applications"),
        &other_boss,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(Method::GET, format!("/v1/{resume}"), &other_boss, None).await;
    assert_eq!(s, 404);

    // The company reads the applied resume, without contact details before screening.
    let seen = eventually_value(Duration::from_secs(20), || async {
        let (s, b) = mesh
            .get(&format!("/v1/{resume}?asCompany={company}"), Some(&boss))
            .await;
        (s == 200).then_some(b)
    })
    .await
    .expect("the application opens the resume");
    assert_eq!(seen["fullName"], "韩梅梅");
    assert!(seen.get("contact").is_none(), "{seen}");

    // Screening, then interview; the candidate sees the stage.
    for stage in ["STAGE_SCREENING", "STAGE_INTERVIEW"] {
        let (s, b) = call(
            Method::POST,
            format!("/v1/{app}:move"),
            &boss,
            Some(json!({"stage": stage})),
        )
        .await;
        assert_eq!(s, 200, "{stage}: {b}");
    }
    let (s, listed) = call(
        Method::GET,
        format!("/v1/{job}/applications?stage=STAGE_INTERVIEW"),
        &boss,
        None,
    )
    .await;
    assert_eq!(
        (s, listed["applications"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{listed}"
    );
    let (s, mine) = call(Method::GET, "/v1/applications:mine".into(), &cand, None).await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(mine["applications"][0]["stage"], "STAGE_INTERVIEW");
    let contact = eventually_value(Duration::from_secs(20), || async {
        let (_, b) = mesh
            .get(&format!("/v1/{resume}?asCompany={company}"), Some(&boss))
            .await;
        b.get("contact").cloned()
    })
    .await
    .expect("past screening, contact details are shown");
    assert_eq!(contact["email"], "mei@example.com");
    mesh.stop().await;
}
