//! How the answers of many instances become one picture. Pure functions over the proto messages,
//! so the rules are tested without a network.
//!
//! The instances of one service share its Redis streams, its outbox and its dead-letter stream,
//! so every instance reports the same backlog: those figures are taken as the maximum over the
//! instances (summing would count one backlog once per instance; the maximum also covers an
//! instance whose view is a moment older). Counters are per process, so they are summed.

use std::collections::BTreeMap;

use talentmesh_proto::sync::v1 as pb;

use crate::names::ServiceName;

/// `delivered / (delivered + dead_lettered)`, 1 when nothing was delivered or dead-lettered.
pub fn success_rate(delivered: i64, dead_lettered: i64) -> f64 {
    let total = delivered.saturating_add(dead_lettered);
    if total <= 0 {
        1.0
    } else {
        delivered as f64 / total as f64
    }
}

/// The sum of `counters`, with the success rate computed again from the sums (a rate is not
/// summable).
pub fn sum_counters<'a>(
    counters: impl IntoIterator<Item = &'a pb::SyncCounters>,
) -> pb::SyncCounters {
    let mut sum = pb::SyncCounters::default();
    for c in counters {
        sum.published = sum.published.saturating_add(c.published);
        sum.delivered = sum.delivered.saturating_add(c.delivered);
        sum.failed = sum.failed.saturating_add(c.failed);
        sum.dead_lettered = sum.dead_lettered.saturating_add(c.dead_lettered);
        sum.drift_found = sum.drift_found.saturating_add(c.drift_found);
        sum.drift_repaired = sum.drift_repaired.saturating_add(c.drift_repaired);
    }
    sum.success_rate = success_rate(sum.delivered, sum.dead_lettered);
    sum
}

/// When an operation finished, or started if it has no end; operations without either sort first.
fn operation_time(op: &pb::Operation) -> (i64, i32) {
    op.end_time
        .or(op.start_time)
        .map_or((i64::MIN, 0), |t| (t.seconds, t.nanos))
}

/// Drift found by the newest finished operation of each projection: missing + stale + orphaned
/// of that projection in it, summed over the projections. Instances may report different last
/// operations (one finished a check the others have not seen yet), so the newest wins.
pub fn drift<'a>(statuses: impl IntoIterator<Item = &'a pb::SyncStatus>) -> i64 {
    let mut newest: BTreeMap<&str, &pb::Operation> = BTreeMap::new();
    for status in statuses {
        for projection in &status.projections {
            let Some(op) = projection.last_operation.as_ref() else {
                continue;
            };
            newest
                .entry(projection.name.as_str())
                .and_modify(|kept| {
                    if operation_time(op) > operation_time(kept) {
                        *kept = op;
                    }
                })
                .or_insert(op);
        }
    }
    newest
        .into_iter()
        .flat_map(|(name, op)| op.projections.iter().filter(move |p| p.projection == name))
        .map(|p| p.missing.saturating_add(p.stale).saturating_add(p.orphaned))
        .fold(0i64, i64::saturating_add)
}

/// Entries not yet delivered, over every group of every stream of one instance.
fn lag_entries(status: &pb::SyncStatus) -> i64 {
    status
        .streams
        .iter()
        .flat_map(|s| &s.groups)
        .map(|g| g.lag_entries)
        .fold(0i64, i64::saturating_add)
}

fn max_lag_seconds(status: &pb::SyncStatus) -> f64 {
    status
        .streams
        .iter()
        .flat_map(|s| &s.groups)
        .map(|g| g.lag_seconds)
        .fold(0.0, f64::max)
}

/// One service from the answers of its instances (see the module docs for the rules).
pub fn service_sync(name: &ServiceName, instances: Vec<pb::InstanceSync>) -> pb::ServiceSync {
    let statuses: Vec<&pb::SyncStatus> =
        instances.iter().filter_map(|i| i.status.as_ref()).collect();
    let dead_letters = statuses.iter().map(|s| s.dead_letters).max().unwrap_or(0);
    let unpublished = statuses
        .iter()
        .filter_map(|s| s.outbox.as_ref())
        .map(|o| o.unpublished)
        .max()
        .unwrap_or(0);
    let lag_entries = statuses.iter().map(|s| lag_entries(s)).max().unwrap_or(0);
    let max_lag_seconds = statuses
        .iter()
        .map(|s| max_lag_seconds(s))
        .fold(0.0, f64::max);
    let drift = drift(statuses.iter().copied());
    let counters = sum_counters(statuses.iter().filter_map(|s| s.counters.as_ref()));
    // An instance that did not answer may hold what the others miss, so it makes the service
    // unhealthy; so does a service with no instance at all.
    let all_answered = !instances.is_empty() && statuses.len() == instances.len();
    pb::ServiceSync {
        name: name.resource(),
        healthy: all_answered && dead_letters == 0 && drift == 0,
        instances,
        dead_letters,
        unpublished,
        max_lag_seconds,
        lag_entries,
        drift,
        counters: Some(counters),
    }
}

/// Every service, their counters summed, healthy when each one is.
pub fn overview(services: Vec<pb::ServiceSync>) -> pb::GetOverviewResponse {
    let counters = sum_counters(services.iter().filter_map(|s| s.counters.as_ref()));
    pb::GetOverviewResponse {
        healthy: services.iter().all(|s| s.healthy),
        counters: Some(counters),
        services,
    }
}

/// Whether one instance's stores are fine: it answered and every store it uses is up.
fn stores_healthy(instance: &pb::InstanceStoreHealth) -> bool {
    instance.error.is_empty()
        && instance
            .stores
            .iter()
            .all(|s| s.state == "up" || s.state == "not_used")
}

pub fn store_health(instances: Vec<pb::InstanceStoreHealth>) -> pb::GetStoreHealthResponse {
    pb::GetStoreHealthResponse {
        healthy: instances.iter().all(stores_healthy),
        instances,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn counters(delivered: i64, dead_lettered: i64) -> pb::SyncCounters {
        pb::SyncCounters {
            published: 10,
            delivered,
            failed: 1,
            dead_lettered,
            drift_found: 2,
            drift_repaired: 1,
            success_rate: 0.123, // deliberately wrong: the merge must recompute it
        }
    }

    fn group(lag_entries: i64, lag_seconds: f64) -> pb::GroupStatus {
        pb::GroupStatus {
            group: "g".into(),
            pending: 0,
            lag_entries,
            lag_seconds,
            consumers: 1,
        }
    }

    fn check(
        seconds: i64,
        projection: &str,
        missing: i64,
        stale: i64,
        orphaned: i64,
    ) -> pb::Operation {
        pb::Operation {
            name: format!("operations/{seconds}"),
            kind: pb::OperationKind::Check as i32,
            state: pb::OperationState::Succeeded as i32,
            projections: vec![pb::ProjectionProgress {
                projection: projection.into(),
                missing,
                stale,
                orphaned,
                done: true,
                ..Default::default()
            }],
            start_time: Some(prost_types::Timestamp {
                seconds: seconds - 1,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
            ..Default::default()
        }
    }

    fn projection(name: &str, last: Option<pb::Operation>) -> pb::ProjectionStatus {
        pb::ProjectionStatus {
            name: name.into(),
            last_operation: last,
            ..Default::default()
        }
    }

    fn status(dead_letters: i64, unpublished: i64, groups: Vec<pb::GroupStatus>) -> pb::SyncStatus {
        pb::SyncStatus {
            service: "identity".into(),
            outbox: Some(pb::OutboxStatus {
                unpublished,
                ..Default::default()
            }),
            streams: vec![pb::StreamStatus {
                stream: "s".into(),
                length: 5,
                groups,
            }],
            dead_letters,
            counters: Some(counters(8, 2)),
            ..Default::default()
        }
    }

    fn answered(id: &str, status: pb::SyncStatus) -> pb::InstanceSync {
        pb::InstanceSync {
            instance: id.into(),
            address: "127.0.0.1:1".into(),
            status: Some(status),
            error: String::new(),
        }
    }

    fn failed(id: &str) -> pb::InstanceSync {
        pb::InstanceSync {
            instance: id.into(),
            address: "127.0.0.1:2".into(),
            status: None,
            error: "unavailable: connection refused".into(),
        }
    }

    #[test]
    fn success_rate_is_one_when_nothing_was_delivered() {
        assert_eq!(success_rate(0, 0), 1.0);
        assert_eq!(success_rate(0, 4), 0.0);
        assert_eq!(success_rate(3, 1), 0.75);
    }

    #[test]
    fn counters_are_summed_and_the_rate_recomputed() {
        let sum = sum_counters([&counters(8, 2), &counters(1, 9)]);
        assert_eq!(sum.published, 20);
        assert_eq!(sum.delivered, 9);
        assert_eq!(sum.dead_lettered, 11);
        assert_eq!(sum.failed, 2);
        assert_eq!(sum.drift_found, 4);
        assert_eq!(sum.drift_repaired, 2);
        assert_eq!(sum.success_rate, 9.0 / 20.0);
    }

    #[test]
    fn shared_backlog_is_the_maximum_not_the_sum() {
        let name = ServiceName::new("identity");
        let merged = service_sync(
            &name,
            vec![
                answered("a", status(3, 7, vec![group(4, 1.5), group(6, 0.5)])),
                answered("b", status(2, 9, vec![group(5, 2.5)])),
            ],
        );
        assert_eq!(merged.name, "services/identity");
        assert_eq!(merged.dead_letters, 3);
        assert_eq!(merged.unpublished, 9);
        // Instance a lags 4 + 6 entries over its groups, b lags 5.
        assert_eq!(merged.lag_entries, 10);
        assert_eq!(merged.max_lag_seconds, 2.5);
        let counters = merged.counters.unwrap();
        assert_eq!(counters.delivered, 16);
        assert_eq!(counters.success_rate, 0.8);
        assert!(!merged.healthy, "dead letters make a service unhealthy");
    }

    #[test]
    fn drift_comes_from_the_newest_operation_of_each_projection() {
        let mut a = status(0, 0, vec![]);
        a.projections = vec![
            projection("notes_search", Some(check(100, "notes_search", 5, 0, 0))),
            projection("notes_graph", Some(check(300, "notes_graph", 1, 1, 1))),
        ];
        let mut b = status(0, 0, vec![]);
        b.projections = vec![
            // Newer than a's check of notes_search: its figures win.
            projection("notes_search", Some(check(200, "notes_search", 0, 2, 0))),
            // Older than a's: ignored.
            projection("notes_graph", Some(check(250, "notes_graph", 40, 0, 0))),
            projection("never_checked", None),
        ];
        assert_eq!(drift([&a, &b]), 2 + 3);
    }

    #[test]
    fn drift_counts_only_the_projection_itself() {
        // A check of every projection is the last operation of each; notes_search must not also
        // count notes_graph's figures.
        let mut op = check(100, "notes_search", 1, 0, 0);
        op.projections.push(pb::ProjectionProgress {
            projection: "notes_graph".into(),
            orphaned: 4,
            ..Default::default()
        });
        let mut s = status(0, 0, vec![]);
        s.projections = vec![
            projection("notes_search", Some(op.clone())),
            projection("notes_graph", Some(op)),
        ];
        assert_eq!(drift([&s]), 5);
    }

    #[test]
    fn healthy_needs_every_instance_no_dead_letters_and_no_drift() {
        let name = ServiceName::new("identity");
        let clean = || status(0, 0, vec![group(0, 0.0)]);
        assert!(service_sync(&name, vec![answered("a", clean()), answered("b", clean())]).healthy);
        assert!(!service_sync(&name, vec![answered("a", clean()), failed("b")]).healthy);
        assert!(!service_sync(&name, vec![]).healthy);
        let mut drifted = clean();
        drifted.projections = vec![projection("p", Some(check(1, "p", 0, 0, 1)))];
        let merged = service_sync(&name, vec![answered("a", drifted)]);
        assert_eq!(merged.drift, 1);
        assert!(!merged.healthy);
    }

    #[test]
    fn an_unanswered_instance_is_kept_with_its_error() {
        let merged = service_sync(
            &ServiceName::new("identity"),
            vec![answered("a", status(1, 0, vec![])), failed("b")],
        );
        assert_eq!(merged.instances.len(), 2);
        assert_eq!(merged.instances[1].error, "unavailable: connection refused");
        // Figures come from the instance that answered.
        assert_eq!(merged.dead_letters, 1);
        assert_eq!(merged.counters.unwrap().delivered, 8);
    }

    #[test]
    fn overview_sums_services_and_is_healthy_only_when_all_are() {
        let name = ServiceName::new("identity");
        let good = service_sync(&name, vec![answered("a", status(0, 0, vec![]))]);
        let bad = service_sync(&ServiceName::new("job"), vec![failed("b")]);
        let both = overview(vec![good.clone(), good.clone()]);
        assert!(both.healthy);
        assert_eq!(both.counters.unwrap().delivered, 16);
        assert!(!overview(vec![good, bad]).healthy);
    }

    #[test]
    fn store_health_ignores_unused_stores_but_not_silent_instances() {
        let store = |state: &str| pb::StoreHealth {
            store: pb::Store::Mysql as i32,
            state: state.into(),
            error: String::new(),
        };
        let instance = |stores: Vec<pb::StoreHealth>, error: &str| pb::InstanceStoreHealth {
            service: "identity".into(),
            instance: "a".into(),
            stores,
            error: error.into(),
        };
        assert!(store_health(vec![instance(vec![store("up"), store("not_used")], "")]).healthy);
        assert!(!store_health(vec![instance(vec![store("up"), store("down")], "")]).healthy);
        assert!(!store_health(vec![instance(vec![], "deadline exceeded")]).healthy);
    }
}
