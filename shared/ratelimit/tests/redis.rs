//! The limiter against the real local Redis: the (n+1)-th call of a window is refused with
//! RESOURCE_EXHAUSTED, `ErrorInfo.reason = RATE_LIMITED` and an honest `RetryInfo`; it passes
//! after that delay; two limiters (two instances of a service) share one budget; another
//! subject keeps its own; a Redis that cannot be reached follows the call's policy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use prost::Message;
use talentmesh_mesh::error::rpc_status_of;
use talentmesh_proto::google::rpc;
use talentmesh_ratelimit::{Error, Limit, Limiter, Rate, WhenDown, REASON};
use talentmesh_storage::{Migrations, Needs, StorageConfig, Stores};
use talentmesh_testkit::TestEnv;

const REDIS_ONLY: Needs = Needs {
    mysql: false,
    postgres: false,
    neo4j: false,
    redis: true,
};

/// A limiter on this test's Redis prefix, as one instance of a service would build it.
async fn limiter(env: &TestEnv) -> Limiter {
    let config = StorageConfig::load(&mut env.env(), "ratelimit", REDIS_ONLY);
    let stores = Stores::connect(&config, Migrations::default())
        .await
        .expect("redis");
    Limiter::new(stores.redis.expect("redis pool"))
}

/// 3 calls per 1.5 s: one every 500 ms, three at once.
const RATE: Rate = Rate::new(3, Duration::from_millis(1500));
const INTERVAL: Duration = Duration::from_millis(500);

fn per_address(address: &str) -> [Limit<'_>; 1] {
    [Limit::new("test_per_address", address, RATE)]
}

fn refused(result: Result<(), Error>) -> talentmesh_ratelimit::Refused {
    match result {
        Err(Error::Limited(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_call_after_the_budget_is_refused_with_retry_info_and_passes_after_the_delay() {
    let env = TestEnv::new("ratelimit");
    let limiter = limiter(&env).await;
    let started = Instant::now();
    for n in 0..3 {
        limiter
            .check(&per_address("203.0.113.7"), WhenDown::Refuse)
            .await
            .unwrap_or_else(|e| panic!("call {n} within the budget: {e}"));
    }
    let refusal = refused(
        limiter
            .check(&per_address("203.0.113.7"), WhenDown::Refuse)
            .await,
    );
    let elapsed = started.elapsed();
    assert_eq!(refusal.limit, "test_per_address");
    // Honest: the budget refills one call per interval from the first call, so the wait is at
    // most one interval and no less than what of it has not passed yet.
    assert!(
        refusal.retry_after <= INTERVAL
            && refusal.retry_after + elapsed + Duration::from_millis(5) >= INTERVAL,
        "retry after {:?} (elapsed {elapsed:?})",
        refusal.retry_after
    );

    let status = tonic::Status::from(Error::Limited(refusal.clone()));
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    let details = rpc_status_of(&status).details;
    let info = details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.ErrorInfo"))
        .map(|d| rpc::ErrorInfo::decode(d.value.as_slice()).unwrap())
        .expect("ErrorInfo");
    assert_eq!(info.reason, REASON);
    assert_eq!(info.metadata["limit"], "test_per_address");
    let retry = details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.RetryInfo"))
        .map(|d| rpc::RetryInfo::decode(d.value.as_slice()).unwrap())
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo.retry_delay");
    let sent = Duration::new(retry.seconds as u64, retry.nanos as u32);
    assert_eq!(sent, refusal.retry_after);

    // Waiting exactly the delay it was told is the behaviour under test, not a poll.
    tokio::time::sleep(refusal.retry_after).await;
    limiter
        .check(&per_address("203.0.113.7"), WhenDown::Refuse)
        .await
        .expect("passes once the told delay has passed");
}

#[tokio::test]
async fn two_instances_share_one_budget() {
    let env = TestEnv::new("ratelimit");
    let (a, b) = (limiter(&env).await, limiter(&env).await);
    a.check(&per_address("198.51.100.1"), WhenDown::Refuse)
        .await
        .unwrap();
    b.check(&per_address("198.51.100.1"), WhenDown::Refuse)
        .await
        .unwrap();
    a.check(&per_address("198.51.100.1"), WhenDown::Refuse)
        .await
        .unwrap();
    refused(
        b.check(&per_address("198.51.100.1"), WhenDown::Refuse)
            .await,
    );
}

#[tokio::test]
async fn another_subject_keeps_its_own_budget() {
    let env = TestEnv::new("ratelimit");
    let limiter = limiter(&env).await;
    for _ in 0..3 {
        limiter
            .check(&per_address("203.0.113.7"), WhenDown::Refuse)
            .await
            .unwrap();
    }
    refused(
        limiter
            .check(&per_address("203.0.113.7"), WhenDown::Refuse)
            .await,
    );
    for _ in 0..3 {
        limiter
            .check(&per_address("203.0.113.8"), WhenDown::Refuse)
            .await
            .expect("a different address is not affected");
    }
}

#[tokio::test]
async fn a_refused_call_spends_nothing_and_names_the_limit_that_waits_longest() {
    let env = TestEnv::new("ratelimit");
    let limiter = limiter(&env).await;
    let tight = Rate::new(1, Duration::from_secs(60));
    let address = Limit::new("test_per_address", "203.0.113.7", RATE);
    let account = Limit::new("test_per_account", "a@example.com", tight);
    limiter
        .check(&[address.clone(), account.clone()], WhenDown::Refuse)
        .await
        .unwrap();
    for _ in 0..5 {
        let r = refused(
            limiter
                .check(&[address.clone(), account.clone()], WhenDown::Refuse)
                .await,
        );
        assert_eq!(r.limit, "test_per_account");
        assert!(r.retry_after > Duration::from_secs(59), "{r:?}");
    }
    // The five refusals took nothing from the address's budget: two calls of three remain.
    for _ in 0..2 {
        limiter
            .check(std::slice::from_ref(&address), WhenDown::Refuse)
            .await
            .expect("the address budget was not spent by refused calls");
    }
}

#[tokio::test]
async fn a_key_lives_until_its_budget_is_full_again() {
    let env = TestEnv::new("ratelimit");
    let limiter = limiter(&env).await;
    let rate = Rate::per_hour(10);
    let limit = Limit::new("test_ttl", "203.0.113.7", rate);
    for _ in 0..4 {
        limiter
            .check(std::slice::from_ref(&limit), WhenDown::Refuse)
            .await
            .unwrap();
    }
    let mut conn = env.redis().await;
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(limiter.key(&limit))
        .query_async(&mut conn)
        .await
        .unwrap();
    // Four calls of an hourly ten: full again after four intervals of six minutes.
    let full = 4 * 360_000;
    assert!(
        (full - 5_000..=full).contains(&ttl_ms),
        "TTL {ttl_ms} ms, expected about {full}"
    );
}

#[tokio::test]
async fn an_unreachable_redis_follows_the_call_policy() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let env = TestEnv::new("ratelimit").set("TALENTMESH_REDIS_URL", "redis://127.0.0.1:1");
    let limiter = limiter(&env).await;
    limiter
        .check(&per_address("203.0.113.7"), WhenDown::Allow)
        .await
        .expect("fail open");
    let err = limiter
        .check(&per_address("203.0.113.7"), WhenDown::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::Unavailable);
}

/// The `/metrics` lines of `metrics` for the limit `limit` (each `<name>{labels} <value>`).
fn ratelimit_lines(metrics: &talentmesh_mesh::metrics::Metrics, limit: &str) -> Vec<String> {
    let needle = format!("limit=\"{limit}\"");
    metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("talentmesh_ratelimit_") && l.contains(&needle))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn named_limits_show_at_zero_before_any_call_and_count_from_there() {
    // Nothing listens on port 1: the one check below is let through with Redis down.
    let env = TestEnv::new("ratelimit").set("TALENTMESH_REDIS_URL", "redis://127.0.0.1:1");
    let metrics = talentmesh_mesh::metrics::Metrics::new("identity");
    let limiter = limiter(&env)
        .await
        .with_limits(&["test_per_address", "test_per_account"]);
    limiter.register_metrics(&mut metrics.registry());

    for limit in ["test_per_address", "test_per_account"] {
        let mut lines = ratelimit_lines(&metrics, limit);
        lines.sort();
        let expected = [
            format!(
                "talentmesh_ratelimit_decisions_total{{service=\"identity\",limit=\"{limit}\",outcome=\"allowed_store_down\"}} 0"
            ),
            format!(
                "talentmesh_ratelimit_decisions_total{{service=\"identity\",limit=\"{limit}\",outcome=\"refused\"}} 0"
            ),
            format!(
                "talentmesh_ratelimit_store_errors_total{{service=\"identity\",limit=\"{limit}\"}} 0"
            ),
        ];
        assert_eq!(lines, expected, "{limit} before any call");
    }
    assert!(
        ratelimit_lines(&metrics, "undeclared").is_empty(),
        "only the named limits are made"
    );

    // The series made at 0 are the ones a decision counts in (not a second series beside them).
    limiter
        .check(&per_address("203.0.113.7"), WhenDown::Allow)
        .await
        .expect("fail open");
    let lines = ratelimit_lines(&metrics, "test_per_address");
    for (series, value) in [
        ("outcome=\"allowed_store_down\"", 1),
        ("outcome=\"refused\"", 0),
        ("talentmesh_ratelimit_store_errors_total", 1),
    ] {
        let matching: Vec<&String> = lines.iter().filter(|l| l.contains(series)).collect();
        assert_eq!(matching.len(), 1, "{series}: {lines:?}");
        assert!(
            matching[0].ends_with(&format!(" {value}")),
            "{series} = {value}: {lines:?}"
        );
    }
}
