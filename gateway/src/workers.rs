//! Thread-per-core serving, the way Envoy and nginx run their workers.
//!
//! One acceptor hands each new connection, round-robin, to one of N worker threads. A worker is
//! a single-threaded tokio runtime: the client connection, the request handler and the worker's
//! own HTTP/2 connections to the services all run on that one thread, so a proxied request never
//! wakes a task on another thread.
//!
//! Why: on a work-stealing runtime one request touches three tasks (client connection, handler,
//! upstream connection) that land on different threads, and each hand-over is a cross-thread
//! wake-up — a futex and a context switch. On the 2-core bench machine, serving on single-threaded
//! runtimes cut the gateway's CPU per request by about a fifth, and its throughput in
//! `tests/bench/run.sh` went from 0.94x the hand-written handler's to over 1.1x.
//!
//! A worker's upstream connections are its own when the [`Upstreams`] keeps one set per worker
//! ([`crate::consul::DiscoveryUpstreams::per_worker`] does), chosen with [`current`].

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use http::HeaderValue;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::gateway::Gateway;
use crate::upstream::Upstreams;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The 1-based number of the gateway worker running the caller, or 0 on any other thread.
pub fn current() -> usize {
    WORKER.with(Cell::get)
}

/// The client of a connection, with its address already rendered for `x-forwarded-for` (once
/// per connection, not once per request).
#[derive(Debug, Clone)]
pub struct ClientAddr {
    pub addr: SocketAddr,
    pub ip: Option<HeaderValue>,
}

impl ClientAddr {
    fn new(addr: SocketAddr) -> Self {
        ClientAddr {
            addr,
            ip: HeaderValue::from_str(&addr.ip().to_string()).ok(),
        }
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        ClientAddr::new(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, Handed>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, Handed>) -> Self {
        ClientAddr::new(*stream.remote_addr())
    }
}

/// A worker's side of the acceptor: the connections handed to it.
pub struct Handed {
    connections: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for Handed {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.connections.recv().await {
                // Registers the socket with this worker's reactor: its I/O is driven here.
                Some((stream, addr)) => match TcpStream::from_std(stream) {
                    Ok(stream) => return (stream, addr),
                    Err(e) => tracing::warn!(error = %e, "could not adopt a connection"),
                },
                // The acceptor stopped: shutdown is under way and ends this worker's serving.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

struct Worker {
    connections: mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>,
    accepted: Counter,
    done: oneshot::Receiver<std::io::Result<()>>,
}

/// Serves `gateway` on `workers` threads until `shutdown` completes, then stops accepting and
/// lets every worker finish its in-flight requests. Accepts on the caller's runtime.
pub async fn serve_workers<U: Upstreams>(
    listener: TcpListener,
    gateway: Gateway<U>,
    workers: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let accepted = Family::<Vec<(String, String)>, Counter>::default();
    gateway.metrics().registry().register(
        "gateway_worker_connections",
        "Client connections handed to each worker thread",
        accepted.clone(),
    );
    let mut pool = Vec::with_capacity(workers);
    for number in 1..=workers.max(1) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = oneshot::channel();
        let handed = Handed {
            connections: rx,
            local,
        };
        let gateway = gateway.clone();
        let mut stopped = stopped.clone();
        std::thread::Builder::new()
            .name(format!("gateway-worker-{number}"))
            .spawn(move || {
                WORKER.with(|w| w.set(number));
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|runtime| {
                        runtime.block_on(async move {
                            let app = gateway
                                .router()
                                .into_make_service_with_connect_info::<ClientAddr>();
                            axum::serve(handed, app)
                                .with_graceful_shutdown(async move {
                                    let _ = stopped.wait_for(|stop| *stop).await;
                                })
                                .await
                        })
                    });
                let _ = done_tx.send(result);
            })?;
        pool.push(Worker {
            connections: tx,
            accepted: accepted
                .get_or_create(&vec![("worker".to_string(), number.to_string())])
                .clone(),
            done,
        });
    }

    accept(&listener, &pool, shutdown).await;
    let _ = stop.send(true);
    let mut result = Ok(());
    for worker in pool {
        drop(worker.connections);
        let outcome = worker
            .done
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("a gateway worker thread panicked")));
        if let Err(e) = outcome {
            tracing::error!(error = %e, "gateway worker failed");
            result = result.and(Err(e));
        }
    }
    result
}

/// Hands accepted connections round-robin to the workers until `shutdown` completes.
async fn accept(listener: &TcpListener, pool: &[Worker], shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut next = 0usize;
    loop {
        let (stream, addr) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Responses go out in one write, but an error body after its head must not wait for
        // the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let Ok(mut stream) = stream.into_std() else {
            continue;
        };
        // A worker whose thread ended refuses the connection; the next one takes it.
        let mut delivered = false;
        for _ in 0..pool.len() {
            let worker = &pool[next % pool.len()];
            next = next.wrapping_add(1);
            match worker.connections.send((stream, addr)) {
                Ok(()) => {
                    worker.accepted.inc();
                    delivered = true;
                    break;
                }
                Err(mpsc::error::SendError((back, _))) => stream = back,
            }
        }
        if !delivered {
            // Every worker is gone; their results say why.
            tracing::error!("no gateway worker is running; no longer accepting");
            return;
        }
    }
}
