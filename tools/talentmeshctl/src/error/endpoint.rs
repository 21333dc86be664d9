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
        let retry_header = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after_header);
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
        let mut error = self.http_error(method, path, status, &text);
        if let Error::Http { retry_after, .. } = &mut error {
            *retry_after = retry_after.or(retry_header);
        }
        Err(error)
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
        // Field violations say which input was wrong; add those the message does not already
        // say (the gateway often puts the one violation's text in the message too).
        let fields: Vec<String> = body["details"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
            .filter(|v| {
                let description = v["description"].as_str().unwrap_or("").trim();
                description.is_empty() || !message.contains(description)
            })
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
            retry_after: retry_info(&body),
            body: is_status.then(|| Box::new(body)),
        }
    }
}

/// The `retryDelay` of a `google.rpc.RetryInfo` detail in a `google.rpc.Status` body, as
/// proto3 JSON writes a `google.protobuf.Duration` (`"1.900s"`); `None` without one, or when it
/// is negative or not a number.
fn retry_info(body: &Value) -> Option<Duration> {
    let delay = body["details"].as_array()?.iter().find(|d| {
        d["@type"]
            .as_str()
            .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
    })?["retryDelay"]
        .as_str()?;
    Duration::try_from_secs_f64(delay.trim().strip_suffix('s')?.parse().ok()?).ok()
}

/// A `Retry-After` header's delay (RFC 9110 §10.2.3) in its delay-seconds form; the HTTP-date
/// form, which the gateway does not send, gives `None`.
pub fn retry_after_header(value: &str) -> Option<Duration> {
    value.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn gateway() -> Endpoint {
        Endpoint::new(Peer::Gateway, "http://gw", Duration::from_secs(3))
    }

    #[test]
    fn a_rate_limited_answer_keeps_its_retry_delay_and_says_it() {
        let body = json!({
            "code": 8,
            "message": "too many requests; retry after the delay in RetryInfo",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMITED", "domain": "talentmesh"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.900s"}
            ]
        });
        let e = gateway().http_error("POST", "/v1/sessions:login", 429, &body.to_string());
        assert_eq!(e.retry_after(), Some(Duration::from_millis(1900)));
        assert!(e.to_string().ends_with("RetryInfo (retry in 1.9 s)"), "{e}");
        let hint = e.hint().unwrap();
        assert!(hint.contains("wait 1.9 s"), "{hint}");
        // No RetryInfo: no delay from the body (the header may still give one).
        let e = gateway().http_error("GET", "/x", 429, r#"{"code":8,"message":"slow down"}"#);
        assert_eq!(e.retry_after(), None);
        assert!(e.to_string().ends_with("slow down"), "{e}");
        assert_eq!(retry_after_header(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(retry_after_header("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(
            retry_info(
                &json!({"details": [{"@type": "x/google.rpc.RetryInfo", "retryDelay": "-1s"}]})
            ),
            None
        );
    }

    #[test]
    fn a_field_violation_the_message_already_says_is_not_repeated() {
        let body = json!({
            "code": 3,
            "message": "invalid filter: unknown field `salary`",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
                {"field": "filter", "description": "unknown field `salary`"},
                {"field": "pageSize", "description": "must be at most 100"}
            ]}]
        });
        let e = gateway().http_error("GET", "/v1/jobs", 400, &body.to_string());
        assert_eq!(
            e.to_string(),
            "GET /v1/jobs: HTTP 400: invalid filter: unknown field `salary` (pageSize: must be at most 100)"
        );
    }
}
