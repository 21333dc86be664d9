//! Matching through the gateway on the real servers and the real embeddings model server: jobs
//! for a resume and candidates for a job, explained and analysed; who may ask what; a job
//! published becomes recommendable and a closed one disappears; bad input is refused with the
//! right status; a name, gender or age never changes a score.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use talentmesh_e2e::Mesh;
use talentmesh_testkit::eventually_value;

const PASSWORD: &str = "correct horse 42";
const ADMIN: &str = "root@example.com";
/// Events cross three services and an embedding before a document is searchable.
const FRESH: Duration = Duration::from_secs(20);

struct World {
    mesh: Mesh,
    admin: String,
    boss: String,
    other_boss: String,
    company: String,
}

async fn call(
    mesh: &Mesh,
    m: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    mesh.call(m, path, Some(token), body).await
}

/// A mesh with matching, an admin, and a verified company of `boss@…`.
async fn world() -> World {
    let mesh = Mesh::start_with_matching(|env| {
        env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN)
            .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", PASSWORD)
    })
    .await;
    let admin = mesh.login(ADMIN, PASSWORD, None).await.token;
    let boss = mesh
        .login("boss@example.com", PASSWORD, Some("ROLE_EMPLOYER"))
        .await
        .token;
    let other_boss = mesh
        .login("other@example.com", PASSWORD, Some("ROLE_EMPLOYER"))
        .await
        .token;
    let (s, company) = call(
        &mesh,
        Method::POST,
        "/v1/companies",
        &boss,
        Some(json!({"displayName": "星河科技", "industry": "software", "cityCode": "440300"})),
    )
    .await;
    assert_eq!(s, 200, "{company}");
    let company = company["name"].as_str().unwrap().to_string();
    let (s, b) = call(&mesh, Method::POST, &format!("/v1/{company}:submitVerification"), &boss, Some(json!({"uscc": "914403001922038216", "legalName": "深圳星河科技有限公司", "legalRepresentative": "王五", "licenceDocument": "files/l.pdf"}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        &mesh,
        Method::POST,
        &format!("/v1/{company}:reviewVerification"),
        &admin,
        Some(json!({"approve": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    World {
        mesh,
        admin,
        boss,
        other_boss,
        company,
    }
}

impl World {
    /// Creates a job (and publishes it when `publish`); returns its name.
    async fn job(&self, job: Value, publish: bool) -> String {
        let (s, b) = call(
            &self.mesh,
            Method::POST,
            &format!("/v1/{}/jobs", self.company),
            &self.boss,
            Some(job),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let name = b["name"].as_str().unwrap().to_string();
        if publish {
            let (s, b) = call(
                &self.mesh,
                Method::POST,
                &format!("/v1/{name}:publish"),
                &self.boss,
                Some(json!({})),
            )
            .await;
            assert_eq!(s, 200, "{b}");
        }
        name
    }

    async fn resume(&self, token: &str, resume: Value) -> String {
        let (s, b) = call(&self.mesh, Method::POST, "/v1/resumes", token, Some(resume)).await;
        assert_eq!(s, 200, "{b}");
        b["name"].as_str().unwrap().to_string()
    }

    /// Waits until `path` answers 200 with a list under `key` that `found` accepts.
    async fn until(
        &self,
        path: &str,
        token: &str,
        key: &str,
        found: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        eventually_value(FRESH, || async {
            let (s, b) = self.mesh.get(path, Some(token)).await;
            let list = b[key].as_array().cloned().unwrap_or_default();
            (s == 200 && found(&list)).then_some(list)
        })
        .await
        .unwrap_or_else(|| panic!("{path} never gave the expected {key}"))
    }
}

fn names(list: &[Value], at: &str) -> Vec<String> {
    list.iter()
        .map(|m| {
            m.pointer(at)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The score is the sum of its components' contributions; every component is there once,
/// and an unknown one contributes nothing.
fn check_score(score: &Value) {
    let components = score["components"].as_array().expect("components");
    assert_eq!(components.len(), 8, "{score}");
    let sum: f64 = components
        .iter()
        .map(|c| c["contribution"].as_f64().unwrap_or(0.0))
        .sum();
    let total = score["score"].as_f64().unwrap_or(0.0);
    assert!(
        (sum - total).abs() < 1e-9,
        "components add to {sum}, score is {total}: {score}"
    );
    for c in components {
        if c.get("value").is_none() {
            assert_eq!(
                c["contribution"].as_f64().unwrap_or(0.0),
                0.0,
                "unknown counts: {c}"
            );
            assert!(c["detail"].as_str().unwrap().contains("unknown"), "{c}");
        }
    }
}

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

    // Another candidate cannot ask for mei's matches; nobody without a token can.
    let (s, _) = mesh.get(&path, Some(&lei)).await;
    assert_eq!(s, 404);
    let (s, _) = mesh.get(&path, None).await;
    assert_eq!(s, 401);

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
    let (s, _) = mesh
        .get("/v1/resumes/no-such-resume:recommendJobs", Some(&mei))
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
    w.mesh.stop().await;
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
        scores[0], scores[1],
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
