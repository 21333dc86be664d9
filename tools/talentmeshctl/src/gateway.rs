//! A client of the REST gateway: JSON in and out, a bearer token once logged in, and error
//! answers turned into [`Error::Http`] with the status, the `google.rpc.Status` message and its
//! `ErrorInfo` reason (the gateway's error body, see `gateway/src/` and `shared/mesh` errors) by
//! the mapping [`Endpoint`] shares with the Consul client.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::error::{Endpoint, Error, Peer, Result};
use crate::secret::Secret;

/// How many times a call answered 503 is tried again.
pub const RETRIES: u32 = 5;

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
