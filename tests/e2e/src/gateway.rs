//! The harness's gateway in Consul, registered as the gateway binary registers itself.

use talentmesh_testkit::consul_vars;

/// The Consul name the harness's gateway registers under in the test with id `id`.
pub fn gateway_consul_name(id: &str) -> String {
    format!("gateway-e2e-{id}")
}

/// Registers the harness's gateway in Consul as the binary does
/// (`talentmesh_gateway::consul::register`), under [`gateway_consul_name`], with a metrics port
/// of its own serving `/metrics` and plaintext grpc.health.v1 (SERVING), so Prometheus finds it
/// like every instance. The metrics server ends with the test's runtime; Consul drops the
/// registration a minute after its check fails, if the gateway did not leave first.
pub(crate) async fn register_gateway(
    id: &str,
    http_port: u16,
    metrics: std::sync::Arc<talentmesh_mesh::metrics::Metrics>,
) -> Option<talentmesh_mesh::consul::ConsulPresence> {
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_port = metrics_listener.local_addr().unwrap().port();
    let health = tonic_health::server::HealthReporter::new();
    tokio::spawn(talentmesh_mesh::metrics::serve_metrics_with_health(
        metrics_listener,
        metrics,
        Some(health),
        std::future::pending(),
    ));
    let name = gateway_consul_name(id);
    let mut env = talentmesh_mesh::config::Env::from_map(consul_vars());
    let mesh = talentmesh_mesh::MeshConfig::load(&mut env, &name, 0);
    talentmesh_gateway::consul::register(&mesh, http_port, metrics_port).expect("consul client")
}
