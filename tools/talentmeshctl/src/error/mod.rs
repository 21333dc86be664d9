//! The CLI's errors, and the one place HTTP answers and transport failures become them, for
//! both endpoints it talks to (the gateway and Consul, see [`Endpoint`]).
//!
//! Every error prints as one line a person can act on: an answer names its HTTP status and the
//! `google.rpc.ErrorInfo` reason it carried; a transport failure names the endpoint and the
//! whole chain of causes (`cannot reach the gateway at http://127.0.0.1:18080: … tcp connect
//! error: Connection refused (os error 111)`). [`Error::hint`] adds what to check,
//! [`Error::exit_code`] gives scripts a distinct exit code per kind ([`exit`]), and
//! [`Error::to_status`] the error as a `google.rpc.Status` in JSON, for `--json`.

use std::time::Duration;

use serde_json::{json, Map, Value};
use thiserror::Error;

mod endpoint;
pub use endpoint::Endpoint;

/// The exit codes, one per kind of outcome (listed in `--help`, see `cli.rs`).
pub mod exit {
    /// Any other error: the mesh refused the request (HTTP 400, 409, 429, 500, …), an
    /// operation failed, an answer was not what the API promises.
    pub const OTHER: u8 = 1;
    /// The command line was wrong (clap's own errors exit 2 as well).
    pub const USAGE: u8 = 2;
    /// The gateway or Consul could not be reached (connection refused, DNS, TLS, timeout), or
    /// the gateway answered 502, 503 or 504: a service behind it is not available.
    pub const UNREACHABLE: u8 = 3;
    /// HTTP 404: no such resource, service or route.
    pub const NOT_FOUND: u8 = 4;
    /// HTTP 401 or 403: the login was refused, or the account (or Consul token) may not do it.
    pub const PERMISSION: u8 = 5;
    /// `status` asked, and a service is missing or unhealthy.
    pub const UNHEALTHY: u8 = 6;
}

/// The `domain` of the `google.rpc.ErrorInfo` the CLI writes for its own errors.
pub const DOMAIN: &str = "talentmeshctl";

/// Which of the two endpoints a request went to: it names the endpoint in messages and picks
/// the option a hint points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Gateway,
    Consul,
}

impl Peer {
    /// `the gateway` or `Consul`, as a sentence names it.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Gateway => "the gateway",
            Peer::Consul => "Consul",
        }
    }

    /// The option and variable that set its address.
    fn option(self) -> &'static str {
        match self {
            Peer::Gateway => "--gateway (TALENTMESH_GATEWAY_URL)",
            Peer::Consul => "--consul (TALENTMESH_CONSUL_ADDR)",
        }
    }
}

/// Why a request got no answer, read from the cause chain of a `reqwest::Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens at the address.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// TLS was asked for (an `https://` URL; this build speaks plain HTTP) or failed.
    Tls,
    /// No answer within `--timeout`.
    Timeout,
    /// Anything else: the connection was reset, the answer was not HTTP, …
    Other,
}

impl Failure {
    /// The `ErrorInfo` reason for `--json`.
    fn reason(self) -> &'static str {
        match self {
            Failure::Refused => "CONNECTION_REFUSED",
            Failure::Dns => "DNS_FAILED",
            Failure::Tls => "TLS_FAILED",
            Failure::Timeout => "TIMEOUT",
            Failure::Other => "TRANSPORT_FAILED",
        }
    }

    /// Classifies `error` by its causes: an `io::Error`'s kind where there is one, else the
    /// messages hyper-util gives its connect errors (`dns error`).
    pub fn of(error: &reqwest::Error) -> Failure {
        if error.is_timeout() {
            return Failure::Timeout;
        }
        if error.url().is_some_and(|u| u.scheme() == "https") {
            return Failure::Tls;
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => return Failure::Refused,
                    std::io::ErrorKind::TimedOut => return Failure::Timeout,
                    _ => {}
                }
            }
            let text = e.to_string().to_lowercase();
            if text.starts_with("dns error") || text.contains("failed to lookup address") {
                return Failure::Dns;
            }
            if text.contains("tls") || text.contains("certificate") {
                return Failure::Tls;
            }
            cause = e.source();
        }
        Failure::Other
    }
}

#[derive(Debug, Error)]
pub enum Error {
    /// The gateway or Consul answered with an error status.
    #[error("{}", describe_http(*peer, method, path, *status, reason.as_deref(), message, *retry_after))]
    Http {
        peer: Peer,
        method: String,
        path: String,
        status: u16,
        /// The `ErrorInfo` reason, e.g. `RATE_LIMITED`, when the body had one.
        reason: Option<String>,
        message: String,
        /// How long the server asked to wait before trying again: the `google.rpc.RetryInfo`
        /// detail's `retryDelay`, else the `Retry-After` header (whole seconds).
        retry_after: Option<Duration>,
        /// The answer's `google.rpc.Status` as it came (the gateway's error body), if it was one
        /// (boxed: a `Result` carries the whole error on every return).
        body: Option<Box<Value>>,
    },
    /// Nothing answered, or the answer broke off. `what` says which endpoint and the message
    /// goes on with every cause of `cause`, so it is not a `#[source]` (it would print twice).
    #[error("{what}: {}", chain(cause))]
    Transport {
        peer: Peer,
        /// The endpoint's base URL.
        base: String,
        what: String,
        failure: Failure,
        timeout: Duration,
        cause: reqwest::Error,
    },
    #[error("{0}")]
    Usage(String),
    /// A setting that cannot work (an empty token file), with what to do instead; exits as
    /// [`Error::Usage`].
    #[error("{message}")]
    Setting { message: String, hint: String },
    /// `source` while doing `what`; its kind (exit code, JSON code, hint) is the source's.
    #[error("{what}: {source}")]
    Context {
        what: String,
        #[source]
        source: Box<Error>,
    },
    #[error("{0}")]
    Other(String),
    /// `error` after part of the work was done. With `--json` the result so far (`output`, a
    /// JSON object such as `{"companies": [..]}`) is printed with the error added under
    /// `error`, so stdout still holds one document. Its kind is `error`'s.
    #[error("{error}")]
    Partial {
        output: Box<Value>,
        error: Box<Error>,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// `error` and its causes, joined by `: `, each left out where the one before already says it.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = e.source();
    }
    parts.join(": ")
}

fn describe_http(
    peer: Peer,
    method: &str,
    path: &str,
    status: u16,
    reason: Option<&str>,
    message: &str,
    retry_after: Option<Duration>,
) -> String {
    let reason = reason.map(|r| format!(" {r}")).unwrap_or_default();
    let who = match peer {
        Peer::Gateway => "",
        Peer::Consul => "consul ",
    };
    let retry = retry_after
        .map(|d| format!(" (retry in {})", seconds(d)))
        .unwrap_or_default();
    format!("{who}{method} {path}: HTTP {status}{reason}: {message}{retry}")
}

/// A delay as people read it: seconds with one decimal, `1.9 s`.
pub fn seconds(delay: Duration) -> String {
    format!("{:.1} s", delay.as_secs_f64())
}

/// The `google.rpc.Code` for an HTTP status, as `google/rpc/code.proto` pairs them.
fn rpc_code(status: u16) -> i32 {
    match status {
        400 => 3,
        401 => 16,
        403 => 7,
        404 => 5,
        409 => 10,
        412 => 9,
        429 => 8,
        499 => 1,
        501 => 12,
        502 | 503 => 14,
        504 => 4,
        500..=599 => 13,
        _ => 2,
    }
}

fn error_info(reason: &str, metadata: Map<String, Value>) -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": DOMAIN,
        "metadata": metadata,
    })
}

impl Error {
    /// The HTTP status of an error answer, if this is one (or its context's).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            Error::Context { source, .. } => source.status(),
            Error::Partial { error, .. } => error.status(),
            _ => None,
        }
    }

    /// The `ErrorInfo` reason of an error answer, if it had one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::Http { reason, .. } => reason.as_deref(),
            Error::Context { source, .. } => source.reason(),
            Error::Partial { error, .. } => error.reason(),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again (429 and 503 answers), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Http { retry_after, .. } => *retry_after,
            Error::Context { source, .. } => source.retry_after(),
            Error::Partial { error, .. } => error.retry_after(),
            _ => None,
        }
    }

    /// The process's exit code for this error, one of [`exit`].
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Http { status, .. } => match status {
                404 => exit::NOT_FOUND,
                401 | 403 => exit::PERMISSION,
                502..=504 => exit::UNREACHABLE,
                _ => exit::OTHER,
            },
            Error::Transport { .. } => exit::UNREACHABLE,
            Error::Usage(_) | Error::Setting { .. } => exit::USAGE,
            Error::Context { source, .. } => source.exit_code(),
            Error::Partial { error, .. } => error.exit_code(),
            Error::Other(_) => exit::OTHER,
        }
    }

    /// What to check, for the line after the error, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Transport {
                peer,
                base,
                failure,
                timeout,
                ..
            } => {
                let (name, option) = (peer.name(), peer.option());
                Some(match failure {
                    Failure::Refused => format!(
                        "nothing listens at {base}: is {name} running (./dev/up starts the local \
                         mesh)? is {option} its address and port?"
                    ),
                    Failure::Dns => {
                        format!("the host of {base} does not resolve: check {option}")
                    }
                    Failure::Tls => format!(
                        "talentmeshctl speaks plain http:// only: give {option} an http:// \
                         address ({name}'s own port, or a local proxy that speaks TLS to it)"
                    ),
                    Failure::Timeout => format!(
                        "{name} did not answer within {}s (--timeout): is {base} the right \
                         address, and is {name} overloaded?",
                        timeout.as_secs()
                    ),
                    Failure::Other => {
                        format!("is {base} really {name}, speaking plain HTTP? check {option}")
                    }
                })
            }
            Error::Http {
                peer,
                status,
                retry_after,
                ..
            } => match (peer, status) {
                (Peer::Gateway, 429) => Some(format!(
                    "the mesh limits how often an account logs in and calls, and every \
                     talentmeshctl command logs in once: wait {} and run it again, and leave \
                     a pause between commands run in a loop",
                    retry_after.map_or_else(|| "a few seconds".to_string(), seconds)
                )),
                (Peer::Gateway, 401) => Some(
                    "check --email (TALENTMESH_ADMIN_EMAIL) and the admin password \
                     (TALENTMESH_ADMIN_PASSWORD or --password-file)"
                        .into(),
                ),
                (Peer::Gateway, 403) => Some(
                    "the account may not do this: the admin commands need the platform \
                     admin's account (--email)"
                        .into(),
                ),
                (Peer::Consul, 401 | 403) => Some(
                    "check the Consul ACL token (TALENTMESH_CONSUL_TOKEN or --consul-token-file)"
                        .into(),
                ),
                (Peer::Gateway, 502..=504) => Some(
                    "the gateway is up but a service behind it is not: `talentmeshctl status` \
                     shows which"
                        .into(),
                ),
                _ => None,
            },
            Error::Setting { hint, .. } => Some(hint.clone()),
            Error::Context { source, .. } => source.hint(),
            Error::Partial { error, .. } => error.hint(),
            Error::Usage(_) | Error::Other(_) => None,
        }
    }

    /// The error as a `google.rpc.Status` in JSON (`{"code":..,"message":..,"details":[..]}`,
    /// `code` a `google.rpc.Code` number): the gateway's own body when it answered one, else
    /// one made here with an `ErrorInfo` of domain [`DOMAIN`].
    pub fn to_status(&self) -> Value {
        match self {
            Error::Http {
                peer,
                method,
                path,
                status,
                body,
                ..
            } => {
                if let Some(body) = body {
                    return Value::clone(body);
                }
                let mut metadata = Map::new();
                metadata.insert("httpStatus".into(), status.to_string().into());
                metadata.insert("method".into(), method.clone().into());
                metadata.insert("path".into(), path.clone().into());
                let reason = match peer {
                    Peer::Gateway => "GATEWAY_ERROR",
                    Peer::Consul => "CONSUL_ERROR",
                };
                json!({
                    "code": rpc_code(*status),
                    "message": self.to_string(),
                    "details": [error_info(reason, metadata)],
                })
            }
            Error::Transport {
                peer,
                base,
                failure,
                ..
            } => {
                let mut metadata = Map::new();
                metadata.insert(
                    "peer".into(),
                    match peer {
                        Peer::Gateway => "gateway",
                        Peer::Consul => "consul",
                    }
                    .into(),
                );
                metadata.insert("url".into(), base.clone().into());
                if let Some(hint) = self.hint() {
                    metadata.insert("hint".into(), hint.into());
                }
                json!({
                    // DEADLINE_EXCEEDED for a timeout, UNAVAILABLE otherwise.
                    "code": if *failure == Failure::Timeout { 4 } else { 14 },
                    "message": self.to_string(),
                    "details": [error_info(failure.reason(), metadata)],
                })
            }
            Error::Usage(message) => json!({
                "code": 3,
                "message": message,
                "details": [error_info("INVALID_USAGE", Map::new())],
            }),
            Error::Setting { message, hint } => {
                let mut metadata = Map::new();
                metadata.insert("hint".into(), hint.clone().into());
                json!({
                    "code": 3,
                    "message": message,
                    "details": [error_info("INVALID_SETTING", metadata)],
                })
            }
            Error::Context { what, source } => {
                let mut status = source.to_status();
                let message = format!("{what}: {}", status["message"].as_str().unwrap_or(""));
                status["message"] = message.into();
                status
            }
            Error::Other(message) => json!({"code": 2, "message": message, "details": []}),
            Error::Partial { error, .. } => error.to_status(),
        }
    }

    /// What `--json` prints on stdout for this error: `{"error": <`[`Error::to_status`]`>}`,
    /// beside the result so far for [`Error::Partial`].
    pub fn to_json(&self) -> Value {
        let mut document = match self {
            Error::Partial { output, .. } if output.is_object() => Value::clone(output),
            _ => json!({}),
        };
        document["error"] = self.to_status();
        document
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn gateway() -> Endpoint {
        Endpoint::new(Peer::Gateway, "http://gw/", Duration::from_secs(3))
    }

    #[test]
    fn an_error_answer_names_status_reason_message_and_fields_and_keeps_the_body() {
        let body = json!({
            "code": 3,
            "message": "invalid request",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "INVALID_ARGUMENT", "domain": "talentmesh"},
                {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "uscc", "description": "bad check character"}]}
            ]
        });
        let e = gateway().http_error(
            "POST",
            "/v1/companies/x:submitVerification",
            400,
            &body.to_string(),
        );
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.reason(), Some("INVALID_ARGUMENT"));
        assert_eq!(
            e.to_string(),
            "POST /v1/companies/x:submitVerification: HTTP 400 INVALID_ARGUMENT: invalid request (uscc: bad check character)"
        );
        assert_eq!(e.exit_code(), exit::OTHER);
        // --json prints the gateway's google.rpc.Status as it came.
        assert_eq!(e.to_status(), body);
    }

    #[test]
    fn a_body_that_is_not_a_status_is_quoted_and_gets_a_status_of_its_own() {
        let e = gateway().http_error("GET", "/x", 502, "upstream connect error\n");
        assert_eq!(e.reason(), None);
        assert_eq!(e.to_string(), "GET /x: HTTP 502: upstream connect error");
        assert_eq!(e.exit_code(), exit::UNREACHABLE);
        let status = e.to_status();
        assert_eq!(status["code"], 14);
        assert_eq!(status["details"][0]["metadata"]["httpStatus"], "502");

        let consul = Endpoint::new(Peer::Consul, "http://c", Duration::from_secs(1));
        let e = consul.http_error("GET", "/v1/catalog/services", 403, "ACL not found");
        assert_eq!(
            e.to_string(),
            "consul GET /v1/catalog/services: HTTP 403: ACL not found"
        );
        assert_eq!(e.exit_code(), exit::PERMISSION);
        assert_eq!(e.to_status()["code"], 7);
        assert!(e.hint().unwrap().contains("TALENTMESH_CONSUL_TOKEN"));
    }

    #[test]
    fn each_kind_has_its_exit_code_and_a_context_keeps_its_sources() {
        let not_found = gateway().http_error("GET", "/v1/sync/services/nope", 404, "");
        assert_eq!(not_found.exit_code(), exit::NOT_FOUND);
        let denied = gateway().http_error("POST", "/v1/sessions:login", 401, "");
        let wrapped = Error::Context {
            what: "logging in as a@b".into(),
            source: Box::new(denied),
        };
        assert_eq!(wrapped.exit_code(), exit::PERMISSION);
        assert_eq!(wrapped.status(), Some(401));
        assert!(wrapped.hint().unwrap().contains("--email"));
        assert!(wrapped.to_status()["message"]
            .as_str()
            .unwrap()
            .starts_with("logging in as a@b: "));
        assert_eq!(Error::Usage("x".into()).exit_code(), exit::USAGE);
        assert_eq!(Error::Usage("x".into()).to_status()["code"], 3);
        assert_eq!(Error::Other("x".into()).exit_code(), exit::OTHER);
        assert_eq!(
            Error::Other("x".into()).to_json(),
            json!({"error": {"code": 2, "message": "x", "details": []}})
        );
    }

    #[test]
    fn a_partial_result_is_printed_beside_its_error_with_the_errors_kind() {
        let refused = gateway().http_error("POST", "/v1/companies/2:reviewVerification", 404, "");
        let e = Error::Partial {
            output: Box::new(json!({"companies": [{"name": "companies/1"}]})),
            error: Box::new(refused),
        };
        assert_eq!(e.exit_code(), exit::NOT_FOUND);
        assert!(e
            .to_string()
            .starts_with("POST /v1/companies/2:reviewVerification: HTTP 404"));
        let document = e.to_json();
        assert_eq!(document["companies"][0]["name"], "companies/1");
        assert_eq!(document["error"]["code"], 5, "{document}");
    }

    #[test]
    fn a_chain_leaves_out_what_the_error_before_said() {
        #[derive(Debug, Error)]
        #[error("outer: inner")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&e), "outer: inner");
        #[derive(Debug, Error)]
        #[error("sending")]
        struct Sending(#[source] std::io::Error);
        let e = Sending(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(chain(&e), "sending: connection refused");
    }
}
