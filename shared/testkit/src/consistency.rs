//! The consistency checker as tests drive it: sync operations (check, repair) through the sync
//! admin service, the drift they report, and [`TestEnv::remove_projected`] to make drift behind
//! a service's back.

use std::time::Duration;

use crate::{eventually, eventually_value, neo4j_graph, postgres_url, TestEnv};

/// Starts a sync operation (a check or a repair of every projection) on the service at `url`
/// as `token` (an admin's), and waits up to a minute for it to finish.
pub async fn sync_operation(
    url: &str,
    token: &str,
    kind: talentmesh_proto::sync::v1::OperationKind,
) -> talentmesh_proto::sync::v1::Operation {
    use talentmesh_proto::sync::v1 as sync;
    fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    }
    let mut client =
        sync::sync_admin_service_client::SyncAdminServiceClient::connect(url.to_string())
            .await
            .expect("connect to the sync admin service");
    let op = client
        .start_operation(with_token(
            sync::StartOperationRequest {
                kind: kind as i32,
                projections: vec![],
            },
            token,
        ))
        .await
        .expect("start the operation")
        .into_inner()
        .operation
        .expect("an operation");
    eventually_value(Duration::from_secs(60), || {
        let mut client = client.clone();
        let r = with_token(
            sync::GetOperationRequest {
                name: op.name.clone(),
            },
            token,
        );
        async move {
            let op = client
                .get_operation(r)
                .await
                .expect("read the operation")
                .into_inner()
                .operation
                .expect("an operation");
            (op.state != sync::OperationState::Running as i32).then_some(op)
        }
    })
    .await
    .expect("the operation finished within a minute")
}

/// Of `projection` in a finished operation: (drift found and not repaired, records repaired).
pub fn drift(op: &talentmesh_proto::sync::v1::Operation, projection: &str) -> (i64, i64) {
    let p = op
        .projections
        .iter()
        .find(|p| p.projection == projection)
        .unwrap_or_else(|| panic!("no projection {projection} in {op:?}"));
    (p.missing + p.stale + p.orphaned, p.repaired)
}

/// Whether a check of the service at `url` finds `projections` free of drift within 30 s (the
/// projections catch up with what the test wrote).
pub async fn in_sync_soon(url: &str, token: &str, projections: &[&str]) -> bool {
    use talentmesh_proto::sync::v1 as sync;
    eventually(Duration::from_secs(30), || async {
        let op = sync_operation(url, token, sync::OperationKind::Check).await;
        op.state == sync::OperationState::Succeeded as i32
            && projections.iter().all(|p| drift(&op, p).0 == 0)
    })
    .await
}

/// After a test broke one record of each of `projections` behind the service's back: a check
/// finds exactly that, a repair puts it right, and a second check finds nothing.
pub async fn assert_one_drift_each_found_and_repaired(
    url: &str,
    token: &str,
    projections: &[&str],
) {
    use talentmesh_proto::sync::v1::OperationKind;
    let checked = sync_operation(url, token, OperationKind::Check).await;
    for p in projections {
        assert_eq!(drift(&checked, p), (1, 0), "check, {p}: {checked:?}");
    }
    let repaired = sync_operation(url, token, OperationKind::Repair).await;
    for p in projections {
        assert_eq!(drift(&repaired, p).1, 1, "repair, {p}: {repaired:?}");
    }
    let after = sync_operation(url, token, OperationKind::Check).await;
    for p in projections {
        assert_eq!(
            drift(&after, p),
            (0, 0),
            "check after repair, {p}: {after:?}"
        );
    }
}

/// Where one entity type is projected, for [`TestEnv::remove_projected`].
pub struct Projected<'a> {
    /// The PostgreSQL table (in this test's schema) keyed by `id`.
    pub pg_table: &'a str,
    /// The Neo4j label of its nodes, keyed `<namespace>/<id>`.
    pub neo4j_label: &'a str,
    /// The Redis keyspace of its hashes, `<prefix><keyspace>:<id>`.
    pub redis_keyspace: &'a str,
}

impl TestEnv {
    /// Removes entity `id` from each derived store behind the service's back (drift for the
    /// consistency checker to find): its PostgreSQL row, its Neo4j node, its Redis hash.
    pub async fn remove_projected(&self, id: &str, at: Projected<'_>) {
        self.remove_postgres_row(at.pg_table, id).await;
        let graph = neo4j_graph().await;
        graph
            .run(
                neo4rs::query(&format!(
                    "MATCH (n:{} {{key: $key}}) DETACH DELETE n",
                    at.neo4j_label
                ))
                .param("key", format!("{}/{id}", self.neo4j_namespace)),
            )
            .await
            .expect("delete the neo4j node");
        let removed: i64 = redis::cmd("DEL")
            .arg(format!("{}{}:{id}", self.redis_prefix, at.redis_keyspace))
            .query_async(&mut self.redis().await)
            .await
            .expect("delete the redis hash");
        assert_eq!(removed, 1, "no {} hash {id}", at.redis_keyspace);
    }

    /// Removes the row `id` of `table` (in this test's schema) behind the service's back: drift
    /// of a projection that lives in PostgreSQL only.
    pub async fn remove_postgres_row(&self, table: &str, id: &str) {
        let pg = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&postgres_url())
            .await
            .expect("connect to postgres");
        let deleted = sqlx::query(&format!(
            "DELETE FROM \"{}\".{table} WHERE id = $1",
            self.postgres_schema
        ))
        .bind(id)
        .execute(&pg)
        .await
        .expect("delete the postgres row");
        assert_eq!(deleted.rows_affected(), 1, "no {table} row {id}");
    }
}
