//! This process's Connect identity ([`ConnectIdentity`]): the leaf certificate and the CA roots,
//! followed with blocking queries to the local agent so a rotation needs no restart, the TLS
//! configurations built on them, and the intention check per caller, cached briefly.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use tokio::sync::watch;

use super::spiffe::serial_of_certificate;
use super::tls::{ClientVerifier, LeafResolver, ServerVerifier};
use super::{ConnectError, PeerIdentity, SpiffeId};
use crate::consul::{next_index, ConsulClient};
use crate::retry::Backoff;

/// How long a blocking query for the leaf or the roots waits before Consul answers anyway.
const WATCH_WAIT: Duration = Duration::from_secs(300);
/// How long an answer of `/v1/agent/connect/authorize` is reused for one caller.
const AUTHORIZE_TTL: Duration = Duration::from_secs(5);

/// The CA roots in force and what is built from them.
pub(super) struct Roots {
    pub(super) trust_domain: String,
    pub(super) store: Arc<RootCertStore>,
    /// Chain checks for client certificates (certificates are optional at the TLS level).
    pub(super) client_verifier: Arc<dyn ClientCertVerifier>,
}

impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Roots")
            .field("trust_domain", &self.trust_domain)
            .finish()
    }
}

/// This process's Connect identity: its leaf certificate and the CA roots, kept current by
/// blocking queries to the local agent, and the intention checks its server makes. Made once
/// per process side (server, discovery); clone the `Arc`.
pub struct ConnectIdentity {
    service: String,
    consul: ConsulClient,
    pub(super) provider: Arc<CryptoProvider>,
    pub(super) leaf: ArcSwapOption<CertifiedKey>,
    pub(super) roots: ArcSwapOption<Roots>,
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
    pub(super) fn peer_of(&self, end_entity: &CertificateDer<'_>) -> Option<PeerIdentity> {
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
