//! The built `talentmeshctl` binary against a whole mesh started by the e2e harness
//! (`talentmesh_e2e::Mesh`, with a bootstrap admin), checked through the gateway as a user
//! would: what `demo seed` made, and that `status`, `sync overview` and `sync check` report the
//! running services in parseable JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use talentmesh_e2e::Mesh;
use talentmesh_testkit::{consul_addr, consul_token, eventually_value};

const ADMIN: &str = "root@example.com";
const PASSWORD: &str = "correct horse 42";

fn admin_env(env: talentmesh_testkit::TestEnv) -> talentmesh_testkit::TestEnv {
    env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN)
        .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", PASSWORD)
}

/// What a run of the binary printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// The output of one more run of `args`, for a failure message.
async fn last_run(mesh: &Mesh, args: &[&str]) -> String {
    let run = ctl(mesh, args).await;
    format!("exit {}\n{}\n{}", run.code, run.stdout, run.stderr)
}

/// Runs the binary against `mesh` as the admin, with the tests' Consul and token.
async fn ctl(mesh: &Mesh, args: &[&str]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_talentmeshctl"))
        .args([
            "--gateway",
            &mesh.base,
            "--email",
            ADMIN,
            "--consul",
            &consul_addr(),
        ])
        .args(args)
        .env("TALENTMESH_ADMIN_PASSWORD", PASSWORD)
        .env("TALENTMESH_CONSUL_TOKEN", consul_token().expose())
        .env_remove("TALENTMESH_CTL_SERVICE_NAMES")
        .output()
        .await
        .expect("run talentmeshctl");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn demo_seed_makes_verified_companies_searchable_jobs_and_applications_at_every_stage() {
    let mesh = Mesh::start_with_jobs(admin_env).await;
    let seed_args = [
        "demo",
        "seed",
        "--json",
        "--seed",
        "7",
        "--companies",
        "4",
        "--pending",
        "1",
        "--jobs",
        "12",
        "--resumes",
        "10",
        "--applications",
        "14",
        "--employers",
        "2",
        "--candidates",
        "3",
    ];
    let run = ctl(&mesh, &seed_args).await;
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["counts"]["companies"], 4, "{summary}");
    assert_eq!(summary["counts"]["jobs"], 12);
    assert_eq!(summary["counts"]["resumes"], 10);
    assert_eq!(summary["counts"]["applications"], 14);

    let admin = mesh.login(ADMIN, PASSWORD, None).await.token;
    // Companies: verified by the admin (the last one left pending for review), with offices,
    // as the company service reports them.
    let companies = summary["companies"].as_array().unwrap();
    let mut states = Vec::new();
    for c in companies {
        let name = c["name"].as_str().unwrap();
        let (status, company) = mesh.get(&format!("/v1/{name}"), Some(&admin)).await;
        assert_eq!(status, 200, "{company}");
        states.push(company["verificationState"].as_str().unwrap().to_string());
        assert_eq!(company["verification"]["uscc"], c["uscc"], "{company}");
        let (status, offices) = mesh.get(&format!("/v1/{name}/offices"), Some(&admin)).await;
        assert_eq!(status, 200, "{offices}");
        let offices = offices["offices"].as_array().unwrap();
        assert!(!offices.is_empty(), "{name} has no office");
        assert_eq!(
            offices.iter().filter(|o| o["headquarters"] == true).count(),
            1,
            "{offices:?}"
        );
    }
    assert_eq!(
        states,
        [
            "VERIFICATION_STATE_VERIFIED",
            "VERIFICATION_STATE_VERIFIED",
            "VERIFICATION_STATE_VERIFIED",
            "VERIFICATION_STATE_PENDING"
        ]
    );

    // Jobs: every one published and found by the public search once its index caught up.
    let expected: BTreeSet<String> = summary["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap().to_string())
        .collect();
    let found = eventually_value(Duration::from_secs(30), || async {
        let (_, body) = mesh
            .get("/v1/jobs:search?orderBy=recency&pageSize=100", None)
            .await;
        let names: BTreeSet<String> = body["jobs"]
            .as_array()?
            .iter()
            .filter_map(|j| j["name"].as_str().map(str::to_string))
            .collect();
        (names == expected).then_some(names)
    })
    .await;
    assert!(
        found.is_some(),
        "the search never listed the 12 seeded jobs"
    );
    // And by words of a title (Chinese or English).
    let title = summary["jobs"][0]["title"].as_str().unwrap();
    let (status, body) = mesh
        .get(
            &format!(
                "/v1/jobs:search?query={}",
                talentmeshctl::commands::sync::encode(title)
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["name"] == summary["jobs"][0]["name"]),
        "searching {title:?}: {body}"
    );

    // Applications: as the candidates see them, at every stage of the pipeline.
    let demo_password = summary["accounts"]["password"].as_str().unwrap();
    let mut stages: BTreeMap<String, usize> = BTreeMap::new();
    for email in summary["accounts"]["candidates"].as_array().unwrap() {
        let token = mesh
            .login(email.as_str().unwrap(), demo_password, None)
            .await
            .token;
        let (status, mine) = mesh
            .get("/v1/applications:mine?pageSize=200", Some(&token))
            .await;
        assert_eq!(status, 200, "{mine}");
        for a in mine["applications"].as_array().into_iter().flatten() {
            *stages
                .entry(a["stage"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let reported: BTreeMap<String, usize> = summary["applicationsByStage"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap() as usize))
        .collect();
    assert_eq!(stages, reported);
    assert_eq!(stages.len(), 7, "{stages:?}");
    assert!(stages.values().all(|&n| n > 0), "{stages:?}");

    // The review command sees the pending one.
    let run = ctl(&mesh, &["companies", "verifications", "list", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pending = eventually_value(Duration::from_secs(20), || async {
        let run = ctl(&mesh, &["companies", "verifications", "list", "--json"]).await;
        let listed = run.json()["companies"].as_array().cloned()?;
        (listed.len() == 1).then_some(listed)
    })
    .await
    .expect("the pending company is listed");
    assert_eq!(pending[0]["name"], companies[3]["name"]);
    assert_eq!(pending[0]["verification"]["uscc"], companies[3]["uscc"]);

    // A second run of the same seed is refused, clearly, before writing anything.
    let again = ctl(&mesh, &seed_args).await;
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert!(
        again.stderr.contains("--seed 7 exists already"),
        "{}",
        again.stderr
    );
    mesh.stop().await;
}

#[tokio::test]
async fn status_and_the_sync_commands_report_the_running_services_as_json() {
    let mesh = Mesh::start_with_sync(admin_env).await;
    let sync = mesh.sync.as_ref().unwrap();
    let gateway_name = talentmesh_e2e::gateway_consul_name(&mesh.env.id);
    let names = format!(
        "identity={},sync={},gateway={gateway_name}",
        mesh.identity.service, sync.service
    );
    let args = [
        "status",
        "--json",
        "--services",
        "identity,sync,gateway",
        "--service-names",
        &names,
    ];
    // The gateway's registration passes once Consul has run its first check.
    let healthy = eventually_value(Duration::from_secs(30), || async {
        let run = ctl(&mesh, &args).await;
        (run.code == 0).then_some(run)
    })
    .await;
    let Some(run) = healthy else {
        panic!(
            "status never became healthy: {}",
            last_run(&mesh, &args).await
        );
    };
    let status = run.json();
    assert_eq!(status["healthy"], true, "{status}");
    let services = status["services"].as_array().unwrap();
    let listed: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["identity", "sync"]);
    for (s, spawned) in services.iter().zip([&mesh.identity, sync]) {
        let instance = &s["instances"][0];
        assert_eq!(instance["health"], "passing", "{s}");
        assert_eq!(instance["port"], spawned.addr.port(), "{s}");
        assert_eq!(instance["metricsPort"], spawned.metrics.port().to_string());
        assert!(!instance["version"].as_str().unwrap().is_empty(), "{s}");
    }
    assert_eq!(status["gateway"]["ready"], true, "{status}");
    // The gateway as Consul has it, like the services: its instance, version and metrics port.
    let gateway = &status["gateway"]["instances"][0];
    assert_eq!(gateway["health"], "passing", "{status}");
    assert_eq!(
        format!("http://127.0.0.1:{}", gateway["port"]),
        mesh.base,
        "{status}"
    );
    assert!(!gateway["version"].as_str().unwrap().is_empty(), "{status}");
    assert!(
        gateway["metricsPort"]
            .as_str()
            .unwrap()
            .parse::<u16>()
            .is_ok(),
        "{status}"
    );

    // A service missing from Consul makes the status unhealthy (exit 6), still as JSON.
    let run = ctl(
        &mesh,
        &[
            "status",
            "--json",
            "--services",
            "identity",
            "--service-names",
            "identity=no-such-service-anywhere",
        ],
    )
    .await;
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_eq!(
        run.json()["services"][0]["instances"],
        serde_json::json!([])
    );

    let run = ctl(&mesh, &["sync", "overview", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let overview = run.json();
    let identity = overview["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "services/identity")
        .unwrap_or_else(|| panic!("identity is not in the overview: {overview}"));
    assert_eq!(identity["instances"][0]["error"], "", "{identity}");

    let run = ctl(&mesh, &["sync", "check", "identity", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let op = run.json();
    assert_eq!(
        op["operation"]["state"], "OPERATION_STATE_SUCCEEDED",
        "{op}"
    );
    // Identity keeps no projections, so its check has nothing to compare, and says so.
    assert!(
        op["operation"]["name"]
            .as_str()
            .unwrap()
            .starts_with("services/identity/operations/"),
        "{op}"
    );

    let run = ctl(
        &mesh,
        &["sync", "dead-letters", "list", "identity", "--json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.json().is_object());

    // Errors name the HTTP status and the gateway's reason, with an exit code per kind: 4 for
    // a service the control plane does not know, 5 for a refused login.
    let run = ctl(&mesh, &["sync", "check", "nope"]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 404"), "{}", run.stderr);
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_talentmeshctl"))
        .args([
            "--gateway",
            &mesh.base,
            "--email",
            ADMIN,
            "sync",
            "overview",
        ])
        .env("TALENTMESH_ADMIN_PASSWORD", "not the password 1")
        .output()
        .await
        .unwrap();
    assert_eq!(run.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("HTTP 401") && stderr.contains(ADMIN),
        "{stderr}"
    );
    mesh.stop().await;
}

/// The default size, as a newcomer runs it (tables, not JSON), for the timing in the report
/// and a look at the output: `cargo test -p talentmeshctl --test cli_against_the_mesh --
/// --ignored --nocapture`.
#[tokio::test]
#[ignore = "takes about a minute: run by hand to time the default demo seed"]
async fn default_size_demo_seed_against_the_harness() {
    let mesh = Mesh::start_with_jobs(admin_env).await;
    let started = std::time::Instant::now();
    let run = ctl(&mesh, &["demo", "seed"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    println!("{}", run.stdout);
    println!(
        "default demo seed: {:.1}s wall",
        started.elapsed().as_secs_f64()
    );
    let run = ctl(&mesh, &["companies", "verifications", "list"]).await;
    println!("{}", run.stdout);
    mesh.stop().await;
}
