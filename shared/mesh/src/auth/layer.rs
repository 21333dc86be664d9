//! The tower layer that verifies the bearer token of every non-public RPC, and what handlers
//! read from the request: [`caller`], [`bearer_token`], [`CallContext`].

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;

use super::{Caller, Verifier};
use crate::error::ApiError;

/// Which RPCs need a token. Health and reflection are always public.
#[derive(Debug, Clone, Default)]
pub struct AuthPolicy {
    public: HashSet<String>,
}

impl AuthPolicy {
    /// `public` holds full method paths, e.g. `/talentmesh.identity.v1.IdentityService/Login`.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(public: I) -> Self {
        AuthPolicy {
            public: public.into_iter().map(Into::into).collect(),
        }
    }

    pub fn is_public(&self, path: &str) -> bool {
        path.starts_with("/grpc.health.v1.")
            || path.starts_with("/grpc.reflection.")
            || self.public.contains(path)
    }
}

/// The tower layer; see the module docs.
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<Verifier>,
    policy: Arc<AuthPolicy>,
}

impl AuthLayer {
    pub fn new(verifier: Arc<Verifier>, policy: AuthPolicy) -> Self {
        AuthLayer {
            verifier,
            policy: Arc::new(policy),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
            policy: self.policy.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    verifier: Arc<Verifier>,
    policy: Arc<AuthPolicy>,
}

fn bearer(req: &http::Request<Body>) -> Option<&str> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl<S> tower::Service<http::Request<Body>> for AuthService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // Take the service that was driven to readiness and leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let public = self.policy.is_public(req.uri().path());
        Box::pin(async move {
            match bearer(&req).map(str::to_string) {
                Some(token) => match verifier.verify(&token).await {
                    Ok(caller) => {
                        req.extensions_mut().insert(caller);
                    }
                    // A public RPC ignores a bad token rather than failing a login page.
                    Err(_) if public => {}
                    Err(e) => return Ok(tonic::Status::from(e).into_http()),
                },
                None if public => {}
                None => {
                    let e = ApiError::unauthenticated("missing bearer access token");
                    return Ok(tonic::Status::from(e).into_http());
                }
            }
            inner.call(req).await
        })
    }
}

/// The bearer token a request came with ("" when none), for services that call another on
/// the caller's behalf.
pub fn bearer_token<T>(req: &tonic::Request<T>) -> String {
    req.metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string())
        .unwrap_or_default()
}

/// The verified caller of a request, or UNAUTHENTICATED.
pub fn caller<T>(req: &tonic::Request<T>) -> Result<&Caller, tonic::Status> {
    req.extensions()
        .get::<Caller>()
        .ok_or_else(|| ApiError::unauthenticated("missing bearer access token").into())
}

/// Who is calling and with which token: the one context every service layer takes, built by
/// the gRPC adapter from the request ([`CallContext::of`]). The service layer sees no tonic
/// types; it asks the context for the caller (UNAUTHENTICATED when there is none) and forwards
/// the bearer token to peers that decide on the user's behalf (the company service's
/// permission checks).
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The verified caller; `None` on a public method called without a token.
    pub caller: Option<Caller>,
    /// The bearer token the request came with ("" when none).
    pub bearer: String,
}

impl CallContext {
    /// The verified caller (put there by the auth layer) and the bearer token of `req`.
    pub fn of<T>(req: &tonic::Request<T>) -> CallContext {
        CallContext {
            caller: req.extensions().get::<Caller>().cloned(),
            bearer: bearer_token(req),
        }
    }

    /// A context for `caller` with `bearer` (tests and internal calls).
    pub fn new(caller: Caller, bearer: impl Into<String>) -> CallContext {
        CallContext {
            caller: Some(caller),
            bearer: bearer.into(),
        }
    }

    /// The caller, or [`MissingCaller`] (UNAUTHENTICATED) for a request that came without a
    /// verified token.
    pub fn caller(&self) -> Result<&Caller, MissingCaller> {
        self.caller.as_ref().ok_or(MissingCaller)
    }

    /// The caller's user id, `None` when anonymous.
    pub fn user_id(&self) -> Option<&str> {
        self.caller.as_ref().map(|c| c.user_id.as_str())
    }

    /// Whether the caller is a platform admin (false when anonymous).
    pub fn is_admin(&self) -> bool {
        self.caller.as_ref().is_some_and(Caller::is_admin)
    }
}

/// A method that needs a caller was called without a verified token; UNAUTHENTICATED on the
/// wire. A crate error holds it as a variant (`Unauthenticated(#[from] MissingCaller)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("missing bearer access token")]
pub struct MissingCaller;

impl From<MissingCaller> for ApiError {
    fn from(e: MissingCaller) -> ApiError {
        ApiError::unauthenticated(e.to_string())
    }
}
