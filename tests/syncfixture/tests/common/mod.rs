//! A fixture service on the real servers, with clients and the checks every test needs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use talentmesh_proto::sync::v1::sync_admin_service_client::SyncAdminServiceClient;
use talentmesh_proto::sync::v1::{
    GetOperationRequest, GetSyncStatusRequest, Operation, OperationKind, OperationState,
    StartOperationRequest, SyncStatus,
};
use talentmesh_syncfixture::pb::note_service_client::NoteServiceClient;
use talentmesh_syncfixture::pb::{CreateNoteRequest, Note};
use talentmesh_syncfixture::{App, AppOptions};
use talentmesh_testkit::{Spawned, TestEnv, TestKeys};
use tonic::transport::Channel;

pub struct Harness {
    pub env: Arc<TestEnv>,
    pub app: App,
    pub server: Spawned,
    pub keys: Arc<TestKeys>,
    pub notes: NoteServiceClient<Channel>,
    pub admin: SyncAdminServiceClient<Channel>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(AppOptions::default()).await
    }

    pub async fn start_with(options: AppOptions) -> Harness {
        let env = Arc::new(TestEnv::new("syncfix"));
        Harness::start_in(env, options).await
    }

    /// Starts (another) instance of the fixture in `env`: same stores, its own instance id.
    pub async fn start_in(env: Arc<TestEnv>, options: AppOptions) -> Harness {
        let mut vars = env.env();
        let mesh = talentmesh_mesh::MeshConfig::load(&mut vars, "syncfixture", 0);
        let storage = talentmesh_syncfixture::app::storage_config(&mut vars);
        let app = App::start(&mesh, &storage, options)
            .await
            .expect("start fixture");
        let keys = TestKeys::new();
        let verifier = keys.verifier();
        let server_mesh = mesh.clone();
        let server = {
            let make = app.server_factory();
            Spawned::start(&mesh, move |listeners, shutdown| {
                make(server_mesh, listeners, verifier, shutdown)
            })
            .await
        };
        let channel = Channel::from_shared(server.url())
            .unwrap()
            .connect()
            .await
            .unwrap();
        Harness {
            env,
            app,
            server,
            keys,
            notes: NoteServiceClient::new(channel.clone()),
            admin: SyncAdminServiceClient::new(channel),
        }
    }

    pub fn admin_request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        let token = self.keys.token("ops", &["admin"]);
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        req
    }

    /// Creates `n` notes through the RPC, `concurrency` at a time; returns the acknowledged ones.
    pub async fn create_notes(&self, prefix: &str, n: usize, concurrency: usize) -> Vec<Note> {
        create_notes(self.notes.clone(), prefix, n, concurrency).await
    }

    pub async fn status(&self) -> SyncStatus {
        let mut admin = self.admin.clone();
        admin
            .get_sync_status(self.admin_request(GetSyncStatusRequest {}))
            .await
            .expect("status")
            .into_inner()
            .status
            .expect("status body")
    }

    /// Waits until the outbox is empty and every group has nothing pending or undelivered.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            let s = self.status().await;
            let outbox_empty = s.outbox.as_ref().is_some_and(|o| o.unpublished == 0);
            let groups: Vec<_> = s.streams.iter().flat_map(|st| st.groups.iter()).collect();
            let caught_up =
                groups.len() >= 3 && groups.iter().all(|g| g.pending == 0 && g.lag_entries == 0);
            if outbox_empty && caught_up {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// Starts an operation through the admin contract; answers it as started.
    pub async fn start_operation(&self, kind: OperationKind) -> Operation {
        self.admin
            .clone()
            .start_operation(self.admin_request(StartOperationRequest {
                kind: kind as i32,
                projections: vec![],
            }))
            .await
            .expect("start operation")
            .into_inner()
            .operation
            .expect("operation")
    }

    /// Runs an operation through the admin contract and waits for its end.
    pub async fn operation(&self, kind: OperationKind) -> Operation {
        let mut admin = self.admin.clone();
        let started = self.start_operation(kind).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let op = admin
                .get_operation(self.admin_request(GetOperationRequest {
                    name: started.name.clone(),
                }))
                .await
                .expect("get operation")
                .into_inner()
                .operation
                .expect("operation");
            if op.state != OperationState::Running as i32 {
                return op;
            }
            assert!(
                Instant::now() < deadline,
                "operation did not finish: {op:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A check of every projection; panics unless it succeeded.
    pub async fn drift(&self) -> (i64, Operation) {
        let op = self.operation(OperationKind::Check).await;
        assert_eq!(
            op.state,
            OperationState::Succeeded as i32,
            "check failed: {op:?}"
        );
        (talentmesh_storage::sync::drift_total(&op), op)
    }

    pub async fn mysql_count(&self, sql: &str) -> i64 {
        talentmesh_testkit::scalar_i64(self.app.stores.mysql().unwrap(), sql).await
    }

    pub async fn pg_count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.app.stores.postgres().unwrap())
            .await
            .expect(sql)
    }

    pub async fn neo4j_count(&self, cypher: &str) -> i64 {
        let graph = self.app.stores.neo4j().unwrap();
        let mut rows = graph
            .execute(neo4rs::query(cypher).param("ns", self.env.neo4j_namespace.clone()))
            .await
            .expect(cypher);
        let row = rows.next().await.expect(cypher).expect("one row");
        row.get::<i64>("n").expect("column n")
    }

    /// Live (not tombstoned) note hashes in Redis.
    pub async fn redis_live_notes(&self) -> usize {
        let keys = self.env.redis_keys("note:*").await;
        let mut conn = self.env.redis().await;
        let mut live = 0;
        for k in keys {
            let d: Option<String> = redis::cmd("HGET")
                .arg(&k)
                .arg("_d")
                .query_async(&mut conn)
                .await
                .unwrap();
            if d.as_deref() == Some("0") {
                live += 1;
            }
        }
        live
    }
}

pub async fn create_notes(
    client: NoteServiceClient<Channel>,
    prefix: &str,
    n: usize,
    concurrency: usize,
) -> Vec<Note> {
    use futures::StreamExt;
    futures::stream::iter(0..n)
        .map(|i| {
            let mut c = client.clone();
            let title = format!("{prefix} {i}");
            async move {
                // A store restarting may refuse a few writes; the caller retries like a client
                // would. Only acknowledged writes are returned.
                for _ in 0..50 {
                    let req = CreateNoteRequest {
                        title: title.clone(),
                        body: format!("body of {title}"),
                        tags: vec![format!("t{}", i % 7), "all".into()],
                    };
                    match c.create_note(req).await {
                        Ok(r) => return r.into_inner().note,
                        Err(s) if s.code() == tonic::Code::Unavailable => {
                            tokio::time::sleep(Duration::from_millis(100)).await
                        }
                        Err(s) => panic!("create failed: {s:?}"),
                    }
                }
                None
            }
        })
        .buffer_unordered(concurrency)
        .filter_map(|n| async move { n })
        .collect()
        .await
}
