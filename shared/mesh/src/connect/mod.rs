//! Connect-native mutual TLS between the services (issue 15, service identity), switched on by
//! `TALENTMESH_MESH_TLS=connect` ([`MeshTls`]; the default for every service in a mesh).
//!
//! Consul Connect's CA is the mesh's certificate authority. Each process asks its local agent for
//! its leaf certificate (`GET /v1/agent/connect/ca/leaf/<service>`) and the CA roots
//! (`GET /v1/agent/connect/ca/roots`), and follows both with blocking queries so a rotation is
//! picked up without a restart ([`ConnectIdentity`]). A leaf names its service in a SPIFFE URI
//! (`spiffe://<trust-domain>/ns/<ns>/dc/<dc>/svc/<name>`, [`SpiffeId`]).
//!
//! - Server side ([`ConnectIdentity::server_config`], [`ConnectAuthzLayer`]): TLS 1.3 with the
//!   service's leaf; a client certificate is asked for and, when given, must chain to the roots
//!   and carry a SPIFFE ID of the trust domain. A call is then allowed only when Consul's
//!   intentions allow the caller (`POST /v1/agent/connect/authorize`, cached briefly). Only the
//!   gRPC health service answers without a certificate: the agent's health check has none.
//! - Client side ([`ConnectIdentity::client_config`], [`tls_channel`]): the caller presents its
//!   own leaf and accepts the server only if its certificate chains to the roots and names the
//!   service the caller meant to reach, so a bearer token is only ever sent to a verified peer.
//!
//! Reference: Consul's "Connect-native app integration" guide and agent Connect API
//! (developer.hashicorp.com/consul/docs/connect/native, /api-docs/agent/connect); SPIFFE ID
//! format from the SPIFFE standard (github.com/spiffe/spiffe, `standards/SPIFFE-ID.md`).
//!
//! Files: `spiffe.rs` reads service identities out of certificates; `identity.rs` follows the
//! leaf and the roots and asks about intentions; `tls.rs` holds the rustls callbacks that hand
//! out the leaf and check the peer's certificate; `server.rs` accepts TLS connections and checks
//! each call; `client.rs` makes TLS channels. This file holds the mode switch and the error.

use std::str::FromStr;

use crate::consul::ConsulError;

mod client;
mod identity;
mod server;
mod spiffe;
mod tls;

pub use client::{tls_channel, LEAF_WAIT};
pub use identity::ConnectIdentity;
pub use server::{tls_incoming, ConnectAuthz, ConnectAuthzLayer, ConnectInfo, TlsConnection};
pub use spiffe::{PeerIdentity, SpiffeId};

/// `TALENTMESH_MESH_TLS`: how services talk to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshTls {
    /// Plaintext HTTP/2: only when asked for (`off`), or for a service started without Consul,
    /// which has no CA to take certificates from.
    Off,
    /// Mutual TLS with Consul Connect leaf certificates, SPIFFE identities and intentions.
    Connect,
}

impl MeshTls {
    /// The mode when `TALENTMESH_MESH_TLS` is unset: [`MeshTls::Connect`] for a service in a
    /// mesh (`consul_addr` non-empty), [`MeshTls::Off`] for one started alone.
    pub fn default_for(consul_addr: &str) -> MeshTls {
        if consul_addr.is_empty() {
            MeshTls::Off
        } else {
            MeshTls::Connect
        }
    }
}

impl FromStr for MeshTls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" | "" => Ok(MeshTls::Off),
            "connect" => Ok(MeshTls::Connect),
            other => Err(format!("unknown mesh TLS mode `{other}` (connect or off)")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Consul(#[from] ConsulError),
    #[error("connect certificate: {0}")]
    Certificate(String),
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_is_connect_or_off() {
        assert_eq!("connect".parse::<MeshTls>(), Ok(MeshTls::Connect));
        assert_eq!("off".parse::<MeshTls>(), Ok(MeshTls::Off));
        assert!("on".parse::<MeshTls>().is_err());
    }
}
