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

use http::HeaderValue;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::conn::{ConnBudget, ConnPermit, Connections};
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
    pub(crate) fn new(addr: SocketAddr) -> Self {
        ClientAddr {
            addr,
            ip: HeaderValue::from_str(&addr.ip().to_string()).ok(),
        }
    }
}

/// A connection handed to a worker: the socket, its peer, its share of the connection budget.
type Handed = (std::net::TcpStream, SocketAddr, ConnPermit);

struct Worker {
    connections: mpsc::UnboundedSender<Handed>,
    accepted: Counter,
    done: oneshot::Receiver<std::io::Result<()>>,
}

/// Serves `gateway` on `workers` threads until `shutdown` completes, then stops accepting and
/// lets every worker finish its in-flight requests. Accepts on the caller's runtime, at most
/// [`crate::GatewayConfig::max_connections`] connections open at once.
pub async fn serve_workers<U: Upstreams>(
    listener: TcpListener,
    gateway: Gateway<U>,
    workers: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let accepted = Family::<Vec<(String, String)>, Counter>::default();
    gateway.metrics().registry().register(
        "gateway_worker_connections",
        "Client connections handed to each worker thread",
        accepted.clone(),
    );
    let refused = refused_counter(&gateway);
    let budget = ConnBudget::new(gateway.config().max_connections);
    let mut pool = Vec::with_capacity(workers);
    for number in 1..=workers.max(1) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = oneshot::channel();
        let gateway = gateway.clone();
        let stopped = stopped.clone();
        std::thread::Builder::new()
            .name(format!("gateway-worker-{number}"))
            .spawn(move || {
                WORKER.with(|w| w.set(number));
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| runtime.block_on(work(rx, gateway, stopped)));
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

    accept(&listener, &pool, &budget, &refused, shutdown).await;
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

/// The counter of connections closed at once because the budget was spent.
pub(crate) fn refused_counter<U: Upstreams>(gateway: &Gateway<U>) -> Counter {
    let refused = Counter::default();
    gateway.metrics().registry().register(
        "gateway_connections_refused",
        "Client connections closed on accept because TALENTMESH_GATEWAY_MAX_CONNECTIONS were open",
        refused.clone(),
    );
    refused
}

/// One worker: serves the connections handed to it on its own runtime until `stopped`, then
/// waits for them to finish.
async fn work<U: Upstreams>(
    mut handed: mpsc::UnboundedReceiver<Handed>,
    gateway: Gateway<U>,
    mut stopped: watch::Receiver<bool>,
) {
    let connections = Connections::new(
        gateway.router(),
        gateway.conn_limits(),
        gateway.automatic_bodies(),
        stopped.clone(),
    );
    loop {
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => break,
            next = handed.recv() => match next {
                // Registers the socket with this worker's reactor: its I/O is driven here.
                Some((stream, addr, permit)) => match TcpStream::from_std(stream) {
                    Ok(stream) => connections.spawn(stream, addr, permit),
                    Err(e) => tracing::warn!(error = %e, "could not adopt a connection"),
                },
                // The acceptor stopped: shutdown is under way.
                None => break,
            },
        }
    }
    connections.drained().await;
}

/// Hands accepted connections round-robin to the workers until `shutdown` completes.
async fn accept(
    listener: &TcpListener,
    pool: &[Worker],
    budget: &ConnBudget,
    refused: &Counter,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut next = 0usize;
    loop {
        let (stream, addr) = tokio::select! {
            () = &mut shutdown => return,
            accepted = crate::conn::accept_next(listener) => accepted,
        };
        // Past the budget the connection is closed at once (dropped), rather than left in the
        // backlog where it would hold the client without an answer.
        let Some(mut permit) = budget.try_open() else {
            refused.inc();
            tracing::debug!(client = %addr, "connection limit reached; closing");
            continue;
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
            match worker.connections.send((stream, addr, permit)) {
                Ok(()) => {
                    worker.accepted.inc();
                    delivered = true;
                    break;
                }
                Err(mpsc::error::SendError((back, _, p))) => {
                    stream = back;
                    permit = p;
                }
            }
        }
        if !delivered {
            // Every worker is gone; their results say why.
            tracing::error!("no gateway worker is running; no longer accepting");
            return;
        }
    }
}
