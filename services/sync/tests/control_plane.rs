//! The control plane against stand-in instances of a sync service: real gRPC servers registered
//! in the local Consul with the `sync-admin` tag, serving `SyncAdminService` with answers the
//! test chooses (the shared framework is not what is under test here — the fan-out, the merge,
//! the forwarding and the error relay are). Tokens are signed with a key of the test's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::DecodingKey;
use talentmesh_kit::{Launch, ServiceKit, SYNC_ADMIN_TAG};
use talentmesh_mesh::auth::{Claims, KeyLookup, KeySource, Verifier};
use talentmesh_mesh::config::{Env, MeshConfig};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_mesh::{caller, ApiError, FieldViolation};
use talentmesh_proto::sync::v1 as pb;
use talentmesh_proto::sync::v1::sync_admin_service_server::{
    SyncAdminService, SyncAdminServiceServer,
};
use talentmesh_proto::sync::v1::sync_service_client::SyncServiceClient;
use talentmesh_testkit::{consul, consul_vars, eventually, sign_ed, Spawned};
use tonic::{Code, Request, Response, Status};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// One signing key for the test; the verifier knows only it.
struct Keys {
    der: Vec<u8>,
    decoding: Arc<DecodingKey>,
}

impl Keys {
    fn new() -> Arc<Keys> {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        Arc::new(Keys {
            der: key.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            decoding: Arc::new(DecodingKey::from_ed_components(&x).unwrap()),
        })
    }

    fn verifier(self: &Arc<Self>) -> Arc<Verifier> {
        Arc::new(Verifier::new(
            self.clone(),
            "talentmesh-identity",
            "talentmesh",
        ))
    }

    fn token(&self, roles: &[&str]) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims = Claims {
            sub: "u1".into(),
            iss: "talentmesh-identity".into(),
            aud: "talentmesh".into(),
            exp: now + 300,
            nbf: now - 5,
            iat: now,
            jti: uuid(),
            email: "ops@example.com".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        };
        sign_ed("test-key", &self.der, &claims)
    }
}

impl KeySource for Keys {
    fn key(&self, kid: &str) -> KeyLookup<'_> {
        let key = (kid == "test-key").then(|| self.decoding.clone());
        Box::pin(async move { Ok(key) })
    }
}

fn uuid() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A stand-in instance. It runs its own admin check, as the real framework does, so a call
/// that arrives without the caller's token fails.
struct Stub {
    label: String,
    delay: Duration,
    /// `traceparent` of every status request, to see that the trace continued.
    traces: Arc<Mutex<Vec<String>>>,
}

fn must_be_admin<T>(req: &Request<T>) -> Result<(), Status> {
    if caller(req)?.is_admin() {
        Ok(())
    } else {
        Err(ApiError::permission_denied("admins only").into())
    }
}

#[tonic::async_trait]
impl SyncAdminService for Stub {
    async fn get_sync_status(
        &self,
        request: Request<pb::GetSyncStatusRequest>,
    ) -> Result<Response<pb::GetSyncStatusResponse>, Status> {
        must_be_admin(&request)?;
        if let Some(tp) = request.metadata().get("traceparent") {
            self.traces
                .lock()
                .unwrap()
                .push(tp.to_str().unwrap().to_string());
        }
        tokio::time::sleep(self.delay).await;
        Ok(Response::new(pb::GetSyncStatusResponse {
            status: Some(pb::SyncStatus {
                service: "stub".into(),
                instance: self.label.clone(),
                outbox: Some(pb::OutboxStatus {
                    unpublished: 2,
                    ..Default::default()
                }),
                dead_letters: 3,
                counters: Some(pb::SyncCounters {
                    delivered: 5,
                    dead_lettered: 1,
                    ..Default::default()
                }),
                stores: vec![
                    pb::StoreHealth {
                        store: pb::Store::Mysql as i32,
                        state: "up".into(),
                        error: String::new(),
                    },
                    pb::StoreHealth {
                        store: pb::Store::Neo4j as i32,
                        state: "not_used".into(),
                        error: String::new(),
                    },
                ],
                ..Default::default()
            }),
        }))
    }

    async fn start_operation(
        &self,
        request: Request<pb::StartOperationRequest>,
    ) -> Result<Response<pb::StartOperationResponse>, Status> {
        must_be_admin(&request)?;
        Ok(Response::new(pb::StartOperationResponse {
            operation: Some(pb::Operation {
                name: "operations/op-1".into(),
                kind: request.get_ref().kind,
                state: pb::OperationState::Running as i32,
                ..Default::default()
            }),
        }))
    }

    async fn get_operation(
        &self,
        request: Request<pb::GetOperationRequest>,
    ) -> Result<Response<pb::GetOperationResponse>, Status> {
        must_be_admin(&request)?;
        if request.get_ref().name != "operations/op-1" {
            return Err(ApiError::not_found("no such operation").into());
        }
        Ok(Response::new(pb::GetOperationResponse {
            operation: Some(pb::Operation {
                name: "operations/op-1".into(),
                kind: pb::OperationKind::Check as i32,
                state: pb::OperationState::Succeeded as i32,
                ..Default::default()
            }),
        }))
    }

    /// Two operations, newest first; the paging fields come back in the next page token so a
    /// test sees what was forwarded.
    async fn list_operations(
        &self,
        request: Request<pb::ListOperationsRequest>,
    ) -> Result<Response<pb::ListOperationsResponse>, Status> {
        must_be_admin(&request)?;
        let r = request.into_inner();
        let op = |id: &str, state: pb::OperationState| pb::Operation {
            name: format!("operations/{id}"),
            kind: pb::OperationKind::Repair as i32,
            state: state as i32,
            done: state != pb::OperationState::Running,
            ..Default::default()
        };
        Ok(Response::new(pb::ListOperationsResponse {
            operations: vec![
                op("op-2", pb::OperationState::Running),
                op("op-1", pb::OperationState::Cancelled),
            ],
            next_page_token: format!("{}|{}|{}", r.page_size, r.page_token, r.filter),
        }))
    }

    /// `op-1` runs (cancellable), `op-done` succeeded already, any other is unknown.
    async fn cancel_operation(
        &self,
        request: Request<pb::CancelOperationRequest>,
    ) -> Result<Response<pb::CancelOperationResponse>, Status> {
        must_be_admin(&request)?;
        match request.get_ref().name.as_str() {
            "operations/op-1" => Ok(Response::new(pb::CancelOperationResponse {
                operation: Some(pb::Operation {
                    name: "operations/op-1".into(),
                    state: pb::OperationState::Running as i32,
                    ..Default::default()
                }),
            })),
            "operations/op-done" => Err(ApiError::new(
                talentmesh_mesh::ErrorCode::FailedPrecondition,
                "operations/op-done is done",
            )
            .with_precondition("STATE", "operations/op-done", "is SUCCEEDED, not RUNNING")
            .into()),
            _ => Err(ApiError::not_found("no such operation").into()),
        }
    }

    async fn list_dead_letters(
        &self,
        request: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        must_be_admin(&request)?;
        Ok(Response::new(pb::ListDeadLettersResponse {
            dead_letters: vec![pb::DeadLetter {
                id: "dl-1".into(),
                ..Default::default()
            }],
            next_page_token: String::new(),
        }))
    }

    async fn replay_dead_letters(
        &self,
        request: Request<pb::ReplayDeadLettersRequest>,
    ) -> Result<Response<pb::ReplayDeadLettersResponse>, Status> {
        must_be_admin(&request)?;
        Err(ApiError::invalid(vec![FieldViolation::new("ids", "unknown dead letter x")]).into())
    }

    async fn discard_dead_letters(
        &self,
        request: Request<pb::DiscardDeadLettersRequest>,
    ) -> Result<Response<pb::DiscardDeadLettersResponse>, Status> {
        must_be_admin(&request)?;
        Ok(Response::new(pb::DiscardDeadLettersResponse {
            discarded: request.get_ref().ids.len() as i64,
        }))
    }
}

fn mesh_config(name: &str) -> Env {
    Env::from_map(
        [
            ("TALENTMESH_GRPC_ADDR", "127.0.0.1:0".to_string()),
            ("TALENTMESH_METRICS_ADDR", "127.0.0.1:0".to_string()),
            ("TALENTMESH_SERVICE_NAME", name.to_string()),
            ("TALENTMESH_SHUTDOWN_GRACE", "1s".to_string()),
            ("TALENTMESH_LOG_FORMAT", "pretty".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .into_iter()
        .chain(consul_vars()),
    )
}

/// Starts one stand-in instance of `service`, registered with the `sync-admin` tag.
async fn start_stub(
    keys: &Arc<Keys>,
    service: &str,
    delay: Duration,
) -> (Spawned, Arc<Mutex<Vec<String>>>) {
    let mut env = mesh_config(service);
    let mesh = MeshConfig::load(&mut env, service, 0);
    env.finish().unwrap();
    let traces = Arc::new(Mutex::new(Vec::new()));
    let stub = Stub {
        label: mesh.instance_id.clone(),
        delay,
        traces: traces.clone(),
    };
    let verifier = keys.verifier();
    let config = mesh.clone();
    let spawned = Spawned::start(&mesh, move |listeners, shutdown| {
        let mut kit = ServiceKit::new(
            "stub",
            &config,
            Launch::new(listeners, shutdown).with_verifier(verifier),
        );
        kit.tag(SYNC_ADMIN_TAG)
            .serve(SyncAdminServiceServer::new(stub));
        kit.run()
    })
    .await;
    (spawned, traces)
}

async fn wait_passing(service: &str, n: usize) {
    let consul = consul();
    let passing = eventually(Duration::from_secs(20), || {
        let consul = consul.clone();
        async move {
            consul
                .passing_instances(service, 0, Duration::from_secs(1))
                .await
                .map(|r| r.value.len() == n)
                .unwrap_or(false)
        }
    })
    .await;
    assert!(passing, "{service} never had {n} passing instances");
}

/// The control plane, with a short per-call deadline so a slow instance shows quickly.
async fn start_sync(keys: &Arc<Keys>) -> (Spawned, SyncServiceClient<tonic::transport::Channel>) {
    talentmesh_mesh::telemetry::init_for_tests();
    let env = mesh_config(&format!("sync-test-{}", &uuid()[..12]))
        .with("TALENTMESH_SYNC_CALL_DEADLINE", "700ms");
    let config = talentmesh_sync::Config::load(env).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let spawned = Spawned::start(&mesh, move |listeners, shutdown| {
        talentmesh_sync::run(
            config,
            Launch::new(listeners, shutdown).with_verifier(verifier),
        )
    })
    .await;
    let client = SyncServiceClient::new(spawned.channel().await);
    (spawned, client)
}

/// One stand-in instance of a service of the test's own, passing in Consul, and the control
/// plane over it, with an admin's token.
struct OneInstance {
    /// What the test's tokens are signed with.
    keys: Arc<Keys>,
    client: SyncServiceClient<tonic::transport::Channel>,
    /// An admin's bearer token.
    token: String,
    /// `services/{service}`.
    parent: String,
    /// The instance and the control plane, stopped when dropped.
    _running: (Spawned, Spawned),
}

async fn one_instance_and_the_control_plane() -> OneInstance {
    let keys = Keys::new();
    let service = service_name();
    let (instance, _) = start_stub(&keys, &service, Duration::ZERO).await;
    wait_passing(&service, 1).await;
    let (sync, client) = start_sync(&keys).await;
    OneInstance {
        client,
        token: keys.token(&["admin"]),
        keys,
        parent: format!("services/{service}"),
        _running: (instance, sync),
    }
}

fn authed<M>(message: M, token: &str) -> Request<M> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    request
}

fn service_name() -> String {
    format!("syncstub-{}", &uuid()[..12])
}

#[tokio::test]
async fn every_instance_is_asked_with_the_callers_token_and_trace_and_the_answers_merged() {
    let keys = Keys::new();
    let service = service_name();
    let (_a, traces_a) = start_stub(&keys, &service, Duration::ZERO).await;
    let (_b, traces_b) = start_stub(&keys, &service, Duration::ZERO).await;
    wait_passing(&service, 2).await;
    let (_sync, mut client) = start_sync(&keys).await;
    let token = keys.token(&["admin"]);

    let merged = client
        .get_service_sync(authed(
            pb::GetServiceSyncRequest {
                name: format!("services/{service}"),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .service
        .unwrap();
    assert_eq!(merged.name, format!("services/{service}"));
    assert_eq!(merged.instances.len(), 2);
    for instance in &merged.instances {
        // A missing token would have made the stub answer UNAUTHENTICATED.
        assert_eq!(instance.error, "", "{instance:?}");
        assert!(instance.status.is_some());
    }
    // The instances share one dead-letter stream and outbox: the figure is not doubled.
    assert_eq!(merged.dead_letters, 3);
    assert_eq!(merged.unpublished, 2);
    let counters = merged.counters.unwrap();
    assert_eq!(counters.delivered, 10);
    assert_eq!(counters.dead_lettered, 2);
    assert!(!merged.healthy, "dead letters make the service unhealthy");

    for traces in [traces_a, traces_b] {
        let traces = traces.lock().unwrap();
        assert!(
            traces.iter().any(|t| t.contains(TRACE_ID)),
            "the caller's trace did not reach the instance: {traces:?}"
        );
    }

    let overview = client
        .get_overview(authed(pb::GetOverviewRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let listed = overview
        .services
        .iter()
        .find(|s| s.name == format!("services/{service}"))
        .expect("the stub service is in the overview");
    assert_eq!(listed.instances.len(), 2);
    assert!(!overview.healthy);
}

#[tokio::test]
async fn a_slow_instance_is_reported_with_its_error_and_fails_health() {
    let keys = Keys::new();
    let service = service_name();
    let (_fast, _) = start_stub(&keys, &service, Duration::ZERO).await;
    let (_slow, _) = start_stub(&keys, &service, Duration::from_secs(3)).await;
    wait_passing(&service, 2).await;
    let (_sync, mut client) = start_sync(&keys).await;
    let token = keys.token(&["admin"]);

    let started = std::time::Instant::now();
    let merged = client
        .get_service_sync(authed(
            pb::GetServiceSyncRequest {
                name: format!("services/{service}"),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .service
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the per-call deadline did not cut the slow instance off"
    );
    let errors: Vec<&str> = merged.instances.iter().map(|i| i.error.as_str()).collect();
    assert_eq!(
        errors.iter().filter(|e| e.is_empty()).count(),
        1,
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("DeadlineExceeded")),
        "{errors:?}"
    );
    assert!(!merged.healthy);
    // Figures come from the instance that answered.
    assert_eq!(merged.counters.unwrap().delivered, 5);

    let health = client
        .get_store_health(authed(pb::GetStoreHealthRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let ours: Vec<&pb::InstanceStoreHealth> = health
        .instances
        .iter()
        .filter(|i| i.service == service)
        .collect();
    assert_eq!(ours.len(), 2);
    assert_eq!(ours.iter().filter(|i| !i.error.is_empty()).count(), 1);
    assert!(ours.iter().any(|i| i.stores.len() == 2));
    assert!(!health.healthy);
}

#[tokio::test]
async fn operations_and_dead_letters_are_forwarded_and_instance_errors_relayed() {
    let OneInstance {
        mut client,
        token,
        parent,
        _running,
        ..
    } = one_instance_and_the_control_plane().await;

    let op = client
        .start_sync_operation(authed(
            pb::StartSyncOperationRequest {
                parent: parent.clone(),
                kind: pb::OperationKind::Check as i32,
                projections: vec![],
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .operation
        .unwrap();
    assert_eq!(op.name, format!("{parent}/operations/op-1"));
    assert_eq!(op.kind, pb::OperationKind::Check as i32);

    let got = client
        .get_sync_operation(authed(
            pb::GetSyncOperationRequest { name: op.name },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .operation
        .unwrap();
    assert_eq!(got.name, format!("{parent}/operations/op-1"));
    assert_eq!(got.state, pb::OperationState::Succeeded as i32);

    let missing = client
        .get_sync_operation(authed(
            pb::GetSyncOperationRequest {
                name: format!("{parent}/operations/op-2"),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let listed = client
        .list_service_dead_letters(authed(
            pb::ListServiceDeadLettersRequest {
                parent: parent.clone(),
                page_size: 0,
                page_token: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.dead_letters[0].id, "dl-1");

    let refused = client
        .replay_service_dead_letters(authed(
            pb::ReplayServiceDeadLettersRequest {
                parent: parent.clone(),
                ids: vec!["x".into()],
                all: false,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        field_violations_of(&refused),
        vec![FieldViolation::new("ids", "unknown dead letter x")]
    );

    let discarded = client
        .discard_service_dead_letters(authed(
            pb::DiscardServiceDeadLettersRequest {
                parent,
                ids: vec!["a".into(), "b".into()],
                all: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(discarded.discarded, 2);
}

#[tokio::test]
async fn operations_are_listed_and_cancelled_through_an_instance_with_its_errors_relayed() {
    use talentmesh_proto::prost::Message;

    let OneInstance {
        keys,
        mut client,
        token,
        parent,
        _running,
    } = one_instance_and_the_control_plane().await;

    let listed = client
        .list_sync_operations(authed(
            pb::ListSyncOperationsRequest {
                parent: parent.clone(),
                page_size: 2,
                page_token: "tok".into(),
                filter: "state = RUNNING".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = listed.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            format!("{parent}/operations/op-2"),
            format!("{parent}/operations/op-1")
        ]
    );
    assert_eq!(listed.next_page_token, "2|tok|state = RUNNING");

    let cancelled = client
        .cancel_sync_operation(authed(
            pb::CancelSyncOperationRequest {
                name: format!("{parent}/operations/op-1"),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .operation
        .unwrap();
    assert_eq!(cancelled.name, format!("{parent}/operations/op-1"));

    let done = client
        .cancel_sync_operation(authed(
            pb::CancelSyncOperationRequest {
                name: format!("{parent}/operations/op-done"),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(done.code(), Code::FailedPrecondition, "{done:?}");
    let violations: Vec<_> = talentmesh_mesh::error::rpc_status_of(&done)
        .details
        .iter()
        .filter(|d| d.type_url.ends_with("/google.rpc.PreconditionFailure"))
        .filter_map(|d| {
            talentmesh_proto::google::rpc::PreconditionFailure::decode(d.value.as_slice()).ok()
        })
        .flat_map(|p| p.violations)
        .collect();
    assert_eq!(violations.len(), 1, "{done:?}");
    assert_eq!(violations[0].r#type, "STATE");

    let unknown = client
        .cancel_sync_operation(authed(
            pb::CancelSyncOperationRequest {
                name: format!("{parent}/operations/op-9"),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let bad = client
        .cancel_sync_operation(authed(
            pb::CancelSyncOperationRequest {
                name: format!("{parent}/op-1"),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    let not_admin = client
        .list_sync_operations(authed(
            pb::ListSyncOperationsRequest {
                parent: parent.clone(),
                ..Default::default()
            },
            &keys.token(&["member"]),
        ))
        .await
        .unwrap_err();
    assert_eq!(not_admin.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn non_admins_bad_names_bad_kinds_and_unknown_services_are_refused() {
    let keys = Keys::new();
    let (_sync, mut client) = start_sync(&keys).await;
    let admin = keys.token(&["admin"]);
    let candidate = keys.token(&["candidate"]);

    let denied = client
        .get_overview(authed(pb::GetOverviewRequest {}, &candidate))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let anonymous = client
        .get_overview(Request::new(pb::GetOverviewRequest {}))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let bad_name = client
        .get_service_sync(authed(
            pb::GetServiceSyncRequest {
                name: "identity".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_name.code(), Code::InvalidArgument);
    assert_eq!(field_violations_of(&bad_name)[0].field, "name");

    let unknown = client
        .get_service_sync(authed(
            pb::GetServiceSyncRequest {
                name: format!("services/{}", service_name()),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let bad_both = client
        .start_sync_operation(authed(
            pb::StartSyncOperationRequest {
                parent: "nope".into(),
                kind: 0,
                projections: vec![],
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_both.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations_of(&bad_both)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, vec!["parent".to_string(), "kind".to_string()]);
}

/// Issue 16: while every instance of a registered sync service is critical in Consul (its
/// database restarting), the service is UNAVAILABLE with a `RetryInfo`, not NOT_FOUND, so the
/// CLI retries instead of saying the service does not exist.
#[tokio::test]
async fn a_registered_service_without_a_passing_instance_is_unavailable_not_unknown() {
    use talentmesh_mesh::consul::Registration;
    use talentmesh_mesh::error::rpc_status_of;
    use talentmesh_proto::google::rpc;
    use talentmesh_proto::prost::Message;

    let keys = Keys::new();
    let admin = keys.token(&["admin"]);
    let (_sync, mut client) = start_sync(&keys).await;

    // An instance whose gRPC health check can never pass: nothing listens on its port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let service = service_name();
    let id = format!("{service}-1");
    let consul = consul();
    consul
        .register(&Registration {
            name: service.clone(),
            id: id.clone(),
            address: "127.0.0.1".into(),
            port,
            tags: vec![SYNC_ADMIN_TAG.to_string()],
            meta: Default::default(),
            check_interval: Duration::from_secs(1),
            deregister_critical_after: Duration::from_secs(120),
            connect_native: false,
        })
        .await
        .unwrap();
    let critical =
        eventually(Duration::from_secs(20), || {
            let (consul, id) = (consul.clone(), id.clone());
            async move {
                consul.instance_status(&id).await.ok().flatten().as_deref() == Some("critical")
            }
        })
        .await;

    let list = |parent: String| pb::ListSyncOperationsRequest {
        parent,
        page_size: 10,
        page_token: String::new(),
        filter: String::new(),
    };
    let down = client
        .list_sync_operations(authed(list(format!("services/{service}")), &admin))
        .await;
    let unknown = client
        .list_sync_operations(authed(list(format!("services/{}", service_name())), &admin))
        .await;
    consul.deregister(&id).await.unwrap();

    assert!(critical, "the stand-in instance never became critical");
    let down = down.unwrap_err();
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    let delay = rpc_status_of(&down)
        .details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.RetryInfo"))
        .map(|d| rpc::RetryInfo::decode(d.value.as_slice()).unwrap())
        .and_then(|r| r.retry_delay)
        .expect("a RetryInfo with a delay");
    assert!(delay.seconds > 0, "{delay:?}");
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn the_control_plane_reports_health_and_reflection_for_exactly_what_it_serves() {
    let keys = Keys::new();
    let (sync, _client) = start_sync(&keys).await;
    talentmesh_testkit::assert_serving_exactly(&sync, &["talentmesh.sync.v1.SyncService"]).await;
    sync.stop().await;
}
