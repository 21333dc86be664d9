//! Isolation for tests that use the real local servers. A [`TestEnv`] names a MySQL database,
//! a PostgreSQL schema, a Redis key prefix and a Neo4j namespace of its own (random), hands out
//! the `TALENTMESH_*` variables that point a service at them with ports chosen by the OS, and
//! drops all of it when the test ends, so tests run in parallel without seeing each other.
//!
//! The servers themselves are started by `dev/servers.sh up` (the README's test command does it).
//!
//! Modules (everything is re-exported here, so `talentmesh_testkit::X` is the path to use):
//!
//! - `servers`: where the stores are and the credentials of their admins ([`mysql_url`],
//!   [`postgres_url`], [`redis_url`], [`neo4j_uri`], [`neo4j_graph`]) and of each service's
//!   own user ([`service_store_vars`], [`service_redis_url`]), from `dev/servers.sh`'s files.
//! - `env`: [`TestEnv`] and its cleanup,
//!   the tests' Consul agent and ACL token ([`consul`], [`consul_addr`], [`consul_token`],
//!   [`consul_vars`]: overridable by `TALENTMESH_CONSUL_ADDR` / `TALENTMESH_CONSUL_TOKEN`), and
//!   mesh TLS for tests run with `TALENTMESH_MESH_TLS=connect` ([`mesh_tls`], [`discovery`],
//!   [`allow_all_to`]),
//!   [`scalar_i64`] for counting rows.
//! - `spawned`: [`Spawned`] services in-process, the health and reflection probes
//!   ([`health_status`], [`reflected_services`], [`assert_serving_exactly`]), [`fails`].
//! - `keys`: [`TestKeys`] (tokens the services under test accept) and [`sign_ed`].
//! - `consistency`: sync operations ([`sync_operation`], [`drift`], [`in_sync_soon`],
//!   [`assert_one_drift_each_found_and_repaired`]) and [`Projected`] drift to find.
//! - [`company`]: the company service as tests meet it (users, companies, members).
//! - [`idempotency`]: the AIP-155 request-id conformance suite every idempotent create runs
//!   ([`idempotent_create_tests!`]).
//! - here: the waiting helpers [`eventually`] and [`eventually_value`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod company;
mod consistency;
mod env;
pub mod idempotency;
mod keys;
mod servers;
mod spawned;

use std::time::Duration;

pub use consistency::{
    assert_one_drift_each_found_and_repaired, drift, in_sync_soon, sync_operation, Projected,
};
pub use env::{
    allow_all_to, consul, consul_addr, consul_token, consul_vars, discovery, mesh_tls, scalar_i64,
    MySqlPool, TestEnv, CONSUL_ADDR,
};
pub use keys::{sign_ed, TestKeys, TEST_AUDIENCE, TEST_ISSUER};
pub use servers::{
    mysql_url, neo4j_graph, neo4j_uri, postgres_url, redis_url, service_redis_url,
    service_store_vars,
};
pub use spawned::{
    assert_serving_exactly, fails, health_status, health_status_on, reflected_services,
    reflected_services_on, Spawned, NOT_SERVING, SERVING,
};

/// Polls `probe` every 100 ms until it returns a value or `timeout` passes.
pub async fn eventually_value<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` every 100 ms until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
