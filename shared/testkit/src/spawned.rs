//! [`Spawned`]: a service running in-process for a test on OS-chosen ports, started through its
//! `run` and stopped cleanly; the grpc.health.v1 and reflection probes that tell when it serves
//! and what; and [`fails`], the check that a gRPC call failed with a given code.

use std::time::Duration;

use crate::eventually;

/// grpc.health.v1 `SERVING`.
pub const SERVING: i32 = 1;
/// grpc.health.v1 `NOT_SERVING`.
pub const NOT_SERVING: i32 = 2;

/// The grpc.health.v1 status of `service` ("" for the whole server) at `addr`, over plaintext,
/// or None when the server does not answer. For a service that may speak mesh TLS, use
/// [`Spawned::health_status`].
pub async fn health_status(addr: std::net::SocketAddr, service: &str) -> Option<i32> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    health_status_on(channel, service).await
}

/// The grpc.health.v1 status of `service` ("" for the whole server) over `channel`, or None
/// when the server does not answer.
pub async fn health_status_on(channel: tonic::transport::Channel, service: &str) -> Option<i32> {
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .ok()
        .map(|r| r.into_inner().status)
}

/// The services `addr` lists through gRPC reflection (v1), sorted, over plaintext. For a service
/// that may speak mesh TLS, use [`Spawned::reflected_services`].
pub async fn reflected_services(addr: std::net::SocketAddr) -> Vec<String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect for reflection");
    reflected_services_on(channel).await
}

/// The services the server behind `channel` lists through gRPC reflection (v1), sorted.
pub async fn reflected_services_on(channel: tonic::transport::Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .expect("reflection stream")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("reflection answer")
        .expect("one answer");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("reflection answered something else: {answer:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    names
}

/// Asserts that `service` reflects exactly `served` plus `grpc.health.v1.Health`, and that
/// grpc.health.v1 reports SERVING for every one of them (a served service without a health
/// status answers NOT_FOUND and fails here). Asked over [`Spawned::channel`], so with mesh TLS
/// too.
pub async fn assert_serving_exactly(service: &Spawned, served: &[&str]) {
    let mut expected: Vec<String> = served.iter().map(|s| s.to_string()).collect();
    expected.push("grpc.health.v1.Health".to_string());
    expected.sort();
    assert_eq!(
        service.reflected_services().await,
        expected,
        "reflection lists what is served"
    );
    for name in served {
        assert_eq!(
            service.health_status(name).await,
            Some(SERVING),
            "health status of {name}"
        );
    }
}

/// A service running in-process for a test: its addresses and a way to stop it.
pub struct Spawned {
    pub addr: std::net::SocketAddr,
    pub metrics: std::net::SocketAddr,
    /// The name it registers in Consul under (the name its Connect certificate carries).
    pub service: String,
    /// Whether its gRPC port speaks mesh TLS only (see [`Spawned::channel`]).
    pub tls: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Spawned {
    /// Binds OS-chosen ports from `mesh`, runs `run(listeners, shutdown)` on a task, and waits
    /// until the health service says SERVING.
    pub async fn start<F, Fut>(mesh: &talentmesh_mesh::MeshConfig, run: F) -> Spawned
    where
        F: FnOnce(
            talentmesh_mesh::server::Listeners,
            std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
        ) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let tls = mesh.mesh_tls == talentmesh_mesh::connect::MeshTls::Connect;
        if tls {
            // The test's own names are not in the dev intentions: any caller may call them.
            crate::allow_all_to(&mesh.service_name).await;
        }
        let listeners = talentmesh_mesh::server::Listeners::bind(mesh)
            .await
            .expect("bind");
        let addr = listeners.grpc.local_addr().unwrap();
        let metrics = listeners.metrics.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(
            listeners,
            Box::pin(async move {
                let _ = rx.await;
            }),
        ));
        let spawned = Spawned {
            addr,
            metrics,
            service: mesh.service_name.clone(),
            tls,
            shutdown: Some(tx),
            task: Some(task),
        };
        // With mesh TLS the port speaks TLS only: the agent's health check (TLS, no client
        // certificate) says when it serves.
        let service = mesh.service_name.clone();
        let serving = eventually(Duration::from_secs(30), || {
            let service = service.clone();
            async move {
                if tls {
                    crate::consul()
                        .passing_instances(&service, 0, Duration::from_secs(1))
                        .await
                        .is_ok_and(|r| r.value.iter().any(|i| i.port == addr.port()))
                } else {
                    health_status(addr, "").await == Some(SERVING)
                }
            }
        })
        .await;
        if !serving {
            // Say why when the service gave up (a failed start returns its error).
            let mut spawned = spawned;
            let ended = match spawned.task.take() {
                Some(task) if task.is_finished() => format!("{:?}", task.await),
                _ => "still running".to_string(),
            };
            panic!("service on {addr} did not become SERVING ({ended})");
        }
        spawned
    }

    /// Starts a service the way its binary does, through its `run(config, launch)`, on
    /// OS-chosen ports: `run` gets a [`Launch`](talentmesh_mesh::server::Launch) to adjust
    /// (`with_verifier`, `with_upstream`) before handing it to the service.
    pub async fn service<F, Fut>(mesh: &talentmesh_mesh::MeshConfig, run: F) -> Spawned
    where
        F: FnOnce(talentmesh_mesh::server::Launch) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Spawned::start(mesh, move |listeners, shutdown| {
            run(talentmesh_mesh::server::Launch::new(listeners, shutdown))
        })
        .await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A channel to this very instance as a test client would call it: plaintext, or with
    /// mesh TLS the Connect service `testkit-probe`'s leaf, accepting the server only if its
    /// certificate names [`Spawned::service`]. Every test service lets any Connect caller in
    /// (see [`crate::allow_all_to`]).
    pub async fn channel(&self) -> tonic::transport::Channel {
        let endpoint = tonic::transport::Endpoint::from_shared(self.url()).expect("endpoint");
        if !self.tls {
            return endpoint.connect_lazy();
        }
        let identity =
            talentmesh_mesh::connect::ConnectIdentity::start(crate::consul(), "testkit-probe");
        assert!(
            identity.wait_ready(Duration::from_secs(30)).await,
            "no Connect leaf certificate for the test's probe"
        );
        let config = identity
            .client_config(&self.service)
            .expect("client TLS config");
        talentmesh_mesh::connect::tls_channel(endpoint, config)
    }

    /// The grpc.health.v1 status of `service` ("" for the whole server), over
    /// [`Spawned::channel`], or None when the server does not answer.
    pub async fn health_status(&self, service: &str) -> Option<i32> {
        health_status_on(self.channel().await, service).await
    }

    /// The services this instance lists through gRPC reflection (v1), sorted, over
    /// [`Spawned::channel`].
    pub async fn reflected_services(&self) -> Vec<String> {
        reflected_services_on(self.channel().await).await
    }

    /// Asks the service to shut down and asserts it stops cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task).await;
            assert!(
                matches!(result, Ok(Ok(Ok(())))),
                "service did not stop cleanly: {result:?}"
            );
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts a gRPC call failed with `code` and returns its status (for checking details).
pub fn fails<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: tonic::Code,
) -> tonic::Status {
    match result {
        Ok(r) => panic!("expected {code:?}, got {:?}", r.into_inner()),
        Err(s) => {
            assert_eq!(s.code(), code, "{s:?}");
            s
        }
    }
}
