//! The HTTP server: the gateway's own endpoints (`/healthz`, `/readyz`, `/openapi.json`) and,
//! for every other path, the route table. The dynamic routes are not registered with axum's
//! router: they change at run time, so a single fallback consults the current table instead.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::header::{CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, StatusCode};
use tokio::net::TcpListener;

use crate::conn::{ConnBudget, Connections};
use crate::gateway::{Gateway, Shared};
use crate::status::APPLICATION_JSON;
use crate::upstream::Upstreams;

impl<U: Upstreams> Gateway<U> {
    /// The gateway as an axum router, for serving or embedding.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz::<U>))
            .route("/openapi.json", get(openapi::<U>))
            .fallback(crate::proxy::handle::<U>)
            .with_state(self.shared.clone());
        // gzip and CORS around every answer (see `layers`).
        let config = &self.shared.config;
        crate::layers::apply(router, &config.cors_origins, config.cors_max_age)
            // Outermost, so every answer has it, axum's own 405s included: browsers must not
            // guess a type other than the declared JSON.
            .layer(axum::middleware::map_response(nosniff))
            // Outside everything: the request's span and access log line see the final status
            // and the bytes actually sent, CORS preflights and the gateway's own endpoints too.
            .layer(crate::access_log::AccessLogLayer::new(self.shared.clone()))
    }
}

/// Serves `gateway` on `listener` until `shutdown` completes, then lets in-flight requests finish.
/// Connections are served on the caller's runtime with the same bounds as the workers'.
pub async fn serve<U: Upstreams>(
    listener: TcpListener,
    gateway: Gateway<U>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let budget = ConnBudget::new(gateway.config().max_connections);
    let refused = crate::workers::refused_counter(&gateway);
    let connections = Connections::new(
        gateway.router(),
        gateway.conn_limits(),
        gateway.automatic_bodies(),
        stopped,
    );
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = crate::conn::accept_next(&listener) => accepted,
        };
        match budget.try_open() {
            Some(permit) => {
                let _ = stream.set_nodelay(true);
                connections.spawn(stream, addr, permit);
            }
            None => {
                refused.inc();
            }
        }
    }
    let _ = stop.send(true);
    connections.drained().await;
    Ok(())
}

async fn nosniff(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    response
}

const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(serde_json::to_vec(value).unwrap_or_default()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON);
    response
}

/// The process is alive and serving HTTP.
async fn healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// Ready when routes are loaded (the first load from Consul is over, see [`crate::loading`])
/// and at least one of their upstreams has a channel. `loading` lists the services Consul has
/// whose routes are not loaded yet.
async fn readyz<U: Upstreams>(State(shared): State<Arc<Shared<U>>>) -> Response {
    let table = shared.routes.load_full();
    let loading = shared.loading.state();
    let known: Vec<&str> = table
        .upstream_names()
        .iter()
        .filter(|name| shared.upstreams.channel(name).is_some())
        .map(|name| name.as_ref())
        .collect();
    let routes = table.routes().len();
    let ready = routes > 0 && !known.is_empty() && !loading.starting;
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "routes": routes,
        "upstreams": known,
        "loading": loading.pending(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &body)
}

async fn openapi<U: Upstreams>(State(shared): State<Arc<Shared<U>>>) -> Response {
    let mut response = Response::new(Body::from(shared.routes.load().openapi_json()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON);
    response
}
