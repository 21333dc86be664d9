//! The rustls callbacks of a Connect handshake: [`LeafResolver`] hands out the current leaf on
//! both sides; [`ClientVerifier`] (server side) and [`ServerVerifier`] (client side) check that
//! the peer's certificate chains to the current roots and names a service of the trust domain
//! (on the client side: the service the caller meant to reach).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::identity::Roots;
use super::{ConnectIdentity, SpiffeId};

/// Hands out the current leaf, as server certificate and as client certificate.
#[derive(Debug)]
pub(super) struct LeafResolver(pub(super) Arc<ConnectIdentity>);

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
/// of the trust domain. [`ConnectAuthzLayer`](super::ConnectAuthzLayer) then decides per
/// call.
#[derive(Debug)]
pub(super) struct ClientVerifier(pub(super) Arc<ConnectIdentity>);

impl ClientVerifier {
    fn roots(&self) -> Result<Arc<Roots>, rustls::Error> {
        self.0
            .roots
            .load_full()
            .ok_or_else(|| bad_certificate("connect CA roots not loaded yet"))
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
pub(super) struct ServerVerifier {
    pub(super) identity: Arc<ConnectIdentity>,
    pub(super) expected: String,
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
