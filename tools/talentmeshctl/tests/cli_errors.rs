//! The built binary's errors, without a mesh: a closed port, a port that never answers and a
//! small fake gateway stand for the failures a user meets. Each test checks the three things a
//! script or a person reads: the exit code (one per kind, see `--help`), the `--json` error on
//! stdout (a `google.rpc.Status` under `error`) and the message and hint on stderr.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

use serde_json::{json, Value};

/// What a run of the binary printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The `--json` error on stdout: the whole of stdout must be one JSON object with `error`.
    fn error(&self) -> Value {
        let value: Value = serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        });
        assert_eq!(value.as_object().map(|o| o.len()), Some(1), "{value}");
        value["error"].clone()
    }
}

/// Runs the binary with `args`, the admin password set and no connection settings inherited
/// from the environment.
fn ctl(args: &[&str]) -> Run {
    ctl_with(args, &[])
}

/// [`ctl`], with the variables of `env` set (`Some`) or removed (`None`) after its own.
fn ctl_with(args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_talentmeshctl"));
    for var in [
        "TALENTMESH_GATEWAY_URL",
        "TALENTMESH_ADMIN_EMAIL",
        "TALENTMESH_ADMIN_PASSWORD_FILE",
        "TALENTMESH_CONSUL_ADDR",
        "TALENTMESH_CONSUL_TOKEN_FILE",
        "TALENTMESH_CTL_SERVICE_NAMES",
    ] {
        command.env_remove(var);
    }
    command
        .args(args)
        .env("TALENTMESH_ADMIN_PASSWORD", "some password 1")
        .env("TALENTMESH_CONSUL_TOKEN", "some-token");
    for (var, value) in env {
        match value {
            Some(value) => command.env(var, value),
            None => command.env_remove(var),
        };
    }
    let output = command.output().expect("run talentmeshctl");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A local port nothing listens on: bound, then closed.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An answer of the fake gateway: to requests whose first line starts with `.0` (e.g. `POST
/// /v1/sessions:login `), status `.1` and JSON body `.2`.
type Answer = (&'static str, u16, Value);

/// A fake gateway answering each request with the first of `answers` that matches (none: 500),
/// one connection a request.
fn fake_gateway(answers: Vec<Answer>) -> String {
    fake_gateway_once_then(Vec::new(), answers)
}

/// [`fake_gateway`], where each of `once` answers the first request it matches and is then
/// used up; requests none of `once` matches get `answers`'.
fn fake_gateway_once_then(once: Vec<Answer>, answers: Vec<Answer>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut once = once;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            answer(stream, &mut once, &answers);
        }
    });
    base
}

/// The fake gateway's login as anyone.
fn logged_in() -> Answer {
    (
        "POST /v1/sessions:login ",
        200,
        json!({"tokens": {"accessToken": "t"}, "user": {"name": "users/1"}}),
    )
}

fn answer(stream: TcpStream, once: &mut Vec<Answer>, answers: &[Answer]) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let used = once
        .iter()
        .position(|(start, _, _)| request_line.starts_with(start))
        .map(|i| once.remove(i));
    let (status, json) = used
        .as_ref()
        .or_else(|| {
            answers
                .iter()
                .find(|(start, _, _)| request_line.starts_with(start))
        })
        .map_or((500, json!({})), |(_, status, json)| {
            (*status, json.clone())
        });
    let json = json.to_string();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
        json.len()
    );
    let _ = reader.get_mut().write_all(response.as_bytes());
}

#[test]
fn a_gateway_that_is_down_exits_3_with_the_cause_on_stderr_and_a_status_on_stdout() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let run = ctl(&["--gateway", &base, "--json", "sync", "overview"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let reaching = format!("cannot reach the gateway at {base}: ");
    // The whole cause chain, down to the socket's error.
    assert!(
        run.stderr.contains(&reaching) && run.stderr.contains("Connection refused"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\nhint: nothing listens at") && run.stderr.contains("--gateway"),
        "{}",
        run.stderr
    );
    let error = run.error();
    assert_eq!(error["code"], 14, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&reaching), "{message}");
    let info = &error["details"][0];
    assert_eq!(
        info["@type"], "type.googleapis.com/google.rpc.ErrorInfo",
        "{error}"
    );
    assert_eq!(info["reason"], "CONNECTION_REFUSED");
    assert_eq!(info["domain"], "talentmeshctl");
    assert_eq!(info["metadata"]["url"], base.as_str());
    assert_eq!(info["metadata"]["peer"], "gateway");
}

#[test]
fn without_json_an_error_leaves_stdout_empty() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let run = ctl(&["--gateway", &base, "companies", "verifications", "list"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with("talentmeshctl: "), "{}", run.stderr);
}

#[test]
fn a_consul_that_is_down_fails_status_with_exit_3_naming_consul() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let run = ctl(&[
        "--consul",
        &base,
        "status",
        "--json",
        "--services",
        "identity",
    ]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains(&format!("cannot reach Consul at {base}: ")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--consul"), "{}", run.stderr);
    let error = run.error();
    assert_eq!(error["details"][0]["metadata"]["peer"], "consul", "{error}");
}

#[test]
fn a_gateway_that_never_answers_times_out_with_exit_3_and_deadline_exceeded() {
    // Bound and listening but never accepting: the kernel completes the handshake, and the
    // request waits for an answer that never comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", silent.local_addr().unwrap());
    let run = ctl(&[
        "--gateway",
        &base,
        "--timeout",
        "1",
        "--json",
        "sync",
        "overview",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let error = run.error();
    assert_eq!(error["code"], 4, "{error}");
    assert_eq!(error["details"][0]["reason"], "TIMEOUT");
    assert!(
        run.stderr.contains("did not answer within 1s"),
        "{}",
        run.stderr
    );
    drop(silent);
}

#[test]
fn a_wrong_command_line_exits_2_and_with_json_says_so_on_stdout() {
    // Refused by clap.
    let run = ctl(&["sync", "no-such-command", "--json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no-such-command"), "{}", run.stderr);
    let error = run.error();
    assert_eq!(error["code"], 3, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no-such-command"),
        "{error}"
    );
    // Refused by the command itself, before any request.
    let run = ctl(&["status", "--json", "--services", "nope"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.error()["details"][0]["reason"], "INVALID_USAGE");
    // Help is not an error.
    let run = ctl(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("Exit codes:") && run.stdout.contains("  3  unreachable"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_not_found_answer_exits_4_and_its_status_reaches_stdout_as_the_gateway_sent_it() {
    let not_found = json!({
        "code": 5,
        "message": "no service `nope` has a sync control plane",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "NOT_FOUND",
            "domain": "talentmesh",
            "metadata": {}
        }]
    });
    let base = fake_gateway(vec![logged_in(), ("GET ", 404, not_found.clone())]);
    let run = ctl(&[
        "--gateway",
        &base,
        "sync",
        "operations",
        "list",
        "nope",
        "--json",
    ]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(run.error(), not_found);
    assert!(
        run.stderr.contains("HTTP 404 NOT_FOUND: no service `nope`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_refused_login_exits_5_with_a_hint_naming_the_credentials() {
    let refused = json!({"code": 16, "message": "wrong email or password", "details": []});
    let base = fake_gateway(vec![("POST /v1/sessions:login ", 401, refused)]);
    let run = ctl(&[
        "--gateway",
        &base,
        "--email",
        "someone@example.com",
        "--json",
        "sync",
        "overview",
    ]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    let error = run.error();
    assert_eq!(error["code"], 16, "{error}");
    assert_eq!(
        error["message"],
        "logging in as someone@example.com: wrong email or password"
    );
    assert!(
        run.stderr.contains("HTTP 401") && run.stderr.contains("hint: check --email"),
        "{}",
        run.stderr
    );
}

#[test]
fn with_json_what_was_done_before_an_error_is_printed_beside_it_in_one_document() {
    let base = fake_gateway(vec![
        logged_in(),
        (
            "POST /v1/companies/1:reviewVerification ",
            200,
            json!({"company": {"name": "companies/1", "verificationState": "VERIFICATION_STATE_VERIFIED"}}),
        ),
        (
            "POST /v1/companies/2:reviewVerification ",
            400,
            json!({"code": 9, "message": "companies/2 has no pending verification", "details": []}),
        ),
    ]);
    let run = ctl(&[
        "--gateway",
        &base,
        "--json",
        "companies",
        "verifications",
        "approve",
        "1",
        "2",
        "3",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let document: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout));
    assert_eq!(
        document["companies"],
        json!([{"name": "companies/1", "verificationState": "VERIFICATION_STATE_VERIFIED"}])
    );
    assert_eq!(document["error"]["code"], 9, "{document}");
    assert!(
        run.stderr
            .contains("HTTP 400: companies/2 has no pending verification"),
        "{}",
        run.stderr
    );
}

/// The gateway's answer when identity's login rate limit refuses, asking to wait `delay`.
fn rate_limited(delay: &str) -> Value {
    json!({
        "code": 8,
        "message": "too many requests; retry after the delay in RetryInfo",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMITED", "domain": "talentmesh", "metadata": {}},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
        ]
    })
}

const APPROVED: &str = "POST /v1/companies/1:reviewVerification ";

fn approved() -> Answer {
    (
        APPROVED,
        200,
        json!({"company": {"name": "companies/1", "verificationState": "VERIFICATION_STATE_VERIFIED"}}),
    )
}

#[test]
fn a_rate_limited_login_is_tried_again_after_the_delay_the_gateway_asks_for() {
    let base = fake_gateway_once_then(
        vec![("POST /v1/sessions:login ", 429, rate_limited("0.200s"))],
        vec![logged_in(), approved()],
    );
    let started = std::time::Instant::now();
    let run = ctl(&[
        "--gateway",
        &base,
        "companies",
        "verifications",
        "approve",
        "1",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("rate limited; retrying in 0.2 s"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert!(run.stdout.contains("companies/1"), "{}", run.stdout);
}

#[test]
fn a_login_still_rate_limited_after_its_tries_says_how_long_to_wait_with_a_hint() {
    let base = fake_gateway(vec![(
        "POST /v1/sessions:login ",
        429,
        rate_limited("0.100s"),
    )]);
    let run = ctl(&["--gateway", &base, "sync", "overview"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    // Three tries: two waits, then the error with the delay and what to do.
    assert_eq!(
        run.stderr
            .matches("rate limited; retrying in 0.1 s")
            .count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("HTTP 429 RATE_LIMITED") && run.stderr.contains("(retry in 0.1 s)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\nhint: ") && run.stderr.contains("wait 0.1 s"),
        "{}",
        run.stderr
    );

    // A delay beyond what a command waits in all is not waited for.
    let base = fake_gateway(vec![(
        "POST /v1/sessions:login ",
        429,
        rate_limited("120s"),
    )]);
    let started = std::time::Instant::now();
    let run = ctl(&["--gateway", &base, "sync", "overview"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stderr.contains("retrying"), "{}", run.stderr);
    assert!(run.stderr.contains("(retry in 120.0 s)"), "{}", run.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_failed_review_prints_nothing_on_stdout_without_json() {
    let base = fake_gateway(vec![
        logged_in(),
        approved(),
        (
            "POST /v1/companies/2:reviewVerification ",
            400,
            json!({"code": 9, "message": "companies/2 has no pending verification", "details": []}),
        ),
    ]);
    let run = ctl(&[
        "--gateway",
        &base,
        "companies",
        "verifications",
        "approve",
        "1",
        "2",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("reviewed before the error: companies/1 (verified)"),
        "{}",
        run.stderr
    );
}

/// Consul's health answer for one passing instance of `id` with its meta.
fn consul_instance(id: &str, port: u16, version: &str, metrics_port: &str) -> Value {
    json!([{
        "Node": {"Address": "127.0.0.1"},
        "Service": {"ID": id, "Address": "127.0.0.1", "Port": port,
                    "Meta": {"version": version, "metrics_port": metrics_port}},
        "Checks": [{"Name": "serf", "Status": "passing", "Output": ""}]
    }])
}

#[test]
fn status_shows_the_gateway_as_consul_has_it_like_the_services() {
    let consul = fake_gateway(vec![
        (
            "GET /v1/health/service/identity ",
            200,
            consul_instance("identity-1", 50051, "0.1.0+aaa", "51051"),
        ),
        (
            "GET /v1/health/service/gateway ",
            200,
            consul_instance("gateway-1", 18080, "0.1.0+bbb", "19080"),
        ),
        // Consul answers a service it does not know with no instances.
        ("GET /v1/health/service/gone ", 200, json!([])),
    ]);
    let gateway = fake_gateway(vec![
        ("GET /healthz ", 200, json!({})),
        (
            "GET /readyz ",
            200,
            json!({"routes": 12, "upstreams": ["identity"]}),
        ),
    ]);
    let args = [
        "--gateway",
        &gateway,
        "--consul",
        &consul,
        "status",
        "--services",
        "identity,gateway",
    ];
    let run = ctl(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("gateway-1"))
        .unwrap_or_else(|| panic!("no gateway instance row:\n{}", run.stdout));
    for cell in ["127.0.0.1:18080", "passing", "0.1.0+bbb", "19080"] {
        assert!(row.contains(cell), "{cell} is not in {row}");
    }
    assert!(run.stdout.contains("ready (12 routes"), "{}", run.stdout);

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let status: Value = serde_json::from_str(&ctl(&json_args).stdout).unwrap();
    let g = &status["gateway"];
    assert_eq!(g["instances"][0]["version"], "0.1.0+bbb", "{status}");
    assert_eq!(g["instances"][0]["metricsPort"], "19080", "{status}");
    assert_eq!(g["ready"], true, "{status}");
    assert_eq!(status["services"].as_array().unwrap().len(), 1, "{status}");

    // A gateway missing from Consul makes the mesh unhealthy, as a service would.
    let run = ctl(&[
        "--gateway",
        &gateway,
        "--consul",
        &consul,
        "status",
        "--services",
        "identity,gateway",
        "--service-names",
        "gateway=gone",
    ]);
    assert_eq!(run.code, 6, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("gateway (gone)") && l.contains("missing")),
        "{}",
        run.stdout
    );
}

#[test]
fn an_empty_consul_token_file_is_refused_with_a_hint() {
    let consul = format!("http://127.0.0.1:{}", closed_port());
    let run = ctl_with(
        &[
            "--consul",
            &consul,
            "--consul-token-file",
            "/dev/null",
            "status",
            "--json",
        ],
        &[("TALENTMESH_CONSUL_TOKEN", None)],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("/dev/null is empty") && run.stderr.contains("\nhint: "),
        "{}",
        run.stderr
    );
    let error = run.error();
    assert_eq!(error["details"][0]["reason"], "INVALID_SETTING", "{error}");
}
