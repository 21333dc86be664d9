//! Identity's business logic: registration, login with throttling, token issue and refresh,
//! logout, and reading accounts. No transport types here: `grpc.rs` adapts.

use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::auth::{Caller, Claims};
use talentmesh_mesh::{ApiError, ErrorCode, FieldViolation};

use crate::domain::{Email, Invalid, Password, Role, User};
use crate::keys::{KeyError, KeyRing, PublishedKey};
use crate::sessions::{SessionError, Sessions, Spend};
use crate::store::UserStore;
use crate::throttle::Throttle;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {}", .0.iter().map(|i| format!("{} {}", i.field, i.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Invalid>),
    #[error("email already registered")]
    EmailTaken,
    #[error("wrong email or password")]
    BadCredentials,
    #[error("too many failed logins")]
    Throttled(Duration),
    #[error("refresh token is not valid")]
    RefreshInvalid,
    #[error("refresh token was already used; the session is revoked")]
    RefreshReused,
    #[error("user not found")]
    NotFound,
    #[error("mysql: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Store(#[from] talentmesh_storage::Error),
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Session(#[from] SessionError),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<crate::store::InsertError> for Error {
    fn from(e: crate::store::InsertError) -> Self {
        match e {
            crate::store::InsertError::Sql(e) => Error::Db(e),
            crate::store::InsertError::Outbox(e) => Error::Store(e),
        }
    }
}

impl From<Invalid> for Error {
    fn from(i: Invalid) -> Self {
        Error::Invalid(vec![i])
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(list) => ApiError::invalid(
                list.into_iter()
                    .map(|i| FieldViolation::new(i.field, i.description))
                    .collect(),
            ),
            Error::EmailTaken => {
                ApiError::new(ErrorCode::AlreadyExists, "email already registered")
                    .with_reason("EMAIL_TAKEN")
            }
            Error::BadCredentials => {
                ApiError::unauthenticated("wrong email or password").with_reason("BAD_CREDENTIALS")
            }
            Error::Throttled(after) => ApiError::new(
                ErrorCode::ResourceExhausted,
                "too many failed logins; try again later",
            )
            .with_reason("LOGIN_THROTTLED")
            .with_retry_after(after),
            Error::RefreshInvalid => ApiError::unauthenticated("refresh token is not valid")
                .with_reason("REFRESH_TOKEN_INVALID"),
            Error::RefreshReused => {
                ApiError::unauthenticated("refresh token was already used; the session is revoked")
                    .with_reason("REFRESH_TOKEN_REUSED")
            }
            Error::NotFound => ApiError::not_found("user not found"),
            Error::Store(e) => e.into(),
            Error::Db(e) => talentmesh_storage::Error::MySql(e).into(),
            Error::Session(e) => {
                tracing::warn!(error = %e, "session store failed");
                ApiError::unavailable("session store unavailable; retry shortly")
            }
            e @ (Error::Keys(_) | Error::Internal(_)) => ApiError::internal(&e),
        }
    }
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: Duration,
    pub refresh_token: String,
    pub refresh_expires_in: Duration,
}

pub struct Settings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
}

pub struct Identity {
    users: UserStore,
    keys: Arc<KeyRing>,
    sessions: Sessions,
    throttle: Throttle,
    settings: Settings,
    /// A valid hash verified against when the email is unknown, so timing does not tell whether
    /// an account exists.
    decoy_hash: String,
}

async fn hash_password(password: Password) -> Result<String> {
    tokio::task::spawn_blocking(move || password.hash())
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| Error::Internal(e.to_string()))
}

impl Identity {
    pub async fn new(
        users: UserStore,
        keys: Arc<KeyRing>,
        sessions: Sessions,
        throttle: Throttle,
        settings: Settings,
    ) -> Result<Self> {
        let decoy = Password::attempt("decoy password 0")?;
        let decoy_hash = hash_password(decoy).await?;
        Ok(Identity {
            users,
            keys,
            sessions,
            throttle,
            settings,
            decoy_hash,
        })
    }

    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    #[tracing::instrument(skip_all)]
    pub async fn register(&self, email: &str, password: &str, role: Option<Role>) -> Result<User> {
        let mut problems = Vec::new();
        let email = Email::parse(email).map_err(|e| problems.push(e)).ok();
        let password = match Password::new_for(password, email.as_ref()) {
            Ok(p) => Some(p),
            Err(mut list) => {
                problems.append(&mut list);
                None
            }
        };
        let role = match role {
            Some(r @ (Role::Candidate | Role::Employer)) => Some(r),
            Some(Role::Admin) => {
                problems.push(Invalid::new(
                    "role",
                    "admins are created by the operator, not by registration",
                ));
                None
            }
            None => {
                problems.push(Invalid::new(
                    "role",
                    "must be ROLE_CANDIDATE or ROLE_EMPLOYER",
                ));
                None
            }
        };
        let (Some(email), Some(password), Some(role), true) =
            (email, password, role, problems.is_empty())
        else {
            return Err(Error::Invalid(problems));
        };
        let hash = hash_password(password).await?;
        let user = self
            .users
            .insert(&email, &hash, &[role])
            .await?
            .ok_or(Error::EmailTaken)?;
        tracing::info!(user = %user.id, "registered");
        Ok(user)
    }

    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        address: &str,
    ) -> Result<(User, Tokens)> {
        let mut problems = Vec::new();
        let email = Email::parse(email).map_err(|e| problems.push(e)).ok();
        let password = Password::attempt(password)
            .map_err(|e| problems.push(e))
            .ok();
        let (Some(email), Some(password)) = (email, password) else {
            return Err(Error::Invalid(problems));
        };
        if let Some(after) = self.throttle.locked(email.as_str(), address).await? {
            return Err(Error::Throttled(after));
        }
        let found = self.users.by_email(&email).await?;
        let hash = found
            .as_ref()
            .map(|c| c.password_hash.clone())
            .unwrap_or_else(|| self.decoy_hash.clone());
        let verified = tokio::task::spawn_blocking(move || password.verify(&hash))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        match found {
            Some(creds) if verified => {
                let tokens = self.start_session(&creds.user).await?;
                Ok((creds.user, tokens))
            }
            _ => {
                self.throttle.failed(email.as_str(), address).await?;
                Err(Error::BadCredentials)
            }
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        if refresh_token.is_empty() {
            return Err(Invalid::new("refresh_token", "is required").into());
        }
        match self.sessions.spend(refresh_token).await? {
            Spend::Rotated { user_id, family } => {
                let user = self
                    .users
                    .by_id(&user_id)
                    .await?
                    .ok_or(Error::RefreshInvalid)?;
                let refresh = self.sessions.issue(&user.id, &family).await?;
                self.tokens(&user, refresh)
            }
            Spend::Reused => Err(Error::RefreshReused),
            Spend::Invalid => Err(Error::RefreshInvalid),
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        if refresh_token.is_empty() {
            return Err(Invalid::new("refresh_token", "is required").into());
        }
        self.sessions.end(refresh_token).await?;
        Ok(())
    }

    /// A user by id: the caller's own account, or any account for a platform admin. Others get
    /// NOT_FOUND, so ids cannot be probed.
    pub async fn get_user(&self, caller: &Caller, id: &str) -> Result<User> {
        if caller.user_id != id && !caller.is_admin() {
            return Err(Error::NotFound);
        }
        self.users.by_id(id).await?.ok_or(Error::NotFound)
    }

    pub fn public_keys(&self) -> Vec<PublishedKey> {
        self.keys.published()
    }

    /// Creates the configured admin, or grants the role to an existing account with that email.
    pub async fn ensure_admin(&self, email: &str, password: &str) -> Result<()> {
        let email = Email::parse(email)?;
        let password = Password::new_for(password, Some(&email)).map_err(Error::Invalid)?;
        let hash = hash_password(password).await?;
        self.users.ensure_admin(&email, &hash).await?;
        Ok(())
    }

    async fn start_session(&self, user: &User) -> Result<Tokens> {
        let refresh = self.sessions.start(&user.id).await?;
        self.tokens(user, refresh)
    }

    fn tokens(&self, user: &User, refresh_token: String) -> Result<Tokens> {
        let (kid, key) = self.keys.signing_key()?;
        let now = chrono::Utc::now().timestamp();
        let ttl = self.settings.access_ttl;
        let claims = Claims {
            sub: user.id.clone(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(900),
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            email: user.email.as_str().to_string(),
            roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(kid);
        let access_token = jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| Error::Internal(format!("signing failed: {e}")))?;
        Ok(Tokens {
            access_token,
            expires_in: ttl,
            refresh_token,
            refresh_expires_in: self.sessions.ttl(),
        })
    }
}
