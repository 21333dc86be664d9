//! [`Endpoint`]: the HTTP client of one peer (the gateway or Consul), where its transport
//! failures and error answers become [`Error`]s the same way for both.

use std::time::Duration;

use serde_json::Value;

use super::{chain, Error, Failure, Peer, Result};

/// One HTTP endpoint the CLI talks to — its client, and where its transport failures and
/// error answers become [`Error`]s, the same way for the gateway and for Consul.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub peer: Peer,
    /// The base URL, without a trailing slash.
    pub base: String,
    /// Each request's limit, connecting included.
    pub timeout: Duration,
}

impl Endpoint {
    pub fn new(peer: Peer, base: &str, timeout: Duration) -> Endpoint {
        Endpoint {
            peer,
            base: base.trim_end_matches('/').to_string(),
            timeout,
        }
    }

    /// An HTTP client for this endpoint: each request within the timeout, connecting within
    /// five seconds of it at most.
    pub fn client(&self) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| Error::Other(format!("cannot make an http client: {}", chain(&e))))
    }

    fn transport(&self, what: String, cause: reqwest::Error) -> Error {
        Error::Transport {
            peer: self.peer,
            base: self.base.clone(),
            what,
            failure: Failure::of(&cause),
            timeout: self.timeout,
            cause,
        }
    }

    /// Sends `request` (`method` `path` of this endpoint) and reads its answer: the JSON of a
    /// 2xx (`null` when empty), else [`Error::Http`]; [`Error::Transport`] when there is no
    /// whole answer.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        path: &str,
    ) -> Result<Value> {
        let response = request.send().await.map_err(|e| {
            self.transport(
                format!("cannot reach {} at {}", self.peer.name(), self.base),
                e,
            )
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| {
            self.transport(
                format!(
                    "{} at {} broke off its answer to {method} {path}",
                    self.peer.name(),
                    self.base
                ),
                e,
            )
        })?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| {
                Error::Other(format!(
                    "{method} {path} at {}: the answer is not JSON: {e}",
                    self.base
                ))
            });
        }
        Err(self.http_error(method, path, status, &text))
    }

    /// The error for an answer with `status` and body `text`: the message, `ErrorInfo`
    /// reason and field violations of a `google.rpc.Status` body (the gateway's), else the
    /// start of the body (Consul answers errors as plain text: "ACL not found").
    pub fn http_error(&self, method: &str, path: &str, status: u16, text: &str) -> Error {
        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let is_status = body["code"].is_i64() && body["message"].is_string();
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
            .unwrap_or_else(|| text.trim().chars().take(200).collect());
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
            peer: self.peer,
            method: method.to_string(),
            path: path.to_string(),
            status,
            reason,
            message,
            body: is_status.then(|| Box::new(body)),
        }
    }
}
