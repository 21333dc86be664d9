//! The client side of mesh TLS: a tonic channel whose connector speaks TLS with a Connect
//! client configuration, so the peer is verified as the service the caller meant to reach
//! before a byte of the request (bearer token included) is sent.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

/// How long a connect waits for the caller's own leaf certificate before it fails.
pub const LEAF_WAIT: Duration = Duration::from_secs(5);
/// How often a waiting connect looks for the leaf.
const LEAF_POLL: Duration = Duration::from_millis(50);

/// A lazily connecting channel to `endpoint` (`http://host:port`) over TLS with `config` (from
/// [`ConnectIdentity::client_config`](super::ConnectIdentity::client_config), which decides
/// which service the peer must be). The endpoint's own settings (timeouts, keep-alive) apply;
/// its scheme stays `http` because TLS is done by the connector, under HTTP/2 negotiated by
/// ALPN. While the caller has no leaf certificate yet, a connect waits for it up to
/// [`LEAF_WAIT`] and then fails (the call is UNAVAILABLE) rather than connect without one.
pub fn tls_channel(
    endpoint: tonic::transport::Endpoint,
    config: Arc<rustls::ClientConfig>,
) -> tonic::transport::Channel {
    let connector = tower::service_fn(move |uri: http::Uri| {
        let config = config.clone();
        async move {
            // Without its own leaf the handshake would go through with no client certificate,
            // the server would refuse every call on the connection (UNAUTHENTICATED), and the
            // channel would keep that connection. So the connect waits for the leaf (a process
            // that has just started, or an agent slow to sign under a burst of new names), up
            // to LEAF_WAIT, and then fails rather than connect without it: the call is
            // UNAVAILABLE and the next one connects again.
            let waited = tokio::time::Instant::now();
            while !config.client_auth_cert_resolver.has_certs() {
                if waited.elapsed() >= LEAF_WAIT {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::NotConnected,
                        "no Connect leaf certificate yet: the agent has not issued this service's",
                    ));
                }
                // The leaf arrives through the identity's own task; checked every LEAF_POLL.
                tokio::time::sleep(LEAF_POLL).await;
            }
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
