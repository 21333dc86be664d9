//! The gateway against its own OpenAPI document, checked by a property-based tester: schemathesis
//! (PyPI, installed pinned by `dev/schemathesis.sh`) reads `/openapi.json` from a running mesh,
//! generates requests for every operation, valid and invalid, and checks that no answer is a
//! server error, that every status and content type is one the document lists, and that every
//! body is valid against the document's schema. Any failure fails the test, with schemathesis'
//! report (each failing case with a curl line to reproduce it).
//!
//! Two runs: the whole mesh as an employer, and identity with the sync control plane as the
//! bootstrap admin (the sync API is for admins only).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use talentmesh_e2e::Mesh;

const PASSWORD: &str = "correct horse 42";
const ADMIN: &str = "st-admin@example.com";

/// The checks that must hold for every generated case.
const CHECKS: &str = "not_a_server_error,status_code_conformance,\
                      response_schema_conformance,content_type_conformance";

/// Cases per operation and phase: 77 operations, so the whole-mesh run takes about a minute on
/// two cores. `TALENTMESH_SCHEMATHESIS_EXAMPLES` raises it for a deeper local run.
const EXAMPLES: &str = "12";

/// Runs schemathesis against `mesh`'s gateway with `token`, on the operations whose path
/// matches `paths` (a regular expression), and fails the test on any failure.
async fn conforms(mesh: &Mesh, token: &str, paths: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dev/schemathesis.sh");
    let examples =
        std::env::var("TALENTMESH_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| EXAMPLES.into());
    // Other checks for a local look (`positive_data_acceptance` lists where the document
    // allows what a service refuses); CI runs CHECKS.
    let checks = std::env::var("TALENTMESH_SCHEMATHESIS_CHECKS").unwrap_or_else(|_| CHECKS.into());
    // schemathesis keeps state (replayable cases) under its working directory: a folder of
    // this run's own, not the source tree.
    let workdir = std::env::temp_dir().join(format!("talentmesh-schemathesis-{}", mesh.env.id));
    std::fs::create_dir_all(&workdir).unwrap();
    let started = Instant::now();
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .args(["run", &mesh.url("/openapi.json")])
        .args(["--url", &mesh.base])
        .args(["--include-path-regex", paths])
        .args(["--checks", &checks])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &examples])
        // The same cases on every run, so a failure in CI reproduces locally.
        .args(["--seed", "16"])
        .args(["--generation-database", "none"])
        // One worker: hypothesis describes strategies by parsing lambdas with `ast`, which in
        // CPython 3.11 fails now and then when two threads do it at once ("AST constructor
        // recursion depth mismatch"), an error that is schemathesis' own, not the gateway's.
        .args(["--workers", "1"])
        .args(["--request-timeout", "20"])
        .args(["--suppress-health-check", "all"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .arg("--no-color")
        .current_dir(&workdir)
        .output()
        .await
        .expect("run dev/schemathesis.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!(
        "schemathesis: {:.0?} ({examples} examples per operation)\n{stdout}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&workdir);
    assert!(
        output.status.success(),
        "schemathesis found failures ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// Both runs in one test, one mesh after the other: two meshes starting at once on two cores
/// slow each other past their start-up deadlines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_as_its_openapi_document_says() {
    whole_mesh_as_an_employer().await;
    identity_and_sync_as_the_admin().await;
}

/// Every operation, as an employer with a company (so reads find something); a candidate
/// account beside it.
async fn whole_mesh_as_an_employer() {
    let mesh = Mesh::start_all().await;
    let employer = mesh
        .login("st-employer@example.com", PASSWORD, Some("ROLE_EMPLOYER"))
        .await;
    mesh.login("st-candidate@example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await;
    let (status, company) = mesh
        .call(
            reqwest::Method::POST,
            "/v1/companies",
            Some(&employer.token),
            Some(serde_json::json!({"displayName": "星河科技", "cityCode": "440300"})),
        )
        .await;
    assert_eq!(status, 200, "{company}");
    conforms(&mesh, &employer.token, "^/").await;
    mesh.stop().await;
}

/// The identity and sync operations as the bootstrap admin (the sync API is for admins only;
/// `Mesh::start_all` takes no admin).
async fn identity_and_sync_as_the_admin() {
    let mesh = Mesh::start_with_sync(|env| {
        env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN)
            .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", PASSWORD)
    })
    .await;
    let admin = mesh.login(ADMIN, PASSWORD, None).await;
    // Only identity and sync run here; the other services' routes would be 503.
    conforms(
        &mesh,
        &admin.token,
        "^/(v1/(sync|users|sessions|publicKeys)|\\.well-known)",
    )
    .await;
    mesh.stop().await;
}
