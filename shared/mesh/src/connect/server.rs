//! The server side of mesh TLS: [`tls_incoming`] accepts connections and completes each
//! handshake on a task of its own, [`TlsConnection`] carries what the handshake learnt
//! ([`ConnectInfo`]) to tonic, and [`ConnectAuthzLayer`] lets a call through only from a peer
//! Consul's intentions allow (the health service answers anyone).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tonic::body::Body;

use super::{ConnectIdentity, PeerIdentity};

/// The gRPC methods that answer without a client certificate: the agent's health check.
const UNAUTHENTICATED_PREFIX: &str = "/grpc.health.v1.Health/";

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
