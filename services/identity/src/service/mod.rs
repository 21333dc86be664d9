//! Identity's business logic: registration, login with throttling, token issue and refresh,
//! logout (recording the session revoked), the revoked-session feed, reading accounts, and the
//! key ring that signs tokens (`keys`). Takes and returns domain types and the crate `Result`; no
//! transport types here: `grpc.rs` adapts.

pub mod hashing;
pub mod keys;

use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::auth::{Caller, Claims, SessionClaims};
use talentmesh_ratelimit::{Limit, Limiter, Rate, WhenDown};

use crate::domain::{Email, Invalid, Password, Role, User};
use crate::error::{Error, Result};
use crate::store::{
    Answer, Bootstrap, Revocations, RevokedPage, Sessions, Spend, Throttle, UserStore,
};
use hashing::HashGate;
use keys::{KeyRing, PublishedKey};

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// A signed EdDSA JWT.
    pub access_token: String,
    /// The access token's lifetime.
    pub expires_in: Duration,
    /// An opaque refresh token (base64url of 32 random bytes), usable once.
    pub refresh_token: String,
    /// The refresh token's lifetime.
    pub refresh_expires_in: Duration,
}

/// What the tokens say about who issued them and for whom, and how long they live.
pub struct Settings {
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim.
    pub audience: String,
    /// The access-token lifetime (the `exp` claim is `iat` plus this).
    pub access_ttl: Duration,
}

/// The names of identity's rate limits: the `limit` label of the `talentmesh_ratelimit_*`
/// series, all made at 0 when the service starts.
pub mod limit_names {
    pub const REGISTER_PER_ADDRESS: &str = "register_per_address";
    pub const REGISTER_PER_ACCOUNT: &str = "register_per_account";
    pub const LOGIN_PER_ADDRESS: &str = "login_per_address";
    pub const LOGIN_PER_ACCOUNT: &str = "login_per_account";
    /// Every limit above.
    pub const ALL: [&str; 4] = [
        REGISTER_PER_ADDRESS,
        REGISTER_PER_ACCOUNT,
        LOGIN_PER_ADDRESS,
        LOGIN_PER_ACCOUNT,
    ];
}

/// How many registrations and logins a client address and an account may start, shared by
/// every instance through Redis (see `config` for the variables and defaults).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Registrations per client address.
    pub register_per_address: Rate,
    /// Registration attempts per (normalised) email.
    pub register_per_account: Rate,
    /// Logins per client address.
    pub login_per_address: Rate,
    /// Logins to one email from one client address.
    pub login_per_account: Rate,
}

/// The identity service: accounts, sessions and tokens.
pub struct Identity {
    users: UserStore,
    keys: Arc<KeyRing>,
    sessions: Sessions,
    throttle: Throttle,
    settings: Settings,
    /// Every argon2 run passes it: a bounded number at once, the rest wait or are refused.
    hashing: Arc<HashGate>,
    /// A valid hash verified against when the email is unknown, so timing does not tell whether
    /// an account exists.
    decoy_hash: String,
    /// Rate limits checked before any password hash; none until [`Identity::with_rate_limits`].
    limits: Option<(Limiter, RateLimits)>,
    /// Sessions ended before their access tokens expired, listed for the mesh's verifiers.
    revocations: Revocations,
}

/// Revoked sessions listed per page when the caller asks for none or too many.
pub const REVOKED_PAGE_DEFAULT: u32 = 500;
/// Revoked sessions listed per page at most.
pub const REVOKED_PAGE_MAX: u32 = 1000;
/// Added to a revocation's expiry beyond the access-token lifetime: the verifiers' clock
/// leeway (5 s) and some clock skew between hosts.
const REVOCATION_MARGIN_SECS: i64 = 60;

impl Identity {
    /// The service over its stores and key ring, hashing through `hashing`. Hashes a decoy
    /// password once (a blocking Argon2 run) so logins for unknown emails take as long as real
    /// ones.
    pub async fn new(
        users: UserStore,
        keys: Arc<KeyRing>,
        sessions: Sessions,
        revocations: Revocations,
        throttle: Throttle,
        settings: Settings,
        hashing: Arc<HashGate>,
    ) -> Result<Self> {
        let decoy = Password::attempt("decoy password 0")?;
        let decoy_hash = hashing
            .run(move || decoy.hash())
            .await?
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Identity {
            users,
            keys,
            sessions,
            throttle,
            settings,
            hashing,
            decoy_hash,
            limits: None,
            revocations,
        })
    }

    /// Checks registrations and logins against `limits` in `limiter` from now on.
    pub fn with_rate_limits(mut self, limiter: Limiter, limits: RateLimits) -> Self {
        self.limits = Some((limiter, limits));
        self
    }

    /// Hashes a new password through the gate ([`Error::Busy`] when it is full).
    async fn hash_password(&self, password: Password) -> Result<String> {
        self.hashing
            .run(move || password.hash())
            .await?
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// The key ring that signs this service's tokens.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// Creates an account (candidate or employer) and announces it with `UserRegistered`.
    /// Every field problem is reported at once (`email`, `password`, `role`); a taken email is
    /// [`Error::EmailTaken`].
    #[tracing::instrument(skip_all)]
    /// `address` is the client address; a call over a rate limit is [`Error::RateLimited`]
    /// (and so is one while the limits' store is down: registrations wait for it).
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        role: Option<Role>,
        address: &str,
    ) -> Result<User> {
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
        if let Some((limiter, rates)) = &self.limits {
            let limits = [
                Limit::new(
                    limit_names::REGISTER_PER_ADDRESS,
                    address,
                    rates.register_per_address,
                ),
                Limit::new(
                    limit_names::REGISTER_PER_ACCOUNT,
                    email.as_str(),
                    rates.register_per_account,
                ),
            ];
            limiter.check(&limits, WhenDown::Refuse).await?;
        }
        let hash = self.hash_password(password).await?;
        let user = self
            .users
            .insert(&email, &hash, &[role])
            .await?
            .ok_or(Error::EmailTaken)?;
        tracing::info!(user = %user.id, "registered");
        Ok(user)
    }

    /// Checks the password and starts a session. `address` is the client address: failures
    /// count against the (email, address) pair and the address, never the email alone, so
    /// another address's failures cannot keep the owner out. Slowed down is
    /// [`Error::Throttled`], a wrong email or password is [`Error::BadCredentials`] (and counts
    /// as a failure), no free hashing turn is [`Error::Busy`] (not a failure), a call over a
    /// rate limit is [`Error::RateLimited`] (the limits let logins through while their store is
    /// down).
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        address: &str,
    ) -> Result<(User, Tokens)> {
        let mut problems = Vec::new();
        let email = Email::lookup(email).map_err(|e| problems.push(e)).ok();
        let password = Password::attempt(password)
            .map_err(|e| problems.push(e))
            .ok();
        let (Some(email), Some(password)) = (email, password) else {
            return Err(Error::Invalid(problems));
        };
        if let Some((limiter, rates)) = &self.limits {
            let pair = format!("{}|{address}", email.as_str());
            let limits = [
                Limit::new(
                    limit_names::LOGIN_PER_ADDRESS,
                    address,
                    rates.login_per_address,
                ),
                Limit::new(
                    limit_names::LOGIN_PER_ACCOUNT,
                    &pair,
                    rates.login_per_account,
                ),
            ];
            // Fail open: a Redis outage must not keep everyone out; the hashing gate and
            // argon2's cost still bound the work, and the limiter logs and counts the lapse.
            limiter.check(&limits, WhenDown::Allow).await?;
        }
        if let Some(after) = self.throttle.locked(email.as_str(), address).await? {
            return Err(Error::Throttled(after));
        }
        let found = self.users.by_email(&email).await?;
        let hash = found
            .as_ref()
            .map(|c| c.password_hash.clone())
            .unwrap_or_else(|| self.decoy_hash.clone());
        let verified = self.hashing.run(move || password.verify(&hash)).await?;
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

    /// Spends a refresh token for a new token pair in the same session. The same token sent
    /// again within the retry window (a client that lost the answer) gets the same pair; later,
    /// or once that pair's refresh token was used, it is reuse and revokes the session
    /// ([`Error::RefreshReused`]).
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
                let tokens = self.tokens(&user, &family, refresh)?;
                let answer = Answer {
                    refresh_token: tokens.refresh_token.clone(),
                    access_token: tokens.access_token.clone(),
                };
                // Without it a retry is only refused (UNAVAILABLE, then reuse after the
                // window); the answer itself is good, so it is still given.
                if let Err(e) = self.sessions.remember(refresh_token, &answer).await {
                    tracing::warn!(error = %e, "refresh answer not kept for retries");
                }
                Ok(tokens)
            }
            // The access token is the one first issued: `expires_in` overstates its life by at
            // most the retry window.
            Spend::Retried(answer) => Ok(Tokens {
                access_token: answer.access_token,
                expires_in: self.settings.access_ttl,
                refresh_token: answer.refresh_token,
                refresh_expires_in: self.sessions.ttl(),
            }),
            Spend::InFlight => Err(Error::Session(
                "the first refresh with this token is still in progress".into(),
            )),
            Spend::Reused { family } => {
                // The thief may hold an access token of the family too: refuse those as well.
                self.revoke(&family).await?;
                Err(Error::RefreshReused)
            }
            Spend::Invalid => Err(Error::RefreshInvalid),
        }
    }

    /// Ends the session of a refresh token and records it revoked, so its access tokens are
    /// refused across the mesh (within a verifier's poll interval) instead of living out their
    /// lifetime. Unknown tokens are fine (idempotent). The revocation is recorded before the
    /// family ends, so a failure leaves the session whole and a retry finishes the job.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        if refresh_token.is_empty() {
            return Err(Invalid::new("refresh_token", "is required").into());
        }
        if let Some(family) = self.sessions.family_of(refresh_token).await? {
            self.revoke(&family).await?;
        }
        self.sessions.end(refresh_token).await?;
        Ok(())
    }

    /// Records the session `family` revoked until its last possible access token has expired.
    async fn revoke(&self, family: &str) -> Result<()> {
        let ttl = i64::try_from(self.settings.access_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let until = chrono::Utc::now().timestamp() + ttl + REVOCATION_MARGIN_SECS;
        self.revocations.record(family, until).await?;
        tracing::info!(session = %family, "session revoked");
        Ok(())
    }

    /// Revoked sessions recorded after `page_token` ("" for the start), unexpired only, at most
    /// `page_size` ([`REVOKED_PAGE_DEFAULT`] for 0 or less, [`REVOKED_PAGE_MAX`] at most). The
    /// token is opaque to callers: a decimal position in the feed; anything else is
    /// [`Error::Invalid`] on `page_token`.
    pub async fn revoked_sessions(&self, page_size: i32, page_token: &str) -> Result<RevokedPage> {
        let cursor = if page_token.is_empty() {
            0
        } else {
            page_token
                .parse::<u64>()
                .map_err(|_| Invalid::new("page_token", "is not a token this service gave"))?
        };
        let limit = match u32::try_from(page_size) {
            Ok(0) | Err(_) => REVOKED_PAGE_DEFAULT,
            Ok(n) => n.min(REVOKED_PAGE_MAX),
        };
        self.revocations.list(cursor, limit).await
    }

    /// A user by id: the caller's own account, or any account for a platform admin. Others get
    /// NOT_FOUND, so ids cannot be probed.
    pub async fn get_user(&self, caller: &Caller, id: &str) -> Result<User> {
        if caller.user_id != id && !caller.is_admin() {
            return Err(Error::NotFound);
        }
        self.users.by_id(id).await?.ok_or(Error::NotFound)
    }

    /// Every key that still verifies, newest first (the JWKS).
    pub fn public_keys(&self) -> Vec<PublishedKey> {
        self.keys.published()
    }

    /// The published key `kid`, or [`Error::KeyNotFound`].
    pub fn public_key(&self, kid: &str) -> Result<PublishedKey> {
        self.keys
            .published()
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| Error::KeyNotFound(kid.to_string()))
    }

    /// Creates the configured admin account. An existing account with that email is never
    /// taken over silently (whoever registered it first would become admin with their own
    /// password): it is promoted only when `promote_existing` says so, otherwise left alone
    /// with a warning in the log.
    pub async fn ensure_admin(
        &self,
        email: &str,
        password: &str,
        promote_existing: bool,
    ) -> Result<Bootstrap> {
        let email = Email::parse(email)?;
        let password = Password::new_for(password, Some(&email)).map_err(Error::Invalid)?;
        let hash = self.hash_password(password).await?;
        let done = self
            .users
            .bootstrap_admin(&email, &hash, promote_existing)
            .await?;
        match &done {
            Bootstrap::Created(id) => tracing::info!(user = %id, "bootstrap admin created"),
            Bootstrap::AlreadyAdmin(id) => tracing::info!(user = %id, "bootstrap admin exists"),
            Bootstrap::Promoted(id) => tracing::warn!(
                user = %id,
                "bootstrap admin: an existing account was promoted to admin and keeps its own \
                 password (TALENTMESH_IDENTITY_ADMIN_PROMOTE_EXISTING is set)"
            ),
            Bootstrap::Declined(id) => tracing::warn!(
                user = %id,
                "bootstrap admin NOT created: an account with the configured admin email \
                 already exists and is not an admin; it was left unchanged. Choose another \
                 TALENTMESH_IDENTITY_ADMIN_EMAIL, or set \
                 TALENTMESH_IDENTITY_ADMIN_PROMOTE_EXISTING=true to make that account admin"
            ),
        }
        Ok(done)
    }

    async fn start_session(&self, user: &User) -> Result<Tokens> {
        let (family, refresh) = self.sessions.start(&user.id).await?;
        self.tokens(user, &family, refresh)
    }

    /// A new access token of session `family` for `user`, paired with `refresh_token`.
    fn tokens(&self, user: &User, family: &str, refresh_token: String) -> Result<Tokens> {
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
        let claims = SessionClaims {
            claims,
            sid: Some(family.to_string()),
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
