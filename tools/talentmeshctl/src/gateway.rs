//! A client of the REST gateway: JSON in and out, a bearer token once logged in, and error
//! answers turned into [`Error::Http`] with the status, the `google.rpc.Status` message and its
//! `ErrorInfo` reason (the gateway's error body, see `gateway/src/` and `shared/mesh` errors).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// How many times a call answered 503 is tried again.
pub const RETRIES: u32 = 5;

/// The gateway at one base URL, as one account (or anonymous). Clone freely: clones share the
/// connection pool.
#[derive(Clone)]
pub struct Gateway {
    base: String,
    http: reqwest::Client,
    token: Option<Secret>,
}

/// A logged-in account.
#[derive(Debug, Clone)]
pub struct Login {
    pub gateway: Gateway,
    /// `users/{id}`.
    pub user: String,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("base", &self.base).finish()
    }
}

impl Gateway {
    /// A client of `base` (e.g. `http://127.0.0.1:18080`), each request within `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Gateway> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|source| Error::Transport {
                what: "http client".into(),
                source,
            })?;
        Ok(Gateway {
            base: base.trim_end_matches('/').to_string(),
            http,
            token: None,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Logs `email` in (`POST /v1/sessions:login`) and returns a client carrying its token.
    pub async fn login(&self, email: &str, password: &Secret) -> Result<Login> {
        let body = self
            .anonymous()
            .post(
                "/v1/sessions:login",
                &json!({"email": email, "password": password.expose()}),
            )
            .await?;
        let token = body["tokens"]["accessToken"]
            .as_str()
            .ok_or_else(|| Error::Other("the login answer has no tokens.accessToken".into()))?;
        Ok(Login {
            gateway: Gateway {
                token: Some(Secret::new(token)),
                ..self.clone()
            },
            user: body["user"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// Registers an account (`POST /v1/users:register`) with `role` such as `ROLE_EMPLOYER`.
    pub async fn register(&self, email: &str, password: &Secret, role: &str) -> Result<Value> {
        self.anonymous()
            .post(
                "/v1/users:register",
                &json!({"email": email, "password": password.expose(), "role": role}),
            )
            .await
    }

    fn anonymous(&self) -> Gateway {
        Gateway {
            token: None,
            ..self.clone()
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A create (`POST` to a collection that takes AIP-155's `request_id`): one request id for
    /// every try, so a retry after a 503 whose create had committed returns that resource
    /// instead of making a second one.
    pub async fn create(&self, collection: &str, body: &Value) -> Result<Value> {
        let path = format!("{collection}?requestId={}", uuid::Uuid::new_v4());
        self.call(Method::POST, &path, Some(body)).await
    }

    /// Any call; the parsed JSON answer of a 2xx, else [`Error::Http`].
    ///
    /// A 503 (UNAVAILABLE: a store or an upstream is briefly out, "retry shortly") is tried
    /// again, up to [`RETRIES`] times with doubling pauses from 250 ms. Creates that take a
    /// request id go through [`Gateway::create`] and are never made twice; the others (an
    /// office) could be, if their commit succeeded before the 503: for the admin calls and demo
    /// data this tool makes, a rare duplicate is better than a run that stops half-way.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut pause = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            match self.call_once(method.clone(), path, body).await {
                Err(e) if e.status() == Some(503) && attempt < RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(4));
                }
                other => return other,
            }
        }
    }

    async fn call_once(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|source| Error::Transport {
            what: format!("{method} {}{path}", self.base),
            source,
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|source| Error::Transport {
            what: format!("{method} {path}: reading the answer"),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        Err(http_error(method.as_str(), path, status, &value, &text))
    }
}

/// The error for an answer with `status`: the message and `ErrorInfo` reason of a
/// `google.rpc.Status` body, else the start of the body.
pub fn http_error(method: &str, path: &str, status: u16, body: &Value, text: &str) -> Error {
    let reason = body["details"].as_array().and_then(|details| {
        details
            .iter()
            .find(|d| {
                d["@type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("google.rpc.ErrorInfo"))
            })
            .and_then(|d| d["reason"].as_str().map(str::to_string))
    });
    let mut message = body["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(200).collect());
    // Field violations say which input was wrong; add them to the message.
    let fields: Vec<String> = body["details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
        .map(|v| {
            format!(
                "{}: {}",
                v["field"].as_str().unwrap_or("?"),
                v["description"].as_str().unwrap_or("")
            )
        })
        .collect();
    if !fields.is_empty() {
        message = format!("{message} ({})", fields.join("; "));
    }
    if message.is_empty() {
        message = "no details in the answer".into();
    }
    Error::Http {
        method: method.to_string(),
        path: path.to_string(),
        status,
        reason,
        message,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_names_status_reason_message_and_fields() {
        let body = json!({
            "code": 3,
            "message": "invalid request",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "INVALID_ARGUMENT", "domain": "talentmesh"},
                {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "uscc", "description": "bad check character"}]}
            ]
        });
        let e = http_error("POST", "/v1/companies/x:submitVerification", 400, &body, "");
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.reason(), Some("INVALID_ARGUMENT"));
        assert_eq!(
            e.to_string(),
            "POST /v1/companies/x:submitVerification: HTTP 400 INVALID_ARGUMENT: invalid request (uscc: bad check character)"
        );
    }

    #[test]
    fn a_body_that_is_not_a_status_is_quoted() {
        let e = http_error("GET", "/x", 502, &Value::Null, "upstream connect error");
        assert_eq!(e.reason(), None);
        assert_eq!(e.to_string(), "GET /x: HTTP 502: upstream connect error");
    }
}
