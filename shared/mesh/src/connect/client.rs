//! The client side of mesh TLS: a tonic channel whose connector speaks TLS with a Connect
//! client configuration, so the peer is verified as the service the caller meant to reach
//! before a byte of the request (bearer token included) is sent.

use std::sync::Arc;

use rustls::pki_types::ServerName;

/// A lazily connecting channel to `endpoint` (`http://host:port`) over TLS with `config` (from
/// [`ConnectIdentity::client_config`](super::ConnectIdentity::client_config), which decides
/// which service the peer must be). The endpoint's own settings (timeouts, keep-alive) apply;
/// its scheme stays `http` because TLS is done by the connector, under HTTP/2 negotiated by
/// ALPN. While the caller has no leaf certificate yet, connecting fails (the call is
/// UNAVAILABLE) rather than connecting without one.
pub fn tls_channel(
    endpoint: tonic::transport::Endpoint,
    config: Arc<rustls::ClientConfig>,
) -> tonic::transport::Channel {
    let connector = tower::service_fn(move |uri: http::Uri| {
        let config = config.clone();
        async move {
            // Without its own leaf the handshake would go through with no client certificate,
            // the server would refuse every call on the connection (UNAUTHENTICATED), and the
            // channel would keep that connection. Failing the connect instead leaves nothing
            // behind: the call is UNAVAILABLE, and the next one connects again, with the leaf
            // once the agent has handed it out (a process that has just started).
            if !config.client_auth_cert_resolver.has_certs() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "no Connect leaf certificate yet: the agent has not issued this service's",
                ));
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
