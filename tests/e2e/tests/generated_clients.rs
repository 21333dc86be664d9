//! The generated clients (issue 16): `dev/clients.sh` generates the Python and Go stubs from the
//! contracts (buf.gen.yaml) and builds the example clients of `tests/clients`. Each client then
//! registers an employer, logs in, creates a company, is refused a job whose salary range is
//! upside down (decoding the real `google.rpc.BadRequest` from its language's package), posts,
//! publishes and finds a job, calling the services' gRPC ports directly with the bearer token.
//!
//! With mesh TLS (the default) the clients speak Connect mutual TLS as a Connect service of their
//! own (`client-<id>`), with the leaf certificate and CA roots this test asks the Consul agent for,
//! as a user would; each test service lets any Connect caller in. With
//! `TALENTMESH_MESH_TLS=off` they run with `--insecure`.
//!
//! Needs Go, Python 3 and the package registries the first time (dev/clients.sh installs the
//! plugins and the venv), then only the local servers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use talentmesh_e2e::Mesh;
use talentmesh_testkit::{consul_addr, consul_token, Spawned};

/// Longer than the clients' own deadlines (10 s a call, 30 s for the search).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `dev/clients.sh` once per test process (later callers wait for the first) and returns
/// the folder of the built clients.
async fn clients() -> PathBuf {
    static GENERATED: OnceLock<Result<(), String>> = OnceLock::new();
    let generated = tokio::task::spawn_blocking(|| {
        GENERATED
            .get_or_init(|| {
                let out = std::process::Command::new("bash")
                    .arg(repo().join("dev/clients.sh"))
                    .output()
                    .map_err(|e| format!("could not run dev/clients.sh: {e}"))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "dev/clients.sh failed ({}): it generates the stubs and builds the \
                         clients, and needs Go, Python 3 and, the first time, the registries\n{}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    ))
                }
            })
            .clone()
    })
    .await
    .unwrap();
    if let Err(e) = generated {
        panic!("{e}");
    }
    repo().join("tests/clients/gen/bin")
}

/// The files a client needs for Connect mutual TLS, in a folder of the test's own (removed on
/// drop): the CA roots and the leaf certificate and key of the Connect service `name`, from the
/// local agent's `/v1/agent/connect/ca/{roots,leaf/<name>}` with the tests' token.
struct ClientCertificate {
    folder: PathBuf,
}

impl ClientCertificate {
    async fn fetch(name: &str) -> ClientCertificate {
        let http = reqwest::Client::new();
        let get = |path: String| {
            let http = http.clone();
            async move {
                let resp = http
                    .get(format!("{}{path}", consul_addr()))
                    .header("X-Consul-Token", consul_token().expose())
                    .send()
                    .await
                    .expect("consul agent");
                assert!(resp.status().is_success(), "{path}: {}", resp.status());
                resp.json::<serde_json::Value>().await.expect("json")
            }
        };
        let leaf = get(format!("/v1/agent/connect/ca/leaf/{name}")).await;
        let roots = get("/v1/agent/connect/ca/roots".to_string()).await;
        let roots: String = roots["Roots"]
            .as_array()
            .expect("roots")
            .iter()
            .map(|r| format!("{}\n", r["RootCert"].as_str().expect("a root").trim()))
            .collect();
        let folder = std::env::temp_dir().join(format!("talentmesh-{name}"));
        std::fs::create_dir_all(&folder).unwrap();
        let write = |file: &str, text: &str| {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(folder.join(file))
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .unwrap();
        };
        write("roots.pem", &roots);
        write("leaf.pem", leaf["CertPEM"].as_str().expect("CertPEM"));
        write(
            "leaf.key",
            leaf["PrivateKeyPEM"].as_str().expect("PrivateKeyPEM"),
        );
        ClientCertificate { folder }
    }

    fn args(&self) -> Vec<String> {
        [
            ("--ca", "roots.pem"),
            ("--cert", "leaf.pem"),
            ("--key", "leaf.key"),
        ]
        .into_iter()
        .flat_map(|(flag, file)| {
            [
                flag.to_string(),
                self.folder.join(file).display().to_string(),
            ]
        })
        .collect()
    }
}

impl Drop for ClientCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// The flags that point a client at `service` (identity, company or job) running as `spawned`.
fn endpoint(service: &str, spawned: &Spawned) -> [String; 4] {
    [
        format!("--{service}"),
        spawned.addr.to_string(),
        format!("--{service}-service"),
        spawned.service.clone(),
    ]
}

/// What a client run printed: its `key=value` lines, its stderr, and whether it exited 0.
struct Run {
    success: bool,
    lines: HashMap<String, String>,
    /// Nothing on a successful run: no log lines, no tracebacks of the TLS relay at exit.
    stderr: String,
    output: String,
}

impl Run {
    fn get(&self, key: &str) -> &str {
        self.lines
            .get(key)
            .unwrap_or_else(|| panic!("no {key}= line in the output:\n{}", self.output))
    }
}

/// Runs the built client `bin` (go-client or python-client) with `args`, the TLS flags
/// (`--insecure` without a certificate) first.
async fn run(bin: &str, tls: Option<&ClientCertificate>, args: &[String]) -> Run {
    let mut command = tokio::process::Command::new(clients().await.join(bin));
    match tls {
        Some(cert) => command.args(cert.args()),
        None => command.arg("--insecure"),
    };
    command.args(args).kill_on_drop(true);
    let out = tokio::time::timeout(CLIENT_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{bin} did not finish within {CLIENT_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("could not run {bin}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    Run {
        success: out.status.success(),
        lines: stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        output: format!(
            "{bin}: {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
            out.status
        ),
        stderr,
    }
}

/// A client certificate for the test's own Connect client when the mesh speaks TLS.
async fn certificate(mesh: &Mesh) -> Option<ClientCertificate> {
    if mesh.identity.tls {
        Some(ClientCertificate::fetch(&format!("client-{}", mesh.env.id)).await)
    } else {
        None
    }
}

/// The whole flow with `bin`, asserting on every line it printed.
async fn posts_and_finds_a_job(bin: &str) {
    let mesh = Mesh::start_with_jobs(|env| env).await;
    let cert = certificate(&mesh).await;
    let args: Vec<String> = [
        endpoint("identity", &mesh.identity),
        endpoint("company", mesh.company.as_ref().unwrap()),
        endpoint("job", mesh.job.as_ref().unwrap()),
    ]
    .concat();
    let run = run(bin, cert.as_ref(), &args).await;
    assert!(run.success, "{}", run.output);
    assert_eq!(
        run.stderr, "",
        "a successful run prints nothing on stderr: {}",
        run.output
    );
    assert!(run.get("user").starts_with("users/"), "{}", run.output);
    let company = run.get("company");
    assert!(company.starts_with("companies/"), "{}", run.output);
    assert_eq!(
        run.get("rejected"),
        "job.salary_min",
        "the BadRequest names the field: {}",
        run.output
    );
    let job = run.get("job");
    assert!(
        job.starts_with(&format!("{company}/jobs/")),
        "{}",
        run.output
    );
    assert_eq!(run.get("state"), "JOB_STATE_PUBLISHED", "{}", run.output);
    assert_eq!(run.get("found"), job, "{}", run.output);
    // And the platform agrees: the job is public through the gateway.
    let (status, public) = mesh.get(&format!("/v1/{job}"), None).await;
    assert_eq!(
        (status, &public["title"]),
        (200, &serde_json::json!("高级Rust后端工程师"))
    );
    mesh.stop().await;
}

#[tokio::test]
async fn the_python_client_posts_a_job_and_finds_it() {
    posts_and_finds_a_job("python-client").await;
}

#[tokio::test]
async fn the_go_client_posts_a_job_and_finds_it() {
    posts_and_finds_a_job("go-client").await;
}

#[tokio::test]
async fn the_clients_refuse_a_server_whose_certificate_names_another_service() {
    let mesh = Mesh::start().await;
    let Some(cert) = certificate(&mesh).await else {
        eprintln!("TALENTMESH_MESH_TLS=off: no certificates to check, nothing to test");
        mesh.stop().await;
        return;
    };
    // The real identity instance, but the client expects the service `not-<identity>`.
    let mut args = endpoint("identity", &mesh.identity).to_vec();
    args[3] = format!("not-{}", mesh.identity.service);
    let users = mesh.users_in_mysql().await;
    for bin in ["python-client", "go-client"] {
        let run = run(bin, Some(&cert), &args).await;
        assert!(!run.success, "{}", run.output);
        assert!(!run.lines.contains_key("user"), "{}", run.output);
        let refusal = format!("not the service not-{}", mesh.identity.service);
        assert!(
            run.output.contains(&refusal),
            "the client says why it refused: {}",
            run.output
        );
    }
    assert_eq!(
        mesh.users_in_mysql().await,
        users,
        "no registration reached identity"
    );
    mesh.stop().await;
}
