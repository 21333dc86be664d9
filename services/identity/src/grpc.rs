//! The gRPC adapter: proto requests to domain calls and domain results to proto responses.
//! Errors become statuses through `From<Error> for Status` (`error.rs`); nothing else lives here.

use std::sync::Arc;

use talentmesh_mesh::caller;
use talentmesh_mesh::time::timestamp;
use talentmesh_proto::identity::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain::{Invalid, Role, User};
use crate::error::Error;
use crate::service::keys::PublishedKey;
use crate::service::{Identity, Tokens};
use crate::store::RevokedPage;

/// `talentmesh.identity.v1.IdentityService` over the service layer.
pub struct IdentityGrpc {
    /// The service the RPCs call.
    pub identity: Arc<Identity>,
    /// Peers allowed to name the client address in [`CLIENT_IP`] (the gateway's networks).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}

/// The metadata entry in which a trusted proxy (the gateway) names the client's address.
pub const CLIENT_IP: &str = "x-talentmesh-client-ip";

/// Methods callable without an access token.
pub const PUBLIC_METHODS: [&str; 7] = [
    "/talentmesh.identity.v1.IdentityService/Register",
    "/talentmesh.identity.v1.IdentityService/Login",
    "/talentmesh.identity.v1.IdentityService/Refresh",
    "/talentmesh.identity.v1.IdentityService/Logout",
    "/talentmesh.identity.v1.IdentityService/ListPublicKeys",
    "/talentmesh.identity.v1.IdentityService/GetPublicKey",
    // Opaque session ids only, bounded pages of unexpired entries; every service's verifier
    // polls it, as it fetches the public keys, before it can verify anything.
    "/talentmesh.identity.v1.IdentityService/ListRevokedSessions",
];

fn role_to_pb(role: Role) -> pb::Role {
    match role {
        Role::Candidate => pb::Role::Candidate,
        Role::Employer => pb::Role::Employer,
        Role::Admin => pb::Role::Admin,
    }
}

fn role_from_pb(value: i32) -> Option<Role> {
    match pb::Role::try_from(value).ok()? {
        pb::Role::Candidate => Some(Role::Candidate),
        pb::Role::Employer => Some(Role::Employer),
        pb::Role::Admin => Some(Role::Admin),
        pb::Role::Unspecified => None,
    }
}

fn user_to_pb(user: &User) -> pb::User {
    pb::User {
        name: format!("users/{}", user.id),
        email: user.email.as_str().to_string(),
        roles: user.roles.iter().map(|r| role_to_pb(*r) as i32).collect(),
        create_time: Some(timestamp(user.created_at)),
    }
}

fn tokens_to_pb(t: Tokens) -> pb::TokenPair {
    pb::TokenPair {
        access_token: t.access_token,
        token_type: "Bearer".to_string(),
        expires_in: i64::try_from(t.expires_in.as_secs()).unwrap_or(i64::MAX),
        refresh_token: t.refresh_token,
        refresh_expires_in: i64::try_from(t.refresh_expires_in.as_secs()).unwrap_or(i64::MAX),
    }
}

/// A published key as a JSON Web Key (RFC 8037, Ed25519).
fn jwk(key: PublishedKey) -> pb::JsonWebKey {
    pb::JsonWebKey {
        kty: "OKP".to_string(),
        crv: "Ed25519".to_string(),
        x: key.x,
        kid: key.kid,
        r#use: "sig".to_string(),
        alg: "EdDSA".to_string(),
    }
}

fn revoked_to_pb(page: RevokedPage) -> pb::ListRevokedSessionsResponse {
    pb::ListRevokedSessionsResponse {
        revoked_sessions: page
            .sessions
            .into_iter()
            .map(|s| pb::RevokedSession {
                session_id: s.session_id,
                expire_time: Some(prost_types::Timestamp {
                    seconds: s.expires_at,
                    nanos: 0,
                }),
            })
            .collect(),
        next_page_token: page.next_cursor.to_string(),
    }
}

/// The id in a resource name `<prefix>{id}`, or INVALID_ARGUMENT on `name` with `shape`.
fn name_id<'a>(name: &'a str, prefix: &str, shape: &str) -> Result<&'a str, Error> {
    // A name with control characters is malformed, not missing: say so instead of echoing
    // the characters back in a NOT_FOUND.
    if let Some(why) = talentmesh_text::check_text(name, talentmesh_text::Lines::Single) {
        return Err(Invalid::new("name", why).into());
    }
    name.strip_prefix(prefix)
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| Invalid::new("name", format!("must look like {shape}")).into())
}

/// The client address for throttling and rate limits: the connection's peer, or, when the peer is a trusted
/// proxy, the address it names in [`CLIENT_IP`]. Anything else a caller sends (its own
/// `x-forwarded-for` or [`CLIENT_IP`] on the raw gRPC port) is ignored, so a caller cannot
/// spread its failures over made-up addresses or pin them on someone else's.
fn client_address<T>(req: &Request<T>, trusted: &[ipnet::IpNet]) -> String {
    let Some(peer) = req.remote_addr().map(|a| a.ip().to_canonical()) else {
        return "unknown".to_string();
    };
    if trusted.iter().any(|net| net.contains(&peer)) {
        let named = req
            .metadata()
            .get(CLIENT_IP)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok());
        if let Some(client) = named {
            return client.to_canonical().to_string();
        }
    }
    peer.to_string()
}

#[tonic::async_trait]
impl pb::identity_service_server::IdentityService for IdentityGrpc {
    #[tracing::instrument(skip_all, fields(rpc = "Register"))]
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let address = client_address(&request, &self.trusted_proxies);
        let req = request.into_inner();
        let user = self
            .identity
            .register(&req.email, &req.password, role_from_pb(req.role), &address)
            .await?;
        Ok(Response::new(pb::RegisterResponse {
            user: Some(user_to_pb(&user)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "Login"))]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let address = client_address(&request, &self.trusted_proxies);
        let req = request.into_inner();
        let (user, tokens) = self
            .identity
            .login(&req.email, &req.password, &address)
            .await?;
        Ok(Response::new(pb::LoginResponse {
            tokens: Some(tokens_to_pb(tokens)),
            user: Some(user_to_pb(&user)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "Refresh"))]
    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let tokens = self
            .identity
            .refresh(&request.into_inner().refresh_token)
            .await?;
        Ok(Response::new(pb::RefreshResponse {
            tokens: Some(tokens_to_pb(tokens)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "Logout"))]
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        self.identity
            .logout(&request.into_inner().refresh_token)
            .await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetCurrentUser"))]
    async fn get_current_user(
        &self,
        request: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::GetCurrentUserResponse>, Status> {
        let caller = caller(&request)?.clone();
        let user = self.identity.get_user(&caller, &caller.user_id).await?;
        Ok(Response::new(pb::GetCurrentUserResponse {
            user: Some(user_to_pb(&user)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetUser"))]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let caller = caller(&request)?.clone();
        let name = request.into_inner().name;
        let id = name_id(&name, "users/", "users/{user}")?;
        let user = self.identity.get_user(&caller, id).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user_to_pb(&user)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListPublicKeys"))]
    async fn list_public_keys(
        &self,
        _request: Request<pb::ListPublicKeysRequest>,
    ) -> Result<Response<pb::ListPublicKeysResponse>, Status> {
        let keys = self.identity.public_keys().into_iter().map(jwk).collect();
        Ok(Response::new(pb::ListPublicKeysResponse { keys }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetPublicKey"))]
    async fn get_public_key(
        &self,
        request: Request<pb::GetPublicKeyRequest>,
    ) -> Result<Response<pb::GetPublicKeyResponse>, Status> {
        let name = request.into_inner().name;
        let kid = name_id(&name, "publicKeys/", "publicKeys/{kid}")?;
        let key = self.identity.public_key(kid)?;
        Ok(Response::new(pb::GetPublicKeyResponse {
            key: Some(jwk(key)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListRevokedSessions"))]
    async fn list_revoked_sessions(
        &self,
        request: Request<pb::ListRevokedSessionsRequest>,
    ) -> Result<Response<pb::ListRevokedSessionsResponse>, Status> {
        let req = request.into_inner();
        let page = self
            .identity
            .revoked_sessions(req.page_size, &req.page_token)
            .await?;
        Ok(Response::new(revoked_to_pb(page)))
    }
}
