//! A client of the REST gateway: JSON in and out, a bearer token once logged in, and error
//! answers turned into [`Error::Http`] with the status, the `google.rpc.Status` message and its
//! `ErrorInfo` reason (the gateway's error body, see `gateway/src/` and `shared/mesh` errors) by
//! the mapping [`Endpoint`] shares with the Consul client.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::error::{seconds, Endpoint, Error, Peer, Result};
use crate::secret::Secret;

/// How many times a call answered 503 is tried in all.
pub const UNAVAILABLE_TRIES: u32 = 6;

/// How many times a call answered 429 (rate limited) is tried in all.
pub const RATE_LIMITED_TRIES: u32 = 3;

/// The most one call waits in all between its tries: a server asking for more is answered
/// with its error, which says how long to wait.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// How long to wait before try `tries + 1` of a call whose try `tries` failed with `error`,
/// having `waited` so far; `None`: give up and report `error`.
///
/// Only 429 and 503 answers are tried again: a 429 after the delay its answer asked for
/// (`google.rpc.RetryInfo`, else `Retry-After`; without either it is not tried again), a 503
/// after that delay or else `backoff`. At most [`RATE_LIMITED_TRIES`] or [`UNAVAILABLE_TRIES`]
/// tries, and never more than [`MAX_WAIT`] of waiting in all.
pub fn retry_pause(
    error: &Error,
    tries: u32,
    waited: Duration,
    backoff: Duration,
) -> Option<Duration> {
    let pause = match error.status()? {
        429 if tries < RATE_LIMITED_TRIES => error.retry_after()?,
        503 if tries < UNAVAILABLE_TRIES => error.retry_after().unwrap_or(backoff),
        _ => return None,
    };
    (waited + pause <= MAX_WAIT).then_some(pause)
}

/// The gateway at one base URL, as one account (or anonymous). Clone freely: clones share the
/// connection pool.
#[derive(Clone)]
pub struct Gateway {
    endpoint: Endpoint,
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
        f.debug_struct("Gateway")
            .field("base", &self.endpoint.base)
            .finish()
    }
}

impl Gateway {
    /// A client of `base` (e.g. `http://127.0.0.1:18080`), each request within `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Gateway> {
        let endpoint = Endpoint::new(Peer::Gateway, base, timeout);
        Ok(Gateway {
            http: endpoint.client()?,
            endpoint,
            token: None,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.endpoint.base
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
    /// A 429 (a rate limit, such as identity's on logins) or 503 (UNAVAILABLE: a store or an
    /// upstream is briefly out) is tried again after [`retry_pause`]: the delay the server
    /// asked for, saying so on stderr (`rate limited; retrying in 1.9 s`), or for a 503 without
    /// one doubling pauses from 250 ms. Creates that take a request id go through
    /// [`Gateway::create`] and are never made twice; the others (an office) could be, if their
    /// commit succeeded before the 503: for the admin calls and demo data this tool makes, a
    /// rare duplicate is better than a run that stops half-way. A 429 was refused before any
    /// work, so its retry is always safe.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut backoff = Duration::from_millis(250);
        let mut waited = Duration::ZERO;
        let mut tries = 1;
        loop {
            let error = match self.call_once(method.clone(), path, body).await {
                Err(e) => e,
                ok => return ok,
            };
            let Some(pause) = retry_pause(&error, tries, waited, backoff) else {
                return Err(error);
            };
            if error.retry_after().is_some() {
                let what = if error.status() == Some(429) {
                    "rate limited"
                } else {
                    "unavailable"
                };
                eprintln!(
                    "talentmeshctl: {method} {path}: {what}; retrying in {}",
                    seconds(pause)
                );
            }
            tokio::time::sleep(pause).await;
            waited += pause;
            tries += 1;
            backoff = (backoff * 2).min(Duration::from_secs(4));
        }
    }

    async fn call_once(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.endpoint.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.endpoint.send(request, method.as_str(), path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Error {
        Endpoint::new(Peer::Gateway, "http://gw", Duration::from_secs(1))
            .http_error("GET", "/x", status, body)
    }

    const LIMITED: &str = r#"{"code": 8, "message": "too many requests", "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.900s"}]}"#;

    #[test]
    fn a_rate_limited_call_waits_the_servers_delay_a_bounded_number_of_times() {
        let limited = answer(429, LIMITED);
        let backoff = Duration::from_millis(250);
        let delay = Duration::from_millis(1900);
        assert_eq!(
            retry_pause(&limited, 1, Duration::ZERO, backoff),
            Some(delay)
        );
        assert_eq!(retry_pause(&limited, 2, delay, backoff), Some(delay));
        assert_eq!(
            retry_pause(&limited, RATE_LIMITED_TRIES, delay * 2, backoff),
            None
        );
        // Never more than MAX_WAIT in all.
        assert_eq!(
            retry_pause(&limited, 1, MAX_WAIT - Duration::from_secs(1), backoff),
            None
        );
        // A 429 without a delay is not guessed at.
        assert_eq!(
            retry_pause(&answer(429, "{}"), 1, Duration::ZERO, backoff),
            None
        );
    }

    #[test]
    fn an_unavailable_call_backs_off_and_other_errors_are_not_tried_again() {
        let backoff = Duration::from_millis(500);
        assert_eq!(
            retry_pause(&answer(503, "{}"), 1, Duration::ZERO, backoff),
            Some(backoff)
        );
        assert_eq!(
            retry_pause(&answer(503, LIMITED), 1, Duration::ZERO, backoff),
            Some(Duration::from_millis(1900))
        );
        assert_eq!(
            retry_pause(
                &answer(503, "{}"),
                UNAVAILABLE_TRIES,
                Duration::ZERO,
                backoff
            ),
            None
        );
        for status in [400, 401, 404, 500, 502] {
            assert_eq!(
                retry_pause(&answer(status, "{}"), 1, Duration::ZERO, backoff),
                None,
                "{status}"
            );
        }
    }
}
