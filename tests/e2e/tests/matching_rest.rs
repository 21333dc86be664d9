//! Matching through the gateway on the real servers and the real embeddings model server: jobs
//! for a resume and candidates for a job, explained and analysed; who may ask what; a job
//! published becomes recommendable and a closed one disappears; bad input is refused with the
//! right status; a name, gender or age never changes a score.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod matching_world;

use matching_world::*;
use reqwest::Method;
use serde_json::json;
use talentmesh_testkit::eventually_value;

#[tokio::test]
async fn jobs_for_resumes_and_candidates_for_jobs_explained_with_access_rules() {
    let w = world().await;
    let mesh = &w.mesh;
    let mei = mesh
        .login("mei@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await
        .token;
    let lei = mesh
        .login("lei@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await
        .token;

    let rust = w.job(json!({"title": "高级Rust后端工程师", "description": "负责分布式存储系统开发，使用Rust和Kubernetes。", "requiredSkills": ["Rust", "Kubernetes"], "preferredSkills": ["Go"], "salaryMin": 30000, "salaryMax": 50000, "cityCode": "440300", "experienceYears": 3, "education": "EDUCATION_BACHELOR", "recruitType": "RECRUIT_TYPE_SOCIAL"}), true).await;
    let java = w.job(json!({"title": "Java开发工程师", "description": "Spring Boot 微服务开发", "requiredSkills": ["Java", "Spring"], "salaryMin": 20000, "salaryMax": 30000, "cityCode": "310000", "recruitType": "RECRUIT_TYPE_SOCIAL"}), true).await;
    let react = w.job(json!({"title": "Senior Frontend Engineer", "description": "Build web apps with React and TypeScript.", "requiredSkills": ["React", "TypeScript"], "salaryMin": 25000, "salaryMax": 40000, "cityCode": "440300", "recruitType": "RECRUIT_TYPE_SOCIAL"}), true).await;
    let draft = w.job(json!({"title": "Rust存储工程师（草稿）", "requiredSkills": ["Rust"], "cityCode": "440300"}), false).await;

    let mei_resume = w.resume(&mei, json!({"title": "Rust后端工程师", "fullName": "韩梅梅", "contact": {"email": "mei@example.com"}, "summary": "五年Rust和k8s经验，做过分布式存储。", "visibility": "VISIBILITY_PUBLIC", "skills": [{"name": "Rust", "level": 4, "years": 5}], "education": [{"school": "深圳大学", "degree": "本科", "major": "计算机科学"}], "experience": [{"company": "某云", "title": "后端工程师", "start": {"year": 2019, "month": 7}, "description": "用Rust写存储引擎，k8s部署"}]})).await;
    let lei_resume = w.resume(&lei, json!({"title": "Java工程师", "fullName": "李雷", "summary": "Java and Spring Boot developer, 4 years.", "skills": [{"name": "Java"}, {"name": "Spring"}]})).await;

    // Jobs for mei's resume: the Rust job first, never the draft, each with its job and score.
    let path = format!("/v1/{mei_resume}:recommendJobs?pageSize=10");
    let list = w.until(&path, &mei, "matches", |l| l.len() >= 3).await;
    assert_eq!(names(&list, "/job/name")[0], rust, "{list:?}");
    assert!(!names(&list, "/job/name").contains(&draft));
    assert_eq!(list[0]["job"]["title"], "高级Rust后端工程师");
    assert_eq!(list[0]["job"]["company"], w.company.as_str());
    assert_eq!(list[0]["job"]["companyDisplayName"], "星河科技");
    for m in &list {
        check_score(&m["score"]);
    }
    // Filters: a city leaves the Shanghai job out.
    let (s, b) = mesh
        .get(
            &format!("/v1/{mei_resume}:recommendJobs?cityCode=310000"),
            Some(&mei),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        names(b["matches"].as_array().unwrap(), "/job/name"),
        std::slice::from_ref(&java)
    );

    // A job published now is recommended within moments (through the job service's events,
    // matching's documents and the embedding); the time is printed for the record.
    let published = std::time::Instant::now();
    let fresh = w.job(json!({"title": "Rust数据库内核工程师", "requiredSkills": ["Rust"], "cityCode": "440300"}), true).await;
    w.until(&path, &mei, "matches", |l| {
        names(l, "/job/name").contains(&fresh)
    })
    .await;
    eprintln!(
        "published → recommended in {} ms",
        published.elapsed().as_millis()
    );

    // Across languages: an English resume finds the Chinese Rust jobs first.
    let tom = mesh
        .login("tom@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await
        .token;
    let tom_resume = w.resume(&tom, json!({"title": "Senior Rust Engineer", "summary": "Six years of Rust; built a distributed storage engine deployed on Kubernetes.", "skills": [{"name": "Rust"}, {"name": "Kubernetes"}]})).await;
    let list = w
        .until(
            &format!("/v1/{tom_resume}:recommendJobs"),
            &tom,
            "matches",
            |l| l.len() >= 4,
        )
        .await;
    let top = names(&list, "/job/name")[0].clone();
    assert!(top == rust || top == fresh, "{list:?}");

    // Another candidate cannot ask for mei's matches, nor can a platform admin; nobody
    // without a token can. Another candidate asking for one of her pairs hears of no resume,
    // exactly as for one that does not exist.
    let (s, _) = mesh.get(&path, Some(&lei)).await;
    assert_eq!(s, 404);
    let (s, _) = mesh.get(&path, Some(&w.admin)).await;
    assert_eq!(s, 404);
    let (s, _) = mesh.get(&path, None).await;
    assert_eq!(s, 401);
    let (s, b) = mesh
        .get(&format!("/v1/{mei_resume}:matchJob?job={rust}"), Some(&lei))
        .await;
    assert_eq!(s, 404, "{b}");
    let missing = "resumes/01a22783-0000-7000-8000-000000000000";
    let (s_missing, b_missing) = mesh
        .get(&format!("/v1/{missing}:matchJob?job={rust}"), Some(&lei))
        .await;
    assert_eq!((s_missing, &b_missing["message"]), (404, &b["message"]));

    // The explanation of one pair, and the analysis with the text that matched each skill.
    let (s, b) = mesh
        .get(
            &format!("/v1/{mei_resume}:matchJob?job={rust}&salaryMin=35000"),
            Some(&mei),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    check_score(&b["match"]["score"]);
    let salary = b["match"]["score"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "COMPONENT_KIND_SALARY_FIT")
        .unwrap()
        .clone();
    assert!(salary["value"].as_f64().unwrap() > 0.5, "{salary}");
    let (s, b) = mesh
        .get(&format!("/v1/{mei_resume}:analyze?job={rust}"), Some(&mei))
        .await;
    assert_eq!(s, 200, "{b}");
    let matched = b["matched"].as_array().unwrap();
    let k8s = matched
        .iter()
        .find(|m| m["skill"] == "kubernetes")
        .unwrap_or_else(|| panic!("{b}"));
    assert!(
        k8s["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"].as_str().unwrap().eq_ignore_ascii_case("k8s")),
        "{k8s}"
    );
    assert!(matched.iter().any(|m| m["skill"] == "rust"), "{b}");

    // Candidates for the Rust job: mei's public resume; never lei's private one.
    let ranked = w
        .until(
            &format!("/v1/{rust}:rankCandidates"),
            &w.boss,
            "matches",
            |l| !l.is_empty(),
        )
        .await;
    let who = names(&ranked, "/candidate/resume");
    assert!(
        who.contains(&mei_resume) && !who.contains(&lei_resume),
        "{ranked:?}"
    );
    assert!(ranked[0]["candidate"].get("fullName").is_none());
    for m in &ranked {
        check_score(&m["score"]);
    }
    // A member of another company may not rank them.
    let (s, _) = mesh
        .get(&format!("/v1/{rust}:rankCandidates"), Some(&w.other_boss))
        .await;
    assert_eq!(s, 403);
    // An application opens lei's resume to the company, at the version applied with.
    let (s, b) = call(
        mesh,
        Method::POST,
        &format!("/v1/{java}/applications"),
        &lei,
        Some(json!({"resume": lei_resume})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let ranked = w
        .until(
            &format!("/v1/{java}:rankCandidates"),
            &w.boss,
            "matches",
            |l| names(l, "/candidate/resume").contains(&lei_resume),
        )
        .await;
    let lei_match = ranked
        .iter()
        .find(|m| m["candidate"]["resume"] == lei_resume.as_str())
        .unwrap();
    assert_eq!(lei_match["candidate"]["applied"], true);
    // The company may explain it now; before the application another company may not.
    let (s, b) = mesh
        .get(
            &format!("/v1/{lei_resume}:matchJob?job={java}"),
            Some(&w.boss),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // Companies for mei, and jobs like the Rust job.
    let (s, b) = mesh
        .get(&format!("/v1/{mei_resume}:recommendCompanies"), Some(&mei))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["matches"][0]["company"], w.company.as_str());
    assert_eq!(b["matches"][0]["matchingJobs"], 4);
    let (s, b) = mesh
        .get(&format!("/v1/{rust}:similarJobs"), Some(&lei))
        .await;
    assert_eq!(s, 200, "{b}");
    let similar = names(b["matches"].as_array().unwrap(), "/job/name");
    assert!(
        !similar.contains(&rust) && !similar.contains(&draft) && similar.len() == 3,
        "{b}"
    );
    let _ = react;

    // A closed job disappears from the recommendations.
    let (s, b) = call(
        mesh,
        Method::POST,
        &format!("/v1/{rust}:close"),
        &w.boss,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    w.until(&path, &mei, "matches", |l| {
        !names(l, "/job/name").contains(&rust)
    })
    .await;

    // Bad input: the right status and the field named.
    let (s, b) = mesh
        .get(
            &format!("/v1/{mei_resume}:recommendJobs?pageSize=101"),
            Some(&mei),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b.to_string().contains("page_size"), "{b}");
    let (s, _) = mesh
        .get(
            &format!("/v1/{mei_resume}:recommendJobs?cityCode=abc"),
            Some(&mei),
        )
        .await;
    assert_eq!(s, 400);
    for bad in [
        "no-such-resume",
        "%00",
        "%0A",
        "a%2Fb",
        "%E7%AE%80%E5%8E%86",
    ] {
        let (s, b) = mesh
            .get(&format!("/v1/resumes/{bad}:recommendJobs"), Some(&mei))
            .await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert!(b.to_string().contains("\"resume\""), "{bad}: {b}");
    }
    let (s, _) = mesh
        .get(
            "/v1/resumes/01a22783-0000-7000-8000-000000000000:recommendJobs",
            Some(&mei),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = mesh
        .get(
            &format!("/v1/{mei_resume}:matchJob?job=companies/x"),
            Some(&mei),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = mesh
        .get(
            &format!("/v1/{mei_resume}:matchJob?job={draft}"),
            Some(&mei),
        )
        .await;
    assert_eq!(s, 404);

    // Weights: anyone signed in reads them; tuning is for admins and needs feedback.
    let (s, b) = mesh.get("/v1/matching/weights", Some(&mei)).await;
    assert_eq!(s, 200, "{b}");
    let total: f64 = b["weights"]["weights"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-6, "{b}");
    let (s, _) = call(
        mesh,
        Method::POST,
        "/v1/matching/weights:tune",
        &mei,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, b) = call(
        mesh,
        Method::POST,
        "/v1/matching/weights:tune",
        &w.admin,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(b.to_string().contains("NOT_ENOUGH_FEEDBACK"), "{b}");
    // The AIP-193 detail says which precondition failed and how to meet it.
    let details = b["details"].as_array().cloned().unwrap_or_default();
    let failure = details
        .iter()
        .find(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.rpc.PreconditionFailure"))
        })
        .unwrap_or_else(|| panic!("no PreconditionFailure in {b}"));
    assert_eq!(
        failure["violations"][0]["subject"], "matching/weights",
        "{b}"
    );
    assert_eq!(failure["violations"][0]["type"], "FEEDBACK", "{b}");
    w.mesh.stop().await;
}

/// `v` with every number rounded to 5 decimals: the model server's float arithmetic can differ
/// in the 7th digit between two texts that differ only in the name the service leaves out.
fn rounded(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Number(n) => n
            .as_f64()
            .map_or_else(|| v.clone(), |f| json!((f * 1e5).round() / 1e5)),
        serde_json::Value::Array(items) => items.iter().map(rounded).collect(),
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(k, x)| (k.clone(), rounded(x)))
            .collect(),
        _ => v.clone(),
    }
}

#[tokio::test]
async fn name_gender_and_age_never_change_a_score_and_discriminating_jobs_are_flagged() {
    let w = world().await;
    let mesh = &w.mesh;
    let job = w.job(json!({"title": "Go后端开发", "description": "限男性，35岁以下，负责高并发服务开发。", "requiredSkills": ["Go", "Redis"], "cityCode": "440300", "experienceYears": 3}), true).await;

    // Two candidates identical but for name, gender and age.
    let mut scores = Vec::new();
    for (email, name, person) in [
        ("a@example.com", "张伟", "男，28岁，已婚。"),
        ("b@example.com", "Maria Garcia", "女，45岁，1980年出生。"),
    ] {
        let token = mesh
            .login(email, PASSWORD, Some("ROLE_CANDIDATE"))
            .await
            .token;
        let resume = w.resume(&token, json!({"title": "Go工程师", "fullName": name, "summary": format!("{person}六年Go和Redis开发经验。"), "skills": [{"name": "Go", "years": 6}, {"name": "Redis"}]})).await;
        let b = eventually_value(FRESH, || async {
            let (s, b) = mesh
                .get(&format!("/v1/{resume}:matchJob?job={job}"), Some(&token))
                .await;
            (s == 200).then_some(b)
        })
        .await
        .expect("the pair is matched");
        scores.push(b["match"]["score"].clone());
    }
    assert_eq!(
        rounded(&scores[0]),
        rounded(&scores[1]),
        "protected attributes changed the score"
    );

    // The job's own analysis flags the gender and age requirements, with their spans.
    let (s, b) = mesh.get(&format!("/v1/{job}:analyze"), Some(&w.boss)).await;
    assert_eq!(s, 200, "{b}");
    let kinds: Vec<&str> = b["fairnessFlags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"FAIRNESS_FLAG_KIND_GENDER") && kinds.contains(&"FAIRNESS_FLAG_KIND_AGE"),
        "{b}"
    );
    let skills = b["skills"].as_array().unwrap();
    assert!(
        skills.contains(&json!("go")) && skills.contains(&json!("redis")),
        "{b}"
    );
    let (s, _) = mesh
        .get(&format!("/v1/{job}:analyze"), Some(&w.other_boss))
        .await;
    assert_eq!(s, 403);
    w.mesh.stop().await;
}
