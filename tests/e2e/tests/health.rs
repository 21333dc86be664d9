//! Every service of the mesh, started by the service kit: each service its port reflects
//! answers SERVING on grpc.health.v1 (a served service without a health status fails here),
//! and no port reflects another service's contracts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use talentmesh_e2e::Mesh;
use talentmesh_testkit::SERVING;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reflected_service_of_every_service_is_serving() {
    let mesh = Mesh::start_all().await;
    let services = mesh.services();
    assert_eq!(
        services.len(),
        6,
        "identity, company, job, resume, matching and sync"
    );
    for (name, spawned) in services {
        let reflected = spawned.reflected_services().await;
        assert!(
            reflected.iter().any(|s| s == "grpc.health.v1.Health"),
            "{name} reflects {reflected:?}"
        );
        let own = format!("talentmesh.{name}.v1.");
        assert!(
            reflected.iter().any(|s| s.starts_with(&own)),
            "{name} reflects none of its own services: {reflected:?}"
        );
        for service in reflected.iter().filter(|s| s.starts_with("talentmesh.")) {
            assert!(
                service.starts_with(&own) || service == "talentmesh.sync.v1.SyncAdminService",
                "{name} reflects another service's contract {service}"
            );
            assert_eq!(
                spawned.health_status(service).await,
                Some(SERVING),
                "{name}: health status of {service}"
            );
        }
    }
    mesh.stop().await;
}
