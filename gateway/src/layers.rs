//! The HTTP conventions wrapped around every answer, the gateway's own endpoints included:
//! gzip compression when the client accepts it, and CORS for the web origins configured in
//! `TALENTMESH_GATEWAY_CORS_ORIGINS` (none by default). Both come from tower-http.

use std::time::Duration;

use axum::Router;
use http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, RETRY_AFTER,
};
use http::{HeaderName, HeaderValue, Method};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::metadata::X_REQUEST_ID;

/// Headers a browser page may send besides the CORS-safelisted ones.
const REQUEST_HEADERS: [HeaderName; 8] = [
    AUTHORIZATION,
    CONTENT_TYPE,
    ACCEPT,
    IF_MATCH,
    IF_NONE_MATCH,
    X_REQUEST_ID,
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
];

/// Headers a browser page may read besides the CORS-safelisted ones.
const RESPONSE_HEADERS: [HeaderName; 4] = [
    ETAG,
    RETRY_AFTER,
    X_REQUEST_ID,
    HeaderName::from_static("allow"),
];

/// `router` with compression inside and CORS (when `origins` is not empty) outside it, so
/// preflights are answered before any route is looked up, and every answer — errors too —
/// carries the CORS headers a page needs to read it.
pub fn apply(router: Router, origins: &[String], max_age: Duration) -> Router {
    // gzip only: every client and proxy has it, and one codec keeps the dependency tree small.
    // The default predicate leaves small bodies (under 32 bytes), images and streams alone; it
    // adds `Vary: accept-encoding` so caches keep the two forms apart.
    let router = router.layer(CompressionLayer::new().gzip(true));
    match cors(origins, max_age) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// The CORS layer for `origins` (`*` or a list), `None` when it is empty.
pub fn cors(origins: &[String], max_age: Duration) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    // No credentials mode: the API is called with a bearer token in `Authorization`, never
    // with cookies, so pages never need `Access-Control-Allow-Credentials`.
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers(REQUEST_HEADERS)
            .expose_headers(RESPONSE_HEADERS)
            .max_age(max_age),
    )
}
