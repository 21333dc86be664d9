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

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use futures::future::BoxFuture;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use tokio::sync::watch;
use tonic::body::Body;
use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::Decode;

use crate::consul::{next_index, ConsulClient, ConsulError};
use crate::retry::Backoff;

/// How long a blocking query for the leaf or the roots waits before Consul answers anyway.
const WATCH_WAIT: Duration = Duration::from_secs(300);
/// How long an answer of `/v1/agent/connect/authorize` is reused for one caller.
const AUTHORIZE_TTL: Duration = Duration::from_secs(5);
/// The gRPC methods that answer without a client certificate: the agent's health check.
const UNAUTHENTICATED_PREFIX: &str = "/grpc.health.v1.Health/";

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

/// A service identity in Consul Connect's SPIFFE form:
/// `spiffe://<trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>` (an `ap/<partition>`
/// pair may appear too and is ignored: this project has one partition).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpiffeId {
    pub trust_domain: String,
    pub namespace: String,
    pub datacenter: String,
    pub service: String,
}

impl SpiffeId {
    /// Parses a Connect service URI; None for anything else (an agent's URI, another scheme).
    pub fn parse(uri: &str) -> Option<SpiffeId> {
        let rest = uri.strip_prefix("spiffe://")?;
        let (trust_domain, path) = rest.split_once('/')?;
        if trust_domain.is_empty() {
            return None;
        }
        let segments: Vec<&str> = path.split('/').collect();
        if !segments.len().is_multiple_of(2) {
            return None;
        }
        let mut id = SpiffeId {
            trust_domain: trust_domain.to_ascii_lowercase(),
            namespace: String::new(),
            datacenter: String::new(),
            service: String::new(),
        };
        for pair in segments.chunks(2) {
            let value = pair[1].to_string();
            match pair[0] {
                "ns" => id.namespace = value,
                "dc" => id.datacenter = value,
                "svc" => id.service = value,
                "ap" => {}
                _ => return None,
            }
        }
        (!id.service.is_empty() && !id.namespace.is_empty() && !id.datacenter.is_empty())
            .then_some(id)
    }

    /// The service identity a DER certificate carries in its subject alternative names.
    pub fn of_certificate(der: &[u8]) -> Option<SpiffeId> {
        uris_of_certificate(der)
            .iter()
            .find_map(|u| SpiffeId::parse(u))
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spiffe://{}/ns/{}/dc/{}/svc/{}",
            self.trust_domain, self.namespace, self.datacenter, self.service
        )
    }
}

/// The URI subject alternative names of a DER certificate (empty when it cannot be read).
fn uris_of_certificate(der: &[u8]) -> Vec<String> {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return Vec::new();
    };
    let extensions = cert.tbs_certificate.extensions.unwrap_or_default();
    extensions
        .iter()
        .filter(|e| e.extn_id == SubjectAltName::OID)
        .filter_map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
        .flat_map(|san| san.0)
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            _ => None,
        })
        .collect()
}

/// The serial number of a DER certificate in Consul's colon-hex form (`0e:1f`).
fn serial_of_certificate(der: &[u8]) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let bytes = cert.tbs_certificate.serial_number.as_bytes();
    Some(
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Who is on the other end of a verified connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub spiffe: SpiffeId,
    /// The certificate's serial number, colon-hex, as `/v1/agent/connect/authorize` takes it.
    pub serial: String,
}

/// The CA roots in force and what is built from them.
struct Roots {
    trust_domain: String,
    store: Arc<RootCertStore>,
    /// Chain checks for client certificates (certificates are optional at the TLS level).
    client_verifier: Arc<dyn ClientCertVerifier>,
}

/// This process's Connect identity: its leaf certificate and the CA roots, kept current by
/// blocking queries to the local agent, and the intention checks its server makes. Made once
/// per process side (server, discovery); clone the `Arc`.
pub struct ConnectIdentity {
    service: String,
    consul: ConsulClient,
    provider: Arc<CryptoProvider>,
    leaf: ArcSwapOption<CertifiedKey>,
    roots: ArcSwapOption<Roots>,
    /// True once both the leaf and the roots arrived.
    ready: watch::Sender<bool>,
    /// Intention answers by caller URI: allowed, and when asked.
    authorized: Mutex<HashMap<String, (bool, Instant)>>,
}

impl fmt::Debug for ConnectIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectIdentity")
            .field("service", &self.service)
            .field("ready", &*self.ready.borrow())
            .finish()
    }
}

impl ConnectIdentity {
    /// Starts following the leaf certificate of `service` and the CA roots through `consul`
    /// (whose token must be allowed `service:write` on `service`). Returns at once; handshakes
    /// fail until the first answers arrived ([`Self::wait_ready`]). Spawns two tasks on the
    /// current runtime, which end after their current query once the identity is dropped.
    pub fn start(consul: ConsulClient, service: &str) -> Arc<ConnectIdentity> {
        let identity = Arc::new(ConnectIdentity {
            service: service.to_string(),
            consul,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            leaf: ArcSwapOption::empty(),
            roots: ArcSwapOption::empty(),
            ready: watch::Sender::new(false),
            authorized: Mutex::new(HashMap::new()),
        });
        tokio::spawn(follow_leaf(Arc::downgrade(&identity)));
        tokio::spawn(follow_roots(Arc::downgrade(&identity)));
        identity
    }

    /// The service this identity speaks for.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Waits until the leaf and the roots are known, at most `timeout`; true when they are.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut ready = self.ready.subscribe();
        tokio::time::timeout(timeout, ready.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn mark_ready(&self) {
        if self.leaf.load().is_some() && self.roots.load().is_some() {
            self.ready.send_replace(true);
        }
    }

    fn set_leaf(&self, leaf: &crate::consul::LeafCert) -> Result<(), ConnectError> {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| ConnectError::Certificate(format!("leaf certificate: {e}")))?;
        if chain.is_empty() {
            return Err(ConnectError::Certificate("empty leaf certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(leaf.private_key_pem.expose().as_bytes())
            .map_err(|e| ConnectError::Certificate(format!("leaf key: {e}")))?;
        let key = self.provider.key_provider.load_private_key(key)?;
        self.leaf
            .store(Some(Arc::new(CertifiedKey::new(chain, key))));
        self.mark_ready();
        Ok(())
    }

    fn set_roots(&self, roots: &crate::consul::CaRoots) -> Result<(), ConnectError> {
        let mut store = RootCertStore::empty();
        for pem in &roots.roots_pem {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| ConnectError::Certificate(format!("root: {e}")))?;
                store.add(cert)?;
            }
        }
        if store.is_empty() {
            return Err(ConnectError::Certificate("no CA root".into()));
        }
        let store = Arc::new(store);
        let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            store.clone(),
            self.provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| ConnectError::Certificate(format!("client verifier: {e}")))?;
        self.roots.store(Some(Arc::new(Roots {
            trust_domain: roots.trust_domain.to_ascii_lowercase(),
            store,
            client_verifier,
        })));
        self.mark_ready();
        Ok(())
    }

    /// The TLS server configuration: this service's leaf, client certificates asked for and
    /// checked against the roots (HTTP/2 only).
    ///
    /// # Errors
    /// The crypto provider refuses TLS 1.3 (it does not with ring).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, ConnectError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(Arc::new(ClientVerifier(self.clone())))
            .with_cert_resolver(Arc::new(LeafResolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// The TLS client configuration for calls to `service` (its Consul name): this service's
    /// leaf as client certificate, and the server accepted only if its certificate chains to
    /// the roots and names `service` in the trust domain.
    ///
    /// # Errors
    /// The crypto provider refuses TLS 1.3 (it does not with ring).
    pub fn client_config(
        self: &Arc<Self>,
        service: &str,
    ) -> Result<Arc<rustls::ClientConfig>, ConnectError> {
        let mut config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ServerVerifier {
                identity: self.clone(),
                expected: service.to_string(),
            }))
            .with_client_cert_resolver(Arc::new(LeafResolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// Whether Consul's intentions allow `peer` to call this service. Answers are reused for
    /// [`AUTHORIZE_TTL`]; when the agent cannot be asked, the call is refused.
    pub async fn authorize(&self, peer: &PeerIdentity) -> bool {
        let uri = peer.spiffe.to_string();
        if let Some((allowed, at)) = lock(&self.authorized).get(&uri) {
            if at.elapsed() < AUTHORIZE_TTL {
                return *allowed;
            }
        }
        let allowed = match self
            .consul
            .connect_authorize(&self.service, &uri, &peer.serial)
            .await
        {
            Ok(answer) => {
                if !answer.authorized {
                    tracing::warn!(caller = %uri, reason = %answer.reason, "intention denies the caller");
                }
                answer.authorized
            }
            Err(e) => {
                tracing::warn!(caller = %uri, error = %e, "could not ask consul about an intention");
                return false;
            }
        };
        let mut cache = lock(&self.authorized);
        // Bounded: callers are services, but a flood of distinct certificates must not grow it.
        if cache.len() > 1024 {
            cache.clear();
        }
        cache.insert(uri, (allowed, Instant::now()));
        allowed
    }

    /// The identity of a verified peer certificate chain's end entity.
    fn peer_of(&self, end_entity: &CertificateDer<'_>) -> Option<PeerIdentity> {
        Some(PeerIdentity {
            spiffe: SpiffeId::of_certificate(end_entity)?,
            serial: serial_of_certificate(end_entity)?,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn follow_leaf(identity: std::sync::Weak<ConnectIdentity>) {
    let mut index = 0u64;
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        let Some(me) = identity.upgrade() else { return };
        let (consul, service) = (me.consul.clone(), me.service.clone());
        drop(me);
        match consul.connect_leaf(&service, index, WATCH_WAIT).await {
            Ok(answer) => {
                let Some(me) = identity.upgrade() else { return };
                if answer.index != index || me.leaf.load().is_none() {
                    match me.set_leaf(&answer.value) {
                        Ok(()) => {
                            tracing::info!(service = %service, "connect leaf certificate loaded")
                        }
                        Err(e) => {
                            tracing::warn!(service = %service, error = %e, "bad connect leaf")
                        }
                    }
                }
                index = next_index(index, answer.index);
                backoff.reset();
            }
            Err(e) => {
                tracing::warn!(service = %service, error = %e, "connect leaf watch failed; retrying");
                index = 0;
                backoff.pause().await;
            }
        }
    }
}

async fn follow_roots(identity: std::sync::Weak<ConnectIdentity>) {
    let mut index = 0u64;
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        let Some(me) = identity.upgrade() else { return };
        let consul = me.consul.clone();
        drop(me);
        match consul.connect_roots(index, WATCH_WAIT).await {
            Ok(answer) => {
                let Some(me) = identity.upgrade() else { return };
                if answer.index != index || me.roots.load().is_none() {
                    match me.set_roots(&answer.value) {
                        Ok(()) => tracing::info!(
                            roots = answer.value.roots_pem.len(),
                            "connect CA roots loaded"
                        ),
                        Err(e) => tracing::warn!(error = %e, "bad connect CA roots"),
                    }
                }
                index = next_index(index, answer.index);
                backoff.reset();
            }
            Err(e) => {
                tracing::warn!(error = %e, "connect roots watch failed; retrying");
                index = 0;
                backoff.pause().await;
            }
        }
    }
}

/// Hands out the current leaf, as server certificate and as client certificate.
#[derive(Debug)]
struct LeafResolver(Arc<ConnectIdentity>);

impl rustls::server::ResolvesServerCert for LeafResolver {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.leaf.load_full()
    }
}

impl rustls::client::ResolvesClientCert for LeafResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0.leaf.load_full()
    }

    fn has_certs(&self) -> bool {
        self.0.leaf.load().is_some()
    }
}

fn bad_certificate(why: &str) -> rustls::Error {
    rustls::Error::General(why.to_string())
}

/// Server side: a client certificate is optional at the TLS level (the agent's health check has
/// none), but one that is given must chain to the current roots and carry a SPIFFE service ID
/// of the trust domain. [`ConnectAuthzLayer`] then decides per call.
#[derive(Debug)]
struct ClientVerifier(Arc<ConnectIdentity>);

impl ClientVerifier {
    fn roots(&self) -> Result<Arc<Roots>, rustls::Error> {
        self.0
            .roots
            .load_full()
            .ok_or_else(|| bad_certificate("connect CA roots not loaded yet"))
    }
}

impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Roots")
            .field("trust_domain", &self.trust_domain)
            .finish()
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let roots = self.roots()?;
        roots
            .client_verifier
            .verify_client_cert(end_entity, intermediates, now)?;
        match SpiffeId::of_certificate(end_entity) {
            Some(id) if id.trust_domain == roots.trust_domain => {
                Ok(ClientCertVerified::assertion())
            }
            _ => Err(bad_certificate(
                "client certificate names no service of this trust domain",
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0
            .provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Client side: the server's certificate must chain to the current roots and name the service
/// the caller meant to reach. The DNS name of the connection plays no part: Connect leaves
/// carry the service's SPIFFE URI, not host names.
#[derive(Debug)]
struct ServerVerifier {
    identity: Arc<ConnectIdentity>,
    expected: String,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let roots = self
            .identity
            .roots
            .load_full()
            .ok_or_else(|| bad_certificate("connect CA roots not loaded yet"))?;
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &roots.store,
            intermediates,
            now,
            self.identity.provider.signature_verification_algorithms.all,
        )?;
        match SpiffeId::of_certificate(end_entity) {
            Some(id) if id.trust_domain == roots.trust_domain && id.service == self.expected => {
                Ok(ServerCertVerified::assertion())
            }
            Some(id) => Err(bad_certificate(&format!(
                "the server is {id}, not the service {} of this trust domain",
                self.expected
            ))),
            None => Err(bad_certificate("the server certificate names no service")),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.identity.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.identity.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.identity
            .provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

// ---------------------------------------------------------------- server connections

/// What tonic learns about a TLS connection: the socket addresses (also put in the request as
/// tonic's own `TcpConnectInfo`, so `remote_addr()` keeps working) and the verified peer.
#[derive(Debug, Clone)]
pub struct ConnectInfo {
    pub tcp: tonic::transport::server::TcpConnectInfo,
    /// None when the client sent no certificate (only the health service answers it).
    pub peer: Option<PeerIdentity>,
}

/// A server-side TLS connection with what was learnt in its handshake.
pub struct TlsConnection {
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    info: ConnectInfo,
}

impl tonic::transport::server::Connected for TlsConnection {
    type ConnectInfo = ConnectInfo;

    fn connect_info(&self) -> ConnectInfo {
        self.info.clone()
    }
}

impl tokio::io::AsyncRead for TlsConnection {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Accepts TCP connections from `listener` and completes each TLS handshake on a task of its
/// own (a slow client never holds up the others), within `handshake_timeout`. Connections whose
/// handshake fails are logged at debug level and dropped. The stream ends with the listener.
pub fn tls_incoming(
    listener: tokio::net::TcpListener,
    identity: Arc<ConnectIdentity>,
    config: Arc<rustls::ServerConfig>,
    handshake_timeout: Duration,
) -> impl futures::Stream<Item = std::io::Result<TlsConnection>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<TlsConnection>>(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Too many open files and the like: pause rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = tx.closed() => return,
            };
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
            let tcp_info = tonic::transport::server::Connected::connect_info(&tcp);
            let (acceptor, identity, tx) = (acceptor.clone(), identity.clone(), tx.clone());
            tokio::spawn(async move {
                let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = ?tcp_info.remote_addr, error = %e, "tls handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(peer = ?tcp_info.remote_addr, "tls handshake timed out");
                        return;
                    }
                };
                let peer = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|cert| identity.peer_of(cert));
                let info = ConnectInfo {
                    tcp: tcp_info,
                    peer,
                };
                let _ = tx.send(Ok(TlsConnection { stream, info })).await;
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Per call on a TLS server: copies the socket addresses into the request as tonic's
/// `TcpConnectInfo` (what `Request::remote_addr` reads), lets the health service answer anyone,
/// and lets any other call through only from a peer with a verified certificate whom Consul's
/// intentions allow to call this service (PERMISSION_DENIED otherwise).
#[derive(Clone)]
pub struct ConnectAuthzLayer {
    identity: Arc<ConnectIdentity>,
}

impl ConnectAuthzLayer {
    pub fn new(identity: Arc<ConnectIdentity>) -> Self {
        ConnectAuthzLayer { identity }
    }
}

impl<S> tower::Layer<S> for ConnectAuthzLayer {
    type Service = ConnectAuthz<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ConnectAuthz {
            inner,
            identity: self.identity.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ConnectAuthz<S> {
    inner: S,
    identity: Arc<ConnectIdentity>,
}

impl<S> tower::Service<http::Request<Body>> for ConnectAuthz<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let info = req.extensions().get::<ConnectInfo>().cloned();
        if let Some(info) = &info {
            req.extensions_mut().insert(info.tcp.clone());
        }
        // The ready service goes to this call; a clone takes its place (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let identity = self.identity.clone();
        Box::pin(async move {
            if req.uri().path().starts_with(UNAUTHENTICATED_PREFIX) {
                return inner.call(req).await;
            }
            let Some(peer) = info.and_then(|i| i.peer) else {
                return Ok(tonic::Status::unauthenticated(
                    "mesh calls need a connect client certificate",
                )
                .into_http());
            };
            if !identity.authorize(&peer).await {
                return Ok(tonic::Status::permission_denied(format!(
                    "intentions do not allow {} to call {}",
                    peer.spiffe.service,
                    identity.service()
                ))
                .into_http());
            }
            inner.call(req).await
        })
    }
}

// ---------------------------------------------------------------- client connections

/// A lazily connecting channel to `endpoint` (`http://host:port`) over TLS with `config` (from
/// [`ConnectIdentity::client_config`], which decides which service the peer must be). The
/// endpoint's own settings (timeouts, keep-alive) apply; its scheme stays `http` because TLS is
/// done by the connector, under HTTP/2 negotiated by ALPN.
pub fn tls_channel(
    endpoint: tonic::transport::Endpoint,
    config: Arc<rustls::ClientConfig>,
) -> tonic::transport::Channel {
    let connector = tower::service_fn(move |uri: http::Uri| {
        let config = config.clone();
        async move {
            let host = uri.host().unwrap_or_default().to_string();
            let port = uri.port_u16().unwrap_or(80);
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            // The name only fills SNI: the verifier checks the SPIFFE identity instead.
            let name = ServerName::try_from("connect.invalid")
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    endpoint.connect_with_connector_lazy(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids_of_connect_services_parse_and_print() {
        let uri = "spiffe://5a58.consul/ns/default/dc/dc1/svc/identity";
        let id = SpiffeId::parse(uri);
        assert_eq!(
            id.as_ref()
                .map(|i| (i.trust_domain.as_str(), i.service.as_str())),
            Some(("5a58.consul", "identity"))
        );
        assert_eq!(id.map(|i| i.to_string()).as_deref(), Some(uri));
        let partitioned = "spiffe://5a58.consul/ap/default/ns/default/dc/dc1/svc/job";
        assert_eq!(
            SpiffeId::parse(partitioned).map(|i| i.service),
            Some("job".to_string())
        );
        for bad in [
            "spiffe://5a58.consul",
            "spiffe://5a58.consul/agent/client/dc/dc1/id/x",
            "https://5a58.consul/ns/default/dc/dc1/svc/identity",
            "spiffe:///ns/default/dc/dc1/svc/identity",
            "spiffe://5a58.consul/ns/default/dc/dc1",
        ] {
            assert_eq!(SpiffeId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_mode_is_connect_or_off() {
        assert_eq!("connect".parse::<MeshTls>(), Ok(MeshTls::Connect));
        assert_eq!("off".parse::<MeshTls>(), Ok(MeshTls::Off));
        assert!("on".parse::<MeshTls>().is_err());
    }
}
