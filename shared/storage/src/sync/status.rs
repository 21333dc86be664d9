//! What `GetSyncStatus` reports and the sampler keeps in the metrics: the outbox backlog, each
//! stream's groups with their lag, dead letters, counters and store health.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use talentmesh_proto::sync::v1::{
    GroupStatus, OutboxStatus, ProjectionStatus, Store, StoreHealth as StoreHealthProto,
    StreamStatus, SyncCounters, SyncStatus,
};

use super::metrics::{catch_up, GroupLabels};
use super::Inner;
use crate::bus::entries::{as_i64, as_string, id_millis, info_field, parse_entry_list};
use crate::health::StoreHealth;
use crate::projection::StoreKind;
use crate::{Error, RedisPool, Result};

/// How often the sampler refreshes lag and counters.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);

pub(crate) fn store_of(kind: StoreKind) -> Store {
    match kind {
        StoreKind::MySql => Store::Mysql,
        StoreKind::Postgres => Store::Postgres,
        StoreKind::Neo4j => Store::Neo4j,
        StoreKind::Redis => Store::Redis,
    }
}

fn redis_err(e: redis::RedisError) -> Error {
    Error::Redis(e.to_string())
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Groups of one stream with pending entries, lag in entries and lag in seconds.
async fn stream_status(redis: &RedisPool, stream: &str) -> Result<StreamStatus> {
    let mut conn = redis.get().await?;
    let length: i64 = redis::cmd("XLEN")
        .arg(stream)
        .query_async(&mut conn)
        .await
        .map_err(redis_err)?;
    let groups: std::result::Result<Value, redis::RedisError> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(&mut conn)
        .await;
    let groups = match groups {
        Ok(v) => v,
        // No stream yet: nothing was published and nobody consumes.
        Err(e) if e.to_string().contains("no such key") => Value::Array(Vec::new()),
        Err(e) => return Err(redis_err(e)),
    };
    let Value::Array(groups) = groups else {
        return Ok(StreamStatus {
            stream: stream.to_string(),
            length,
            groups: Vec::new(),
        });
    };
    let now = now_millis();
    let mut out = Vec::new();
    for g in &groups {
        let name = as_string(info_field(g, "name"));
        let pending = as_i64(info_field(g, "pending"));
        let consumers = as_i64(info_field(g, "consumers"));
        // Redis derives `lag` from counters that go wrong after a restart or a republished
        // stream (and reports nil when it knows it cannot tell), so the stream itself decides:
        // no entry after the last delivered one means no lag, whatever the counter says.
        let reported_lag = match info_field(g, "lag") {
            Some(Value::Nil) | None => None,
            lag => Some(as_i64(lag)),
        };
        let last_delivered = as_string(info_field(g, "last-delivered-id"));
        let next_undelivered = if reported_lag == Some(0) {
            None
        } else {
            let next: Value = redis::cmd("XRANGE")
                .arg(stream)
                .arg(format!("({last_delivered}"))
                .arg("+")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            parse_entry_list(&next).into_iter().next()
        };
        let lag_entries = match &next_undelivered {
            None => 0,
            Some(_) => reported_lag.unwrap_or(1).max(1),
        };
        // The oldest unfinished entry: the first pending one, else the first undelivered one.
        let oldest: Option<i64> = if pending > 0 {
            let summary: Value = redis::cmd("XPENDING")
                .arg(stream)
                .arg(&name)
                .query_async(&mut conn)
                .await
                .map_err(redis_err)?;
            match &summary {
                Value::Array(parts) => id_millis(&as_string(parts.get(1))),
                _ => None,
            }
        } else {
            next_undelivered.and_then(|e| id_millis(&e.id))
        };
        let lag_seconds = oldest.map_or(0.0, |ms| ((now - ms).max(0) as f64) / 1000.0);
        out.push(GroupStatus {
            group: name,
            pending,
            lag_entries,
            lag_seconds,
            consumers,
        });
    }
    Ok(StreamStatus {
        stream: stream.to_string(),
        length,
        groups: out,
    })
}

async fn outbox_status(inner: &Inner) -> Result<OutboxStatus> {
    let mysql = inner.stores.mysql()?;
    let (unpublished, oldest): (i64, Option<f64>) = sqlx::query_as(
        "SELECT COUNT(*), CAST(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), ?) AS DOUBLE) \
         FROM outbox WHERE published_at IS NULL",
    )
    .bind(crate::time::datetime(crate::time::now()))
    .fetch_one(mysql)
    .await
    .map_err(Error::MySql)?;
    // Counting a week of published rows exactly on every status call would scan them all; the
    // table's row estimate is enough to see the retention's size.
    let rows: Option<u64> = sqlx::query_scalar(
        "SELECT TABLE_ROWS FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'outbox'",
    )
    .fetch_optional(mysql)
    .await
    .map_err(Error::MySql)?
    .flatten();
    let retained = (i64::try_from(rows.unwrap_or(0)).unwrap_or(i64::MAX) - unpublished).max(0);
    Ok(OutboxStatus {
        unpublished,
        oldest_unpublished_seconds: oldest.unwrap_or(0.0) / 1e6,
        retained,
        relay_leader: inner.relay_metrics.as_ref().is_some_and(|m| m.is_leader()),
    })
}

fn counters(inner: &Inner) -> SyncCounters {
    let published = inner.relay_metrics.as_ref().map_or(0, |m| m.published());
    let (mut delivered, mut failed, mut dead) = (0u64, 0u64, 0u64);
    for (_, _, m) in &inner.consumer_metrics {
        delivered += m.delivered();
        failed += m.failed();
        dead += m.dead_lettered();
    }
    let (found, repaired) = super::drift_totals(inner);
    let success_rate = if delivered + dead == 0 {
        1.0
    } else {
        delivered as f64 / (delivered + dead) as f64
    };
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    SyncCounters {
        published: n(published),
        delivered: n(delivered),
        failed: n(failed),
        dead_lettered: n(dead),
        drift_found: n(found),
        drift_repaired: n(repaired),
        success_rate,
    }
}

fn health_entry(store: Store, health: StoreHealth) -> StoreHealthProto {
    let (state, error) = match health {
        StoreHealth::Up => ("up", ""),
        StoreHealth::Down => ("down", "did not answer a probe within 1.5 s"),
        StoreHealth::NotUsed => ("not_used", ""),
    };
    StoreHealthProto {
        store: store as i32,
        state: state.to_string(),
        error: error.to_string(),
    }
}

/// The whole status; a store that is down shows in `stores`, and the parts that need it are
/// left empty rather than failing the call.
pub(crate) async fn status(inner: &Inner) -> Result<SyncStatus> {
    let report = inner.stores.health().await;
    let stores = vec![
        health_entry(Store::Mysql, report.mysql),
        health_entry(Store::Postgres, report.postgres),
        health_entry(Store::Neo4j, report.neo4j),
        health_entry(Store::Redis, report.redis),
    ];
    let outbox = match outbox_status(inner).await {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::debug!(error = %e, "outbox status unavailable");
            None
        }
    };
    let mut streams = Vec::new();
    let mut projections = Vec::new();
    let mut dead_letters = 0;
    if let Ok(redis) = inner.stores.redis() {
        for s in &inner.streams {
            if let Ok(st) = stream_status(redis, s).await {
                streams.push(st);
            }
        }
        dead_letters = inner.dead_letters.count().await.unwrap_or(0);
    }
    for p in &inner.projections {
        projections.push(ProjectionStatus {
            name: p.name().to_string(),
            store: store_of(p.store()) as i32,
            entity_type: p.entity_type().to_string(),
            last_operation: inner.operations.last(p.name()).await.unwrap_or(None),
        });
    }
    Ok(SyncStatus {
        service: inner.service.clone(),
        instance: inner.instance.clone(),
        outbox,
        streams,
        projections,
        dead_letters,
        counters: Some(counters(inner)),
        stores,
    })
}

/// Keeps the Prometheus series current.
pub(crate) async fn sample_forever(inner: Arc<Inner>) {
    loop {
        sample(&inner).await;
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

async fn sample(inner: &Inner) {
    let m = &inner.metrics;
    if let Some(relay) = &inner.relay_metrics {
        catch_up(&m.published, relay.published.load(Ordering::Relaxed));
    }
    for (stream, group, cm) in &inner.consumer_metrics {
        let labels = GroupLabels {
            stream: stream.clone(),
            group: group.clone(),
        };
        catch_up(&m.delivered.get_or_create(&labels), cm.delivered());
        catch_up(&m.failed.get_or_create(&labels), cm.failed());
        catch_up(&m.dead_lettered.get_or_create(&labels), cm.dead_lettered());
    }
    let c = counters(inner);
    m.success_ratio.set(c.success_rate);
    if let Ok(redis) = inner.stores.redis() {
        for s in &inner.streams {
            if let Ok(st) = stream_status(redis, s).await {
                for g in st.groups {
                    let labels = GroupLabels {
                        stream: s.clone(),
                        group: g.group,
                    };
                    m.lag_entries.get_or_create(&labels).set(g.lag_entries);
                    m.lag_seconds.get_or_create(&labels).set(g.lag_seconds);
                    m.pending.get_or_create(&labels).set(g.pending);
                }
            }
        }
        if let Ok(n) = inner.dead_letters.count().await {
            m.dead_letters.set(n);
        }
    }
    if let Ok(o) = outbox_status(inner).await {
        m.unpublished.set(o.unpublished);
    }
}
