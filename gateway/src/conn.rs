//! One client connection, from accept to close, with the bounds a public HTTP port needs.
//!
//! A connection is served by hyper (HTTP/1.1 or HTTP/2, whichever the client speaks) with:
//!
//! - a header read timeout ([`ConnLimits::header_timeout`]): an HTTP/1 request head that has not
//!   fully arrived within it closes the connection. hyper starts this clock whenever it waits for
//!   a head, so it is also the keep-alive idle limit of HTTP/1 and holds against a client that
//!   trickles a byte now and then;
//! - an idle timeout ([`ConnLimits::idle_timeout`]): a connection with no request in flight (a
//!   response still being written counts as in flight) for that long is shut down gracefully —
//!   Envoy's `idle_timeout` rule. It is what bounds an HTTP/2 connection, whose pings a client
//!   may keep answering, and a connection that never finished its HTTP/2 preface;
//! - HTTP/2 keep-alive pings with a timeout, so dead peers are dropped, and a cap on concurrent
//!   streams per connection;
//! - a limit on open connections, kept by the acceptor with a semaphore: a connection past it is
//!   closed at once (Envoy's `max_connections`), each open one holds a [`ConnPermit`].
//!
//! hyper answers a request it cannot parse (a request line past 64 KiB, oversized headers,
//! garbage) itself, with a bare status and no body, and offers no hook to change that.
//! [`ErrorBodies`] adds the `google.rpc.Status` JSON body the gateway gives every other error by
//! recognising exactly those automatic responses on their way out.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};

use crate::workers::ClientAddr;

/// How long an HTTP/2 connection may leave a keep-alive ping unanswered before it is closed.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most streams (requests) one HTTP/2 client connection may have open at once.
const MAX_STREAMS_PER_CONNECTION: u32 = 100;
/// After an idle connection was asked to shut down gracefully, how long it gets to do so.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The next connection `listener` accepts. An accept error (out of file descriptors and the
/// like) is logged and retried after 50 ms instead of spinning; it never ends the loop.
pub(crate) async fn accept_next(listener: &tokio::net::TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                // A back-off, not a wait for a condition: the next accept may succeed.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The per-connection bounds, from [`crate::GatewayConfig`].
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Longest wait for a complete HTTP/1 request head, idle keep-alive time included.
    pub header_timeout: Duration,
    /// Longest time a connection stays open with no request in flight.
    pub idle_timeout: Duration,
}

/// The open-connection budget shared by the acceptor and every worker.
#[derive(Debug, Clone)]
pub struct ConnBudget {
    permits: Arc<Semaphore>,
}

/// One open connection's share of the budget; given back when the connection ends.
#[derive(Debug)]
pub struct ConnPermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl ConnBudget {
    /// A budget of `max` open connections.
    pub fn new(max: usize) -> Self {
        ConnBudget {
            permits: Arc::new(Semaphore::new(max)),
        }
    }

    /// A permit for one more connection, or `None` when `max` are open.
    pub fn try_open(&self) -> Option<ConnPermit> {
        self.permits
            .clone()
            .try_acquire_owned()
            .ok()
            .map(ConnPermit)
    }
}

/// The connections one runtime serves: spawns each on the current runtime and, at shutdown,
/// waits until every one has finished.
pub(crate) struct Connections {
    router: Router,
    limits: ConnLimits,
    bodies: Arc<AutomaticBodies>,
    stop: watch::Receiver<bool>,
    /// Each connection task holds a clone; when all are dropped, every connection has ended.
    open: Option<mpsc::Sender<()>>,
    ended: mpsc::Receiver<()>,
}

impl Connections {
    /// Connections served by `router`, asked to finish when `stop` turns true.
    pub(crate) fn new(
        router: Router,
        limits: ConnLimits,
        bodies: Arc<AutomaticBodies>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let (open, ended) = mpsc::channel(1);
        Connections {
            router,
            limits,
            bodies,
            stop,
            open: Some(open),
            ended,
        }
    }

    /// Serves `stream` on a task of the current runtime.
    pub(crate) fn spawn(&self, stream: TcpStream, addr: SocketAddr, permit: ConnPermit) {
        let open = self.open.clone();
        let mut stop = self.stop.clone();
        let served = serve_connection(
            stream,
            addr,
            self.router.clone(),
            self.limits,
            self.bodies.clone(),
            permit,
            async move {
                let _ = stop.wait_for(|stop| *stop).await;
            },
        );
        tokio::spawn(async move {
            served.await;
            drop(open);
        });
    }

    /// Waits until every connection spawned so far has ended.
    pub(crate) async fn drained(mut self) {
        self.open = None;
        let _ = self.ended.recv().await;
    }
}

/// Serves `stream` with `router` until the client leaves, a limit closes it, or `stop`
/// completes (then in-flight requests finish first). `permit` is held to the end.
pub async fn serve_connection(
    stream: TcpStream,
    addr: SocketAddr,
    router: Router,
    limits: ConnLimits,
    bodies: Arc<AutomaticBodies>,
    permit: ConnPermit,
    stop: impl Future<Output = ()>,
) {
    let activity = Arc::new(Activity::default());
    let client = ClientAddr::new(addr);
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            // The proxy reads the client address from here, as from axum's connect info.
            request.extensions_mut().insert(ConnectInfo(client.clone()));
            let busy = Busy::begin(&activity);
            let answer = tower::ServiceExt::oneshot(router.clone(), request);
            async move {
                let response = answer.await?;
                // In flight until the body is written: a long download is not idle time.
                Ok::<_, std::convert::Infallible>(response.map(|body| {
                    Body::new(Tracked {
                        inner: body,
                        _busy: busy,
                    })
                }))
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout.min(Duration::from_secs(30)))
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
    let io = TokioIo::new(ErrorBodies::new(stream, bodies));
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::pin!(stop);
    let mut stopping = false;
    let mut closing = false;
    // Armed when an idle connection is asked to close.
    let grace = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, client = %addr, "connection ended with an error");
                }
                break;
            }
            () = &mut stop, if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.idle(limits.idle_timeout), if !closing && !stopping => {
                tracing::debug!(client = %addr, "closing an idle connection");
                closing = true;
                connection.as_mut().graceful_shutdown();
                grace.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            () = &mut grace, if closing => break,
        }
    }
    drop(permit);
}

/// Requests in flight on one connection, and a signal when that number changes.
#[derive(Debug, Default)]
struct Activity {
    in_flight: AtomicUsize,
    changed: Notify,
}

impl Activity {
    /// Completes once no request has been in flight for `timeout`.
    async fn idle(&self, timeout: Duration) {
        loop {
            // Created before the check, so a change between the two is not missed.
            let changed = self.changed.notified();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                tokio::select! {
                    () = tokio::time::sleep(timeout) => return,
                    () = changed => {}
                }
            } else {
                changed.await;
            }
        }
    }
}

/// One request in flight; ends when dropped.
struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: &Arc<Activity>) -> Busy {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.changed.notify_waiters();
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}

/// A response body that keeps its request in flight until it is written or dropped.
struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The JSON bodies of hyper's automatic error responses, rendered once per gateway.
#[derive(Debug, Clone)]
pub struct AutomaticBodies {
    /// 400: a request hyper could not parse.
    pub malformed: Bytes,
    /// 414: a request target of 64 KiB or more.
    pub uri_too_long: Bytes,
    /// 431: a request head larger than hyper's read buffer.
    pub headers_too_large: Bytes,
}

impl AutomaticBodies {
    fn for_status(&self, status: &[u8]) -> Option<&Bytes> {
        match status {
            b"400" => Some(&self.malformed),
            b"414" => Some(&self.uri_too_long),
            b"431" => Some(&self.headers_too_large),
            _ => None,
        }
    }
}

/// The connection's socket, with hyper's bodiless automatic error responses given a body.
///
/// hyper writes such a response as one head with `content-length: 0`, at the start of a
/// response, and closes the connection after it. The gateway's own responses always carry a
/// JSON body, so a write that is exactly such a head (status 400, 414 or 431, `content-length:
/// 0`, nothing after the blank line) can only be hyper's. It is replaced by the same head with
/// the JSON body; the caller is told its bytes were written, and the replacement goes out
/// before any later write or flush completes.
pub struct ErrorBodies<IO> {
    inner: IO,
    bodies: Arc<AutomaticBodies>,
    /// A replacement response not yet fully written, and how much of it was.
    pending: Option<(Bytes, usize)>,
}

impl<IO> ErrorBodies<IO> {
    pub fn new(inner: IO, bodies: Arc<AutomaticBodies>) -> Self {
        ErrorBodies {
            inner,
            bodies,
            pending: None,
        }
    }
}

/// The longest automatic response head hyper writes (status line, length, date).
const MAX_AUTOMATIC_HEAD: usize = 256;

/// The response to write instead of `head` when it is one of hyper's automatic error responses.
fn with_body(head: &[u8], bodies: &AutomaticBodies) -> Option<Bytes> {
    if head.len() > MAX_AUTOMATIC_HEAD
        || !(head.starts_with(b"HTTP/1.1 ") || head.starts_with(b"HTTP/1.0 "))
        || !head.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let body = bodies.for_status(head.get(9..12)?)?;
    const EMPTY: &[u8] = b"\r\ncontent-length: 0\r\n";
    let at = head.windows(EMPTY.len()).position(|w| w == EMPTY)?;
    let mut out = Vec::with_capacity(head.len() + body.len() + 96);
    out.extend_from_slice(&head[..at]);
    out.extend_from_slice(b"\r\ncontent-type: application/json");
    out.extend_from_slice(b"\r\nx-content-type-options: nosniff");
    out.extend_from_slice(format!("\r\ncontent-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(&head[at + EMPTY.len()..]);
    out.extend_from_slice(body);
    Some(Bytes::from(out))
}

impl<IO: AsyncWrite + Unpin> ErrorBodies<IO> {
    /// Writes what is left of a replacement response.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written >= bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    fn replace(&mut self, buf: &[u8], cx: &mut Context<'_>) -> Option<Poll<io::Result<usize>>> {
        let replacement = with_body(buf, &self.bodies)?;
        self.pending = Some((replacement, 0));
        // Started now; whatever does not fit goes out on the flush that follows.
        Some(match self.poll_pending(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(buf.len())),
        })
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ErrorBodies<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ErrorBodies<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(done) = self.replace(buf, cx) {
            return done;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // An automatic response is a head alone: one non-empty slice.
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if let Some(done) = self.replace(only, cx) {
                return done;
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn bodies() -> AutomaticBodies {
        AutomaticBodies {
            malformed: Bytes::from_static(b"{\"code\":3}"),
            uri_too_long: Bytes::from_static(b"{\"code\":8}"),
            headers_too_large: Bytes::from_static(b"{\"code\":8,\"h\":1}"),
        }
    }

    #[test]
    fn an_automatic_414_gets_the_json_body() {
        let head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = with_body(head, &bodies()).unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{text}");
        assert!(text.contains("\r\ncontent-length: 10\r\n"), "{text}");
        assert!(
            text.contains("\r\ncontent-type: application/json\r\n"),
            "{text}"
        );
        assert!(text.ends_with("date: x\r\n\r\n{\"code\":8}"), "{text}");
    }

    #[test]
    fn responses_with_bodies_and_other_statuses_pass_untouched() {
        let b = bodies();
        // The gateway's own 400: a body follows the head.
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 10\r\n\r\n{\"code\":3}";
        assert!(with_body(own, &b).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(with_body(ok, &b).is_none());
        let mid_body = b"{\"HTTP/1.1 414 \": 1}";
        assert!(with_body(mid_body, &b).is_none());
    }
}
