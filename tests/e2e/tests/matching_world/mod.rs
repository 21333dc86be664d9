//! The world the matching tests share: a mesh with matching, an admin, and a verified company
//! with its owner; helpers to post jobs and resumes, to wait for a list, and to check a score.

#![allow(dead_code)] // each test binary uses a part

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use talentmesh_e2e::Mesh;
use talentmesh_testkit::eventually_value;

pub const PASSWORD: &str = "correct horse 42";
pub const ADMIN: &str = "root@example.com";
/// Events cross three services and an embedding before a document is searchable.
pub const FRESH: Duration = Duration::from_secs(20);

pub struct World {
    pub mesh: Mesh,
    pub admin: String,
    pub boss: String,
    pub other_boss: String,
    pub company: String,
}

pub async fn call(
    mesh: &Mesh,
    m: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    mesh.call(m, path, Some(token), body).await
}

/// A mesh with matching, an admin, and a verified company of `boss@…`.
pub async fn world() -> World {
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
    pub async fn job(&self, job: Value, publish: bool) -> String {
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

    pub async fn resume(&self, token: &str, resume: Value) -> String {
        let (s, b) = call(&self.mesh, Method::POST, "/v1/resumes", token, Some(resume)).await;
        assert_eq!(s, 200, "{b}");
        b["name"].as_str().unwrap().to_string()
    }

    /// Waits until `path` answers 200 with a list under `key` that `found` accepts.
    pub async fn until(
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

pub fn names(list: &[Value], at: &str) -> Vec<String> {
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
pub fn check_score(score: &Value) {
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
