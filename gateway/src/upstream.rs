//! Where the gateway sends each call. The route table knows only a service name (the second
//! component of the proto package: `talentmesh.identity.v1` → `identity`, which is also the
//! service's Consul name); an [`Upstreams`] turns that name into a gRPC channel. The Consul-backed
//! discovery client implements the trait in production; [`StaticUpstreams`] is a fixed map for
//! tests, benchmarks and local runs.

use std::collections::HashMap;

use bytes::Bytes;
use tonic::client::GrpcService;
use tonic::transport::Channel;

/// The error type tonic accepts from transports and bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A source of gRPC channels by service name.
///
/// `Channel` is cloned for every call (so it should be cheap to clone, like
/// `tonic::transport::Channel` or a `tower::util::BoxCloneService`), is moved into the call's
/// future (so it must be `Send`, but need not be `Sync`), and must be ready to take requests
/// after `poll_ready`. Any `Clone + Send` tower service from `http::Request<tonic::body::Body>` to
/// `http::Response<tonic::body::Body>` with a `Send` future and an error convertible to
/// [`BoxError`] qualifies.
pub trait Upstreams: Send + Sync + 'static {
    type Channel: GrpcService<
            tonic::body::Body,
            ResponseBody: http_body::Body<Data = Bytes, Error: Into<BoxError> + Send>
                              + Send
                              + 'static,
            Future: Send,
        > + Clone
        + Send
        + 'static;

    /// A channel to one healthy instance set of `service`, or `None` when no instance is known.
    fn channel(&self, service: &str) -> Option<Self::Channel>;

    /// Whether the channel itself answers DEADLINE_EXCEEDED once a call's `grpc-timeout` has
    /// passed, however far the call got (connecting included). When it does not, the gateway
    /// keeps a timer of its own on every call.
    fn enforces_deadline(&self) -> bool {
        false
    }

    /// Records the `grpc_client_*` series of every call made through these upstreams in
    /// `metrics` (the gateway's own, handed over once when the gateway is built). Upstreams
    /// whose channels cannot count calls ignore it.
    fn record_into(&self, metrics: &std::sync::Arc<talentmesh_mesh::metrics::Metrics>) {
        let _ = metrics;
    }
}

/// A fixed map from service name to channel.
#[derive(Debug, Clone, Default)]
pub struct StaticUpstreams {
    channels: HashMap<String, Channel>,
}

impl StaticUpstreams {
    pub fn new() -> Self {
        StaticUpstreams::default()
    }

    /// Adds (or replaces) the channel of `service`.
    pub fn with(mut self, service: impl Into<String>, channel: Channel) -> Self {
        self.insert(service, channel);
        self
    }

    pub fn insert(&mut self, service: impl Into<String>, channel: Channel) {
        self.channels.insert(service.into(), channel);
    }
}

impl Upstreams for StaticUpstreams {
    type Channel = Channel;

    fn channel(&self, service: &str) -> Option<Channel> {
        self.channels.get(service).cloned()
    }
}

/// The upstream service name for a proto package: its second component
/// (`talentmesh.identity.v1` → `identity`), or the whole package when it has fewer components.
pub fn service_name_of(package: &str) -> &str {
    let mut parts = package.split('.');
    match (parts.next(), parts.next()) {
        (Some(_), Some(second)) if !second.is_empty() => second,
        _ => package,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn service_name_is_second_package_component() {
        assert_eq!(service_name_of("talentmesh.identity.v1"), "identity");
        assert_eq!(service_name_of("solo"), "solo");
    }

    /// The shape of the discovery channel: a boxed, cloneable, non-`Sync` tower service.
    struct Boxed;

    impl Upstreams for Boxed {
        type Channel = tower_boxed::Service;

        fn channel(&self, _: &str) -> Option<Self::Channel> {
            None
        }
    }

    mod tower_boxed {
        pub type Service = tower::util::BoxCloneService<
            http::Request<tonic::body::Body>,
            http::Response<tonic::body::Body>,
            super::BoxError,
        >;
    }

    fn assert_send<T: Send>(_: &T) {}

    #[tokio::test]
    async fn a_boxed_clone_service_is_an_upstream_channel() {
        assert!(Boxed.channel("x").is_none());
        // Everything the gateway does with a channel compiles for this shape, with Send futures
        // (axum and tokio::spawn need them).
        let gateway = crate::Gateway::new(crate::GatewayConfig::default(), Boxed).expect("gateway");
        let _router: axum::Router = gateway.router();
        let refresh = gateway.refresh_from_reflection("identity");
        assert_send(&refresh);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let serve = crate::serve(listener, gateway.clone(), async {});
        assert_send(&serve);
    }
}
