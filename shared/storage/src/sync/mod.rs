//! The data-sync framework a service switches on in one place: its outbox relay, a consumer
//! group per projection (and per reaction to other services' events), scheduled consistency
//! checks, metrics, and the `SyncAdminService` the sync control plane calls.
//!
//! ```text
//! let sync = SyncSetup::new("notes", &instance_id, stores.clone())
//!     .source(Arc::new(NoteSource::new(mysql)))
//!     .projection(Arc::new(search), note_change)
//!     .start(&metrics).await?;
//! routes.add_service(sync.admin_service());
//! ```

mod admin;
mod check;
mod metrics;
mod operations;
mod replay;
mod status;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use talentmesh_proto::sync::v1::{Operation, OperationKind, OperationState, ProjectionProgress};
use tokio::task::JoinHandle;

use crate::bus::{
    Consumer, ConsumerConfig, ConsumerHandle, ConsumerMetrics, DeadLetter, DeadLetters, Handler,
};
use crate::outbox::{Outbox, Relay, RelayConfig, RelayHandle, RelayMetrics, STREAM_SUFFIX};
use crate::projection::{ChangeOf, Installed, Projection, Projector, Source};
use crate::{Error, Result, Stores};

pub use admin::SyncAdmin;
pub use check::drift_total;

/// Settings shared by the service's consumers.
#[derive(Debug, Clone)]
pub struct BusSettings {
    pub batch: usize,
    pub block: Duration,
    pub claim_idle: Duration,
    pub max_deliveries: u64,
    pub max_backoff: Duration,
    pub forget_idle_consumers: Duration,
}

impl Default for BusSettings {
    fn default() -> Self {
        let c = ConsumerConfig::new("", "", "");
        BusSettings {
            batch: c.batch,
            block: c.block,
            claim_idle: c.claim_idle,
            max_deliveries: c.max_deliveries,
            max_backoff: c.max_backoff,
            forget_idle_consumers: c.forget_idle_consumers,
        }
    }
}

/// How a service sets up its data sync.
pub struct SyncSetup {
    service: String,
    instance: String,
    stores: Stores,
    relay: Option<RelayConfig>,
    bus: BusSettings,
    check_every: Option<Duration>,
    auto_repair: bool,
    settle: Duration,
    sources: Vec<Arc<dyn Source>>,
    projections: Vec<(Arc<dyn Projection>, ChangeOf)>,
    reactions: Vec<(String, String, Arc<dyn Handler>)>,
}

impl SyncSetup {
    /// `instance` names this instance's consumers; keep it stable across restarts (the pod
    /// name) so a restarted instance drains its own pending entries first.
    pub fn new(service: &str, instance: &str, stores: Stores) -> SyncSetup {
        SyncSetup {
            service: service.to_string(),
            instance: instance.to_string(),
            stores,
            relay: Some(RelayConfig::default()),
            bus: BusSettings::default(),
            check_every: Some(Duration::from_secs(600)),
            auto_repair: true,
            settle: Duration::from_secs(2),
            sources: Vec::new(),
            projections: Vec::new(),
            reactions: Vec::new(),
        }
    }

    pub fn relay(mut self, config: RelayConfig) -> SyncSetup {
        self.relay = Some(config);
        self
    }

    /// Runs no relay (a test that drives the relay itself).
    pub fn without_relay(mut self) -> SyncSetup {
        self.relay = None;
        self
    }

    pub fn bus(mut self, settings: BusSettings) -> SyncSetup {
        self.bus = settings;
        self
    }

    /// Scheduled checks (None turns them off); with `auto_repair` they also repair.
    pub fn checks(mut self, every: Option<Duration>, auto_repair: bool) -> SyncSetup {
        self.check_every = every;
        self.auto_repair = auto_repair;
        self
    }

    /// How long a check waits before re-reading entities that looked behind.
    pub fn settle(mut self, settle: Duration) -> SyncSetup {
        self.settle = settle;
        self
    }

    pub fn source(mut self, source: Arc<dyn Source>) -> SyncSetup {
        self.sources.push(source);
        self
    }

    /// A projection fed from this service's own stream.
    pub fn projection(mut self, projection: Arc<dyn Projection>, change_of: ChangeOf) -> SyncSetup {
        self.projections.push((projection, change_of));
        self
    }

    /// A consumer group on another stream (e.g. another service's events), run by `handler`.
    pub fn reaction(mut self, group: &str, stream: &str, handler: Arc<dyn Handler>) -> SyncSetup {
        self.reactions
            .push((group.to_string(), stream.to_string(), handler));
        self
    }

    /// Installs the outbox table and the projections, then starts everything.
    pub async fn start(self, metrics: &talentmesh_mesh::metrics::Metrics) -> Result<SyncRuntime> {
        let mysql = self.stores.mysql()?.clone();
        let redis = self.stores.redis()?.clone();
        Outbox::install(&mysql).await?;
        // Projections whose install found records marked stale: repaired once the consumers
        // run, not left for the next scheduled check (which may be minutes away, or off).
        let mut to_repair: Vec<String> = Vec::new();
        for (p, _) in &self.projections {
            if p.install().await? == Installed::NeedsRepair {
                to_repair.push(p.name().to_string());
            }
        }
        let own_stream = redis.key(STREAM_SUFFIX);
        let dead_letters = DeadLetters::new(redis.clone());
        let sync_metrics = metrics::SyncMetrics::register(metrics);
        // Every projection's drift series at 0 from the start, so the first drift found shows
        // in rate() and increase().
        for (p, _) in &self.projections {
            sync_metrics.declare_projection(p.name(), p.store().as_str());
        }

        let relay = self
            .relay
            .clone()
            .map(|c| Relay::spawn(mysql.clone(), redis.clone(), c));
        let mut groups: Vec<(String, String, Arc<dyn Handler>)> = self
            .projections
            .iter()
            .map(|(p, change_of)| {
                let handler: Arc<dyn Handler> =
                    Arc::new(Projector::new(Arc::clone(p), Arc::clone(change_of)));
                (p.name().to_string(), own_stream.clone(), handler)
            })
            .collect();
        groups.extend(self.reactions.iter().cloned());
        let consumers: Vec<ConsumerHandle> = groups
            .iter()
            .map(|(group, stream, handler)| {
                let config = ConsumerConfig {
                    group: group.clone(),
                    stream: stream.clone(),
                    consumer: self.instance.clone(),
                    batch: self.bus.batch,
                    block: self.bus.block,
                    claim_idle: self.bus.claim_idle,
                    max_deliveries: self.bus.max_deliveries,
                    max_backoff: self.bus.max_backoff,
                    forget_idle_consumers: self.bus.forget_idle_consumers,
                };
                Consumer::spawn(
                    redis.clone(),
                    config,
                    Arc::clone(handler),
                    dead_letters.clone(),
                )
            })
            .collect();

        let mut streams = vec![own_stream];
        for (_, stream, _) in &groups {
            if !streams.contains(stream) {
                streams.push(stream.clone());
            }
        }
        let inner = Arc::new(Inner {
            service: self.service,
            instance: self.instance,
            stores: self.stores.clone(),
            sources: self
                .sources
                .iter()
                .map(|s| (s.entity_type().to_string(), Arc::clone(s)))
                .collect(),
            projections: self
                .projections
                .iter()
                .map(|(p, _)| Arc::clone(p))
                .collect(),
            handlers: groups
                .iter()
                .map(|(g, s, h)| (g.clone(), (s.clone(), Arc::clone(h))))
                .collect(),
            relay_metrics: relay.as_ref().map(RelayHandle::shared_metrics),
            consumer_metrics: consumers
                .iter()
                .map(|c| {
                    (
                        c.stream().to_string(),
                        c.group().to_string(),
                        c.shared_metrics(),
                    )
                })
                .collect(),
            dead_letters,
            operations: operations::Operations::new(redis),
            metrics: sync_metrics,
            streams,
            settle: self.settle,
        });
        let mut tasks = vec![tokio::spawn(status::sample_forever(Arc::clone(&inner)))];
        if !to_repair.is_empty() {
            tasks.push(tokio::spawn(check::repair_at_start(
                Arc::clone(&inner),
                to_repair,
            )));
        }
        if let Some(every) = self.check_every {
            let kind = if self.auto_repair {
                OperationKind::Repair
            } else {
                OperationKind::Check
            };
            tasks.push(tokio::spawn(scheduled_checks(
                Arc::clone(&inner),
                every,
                kind,
            )));
        }
        Ok(SyncRuntime {
            inner,
            relay,
            consumers,
            tasks,
        })
    }
}

/// What the admin service, the sampler and the checks share.
pub(crate) struct Inner {
    pub service: String,
    pub instance: String,
    pub stores: Stores,
    pub sources: HashMap<String, Arc<dyn Source>>,
    pub projections: Vec<Arc<dyn Projection>>,
    /// Group → (stream, handler), for replaying dead letters.
    pub handlers: HashMap<String, (String, Arc<dyn Handler>)>,
    pub relay_metrics: Option<Arc<RelayMetrics>>,
    pub consumer_metrics: Vec<(String, String, Arc<ConsumerMetrics>)>,
    pub dead_letters: DeadLetters,
    pub operations: operations::Operations,
    pub metrics: Arc<metrics::SyncMetrics>,
    /// Streams this instance publishes to or consumes.
    pub streams: Vec<String>,
    pub settle: Duration,
}

/// The running framework of one service instance.
pub struct SyncRuntime {
    inner: Arc<Inner>,
    relay: Option<RelayHandle>,
    consumers: Vec<ConsumerHandle>,
    tasks: Vec<JoinHandle<()>>,
}

impl SyncRuntime {
    /// The admin contract, to add to the service's routes.
    pub fn admin_service(
        &self,
    ) -> talentmesh_proto::sync::v1::sync_admin_service_server::SyncAdminServiceServer<SyncAdmin>
    {
        talentmesh_proto::sync::v1::sync_admin_service_server::SyncAdminServiceServer::new(
            SyncAdmin::new(Arc::clone(&self.inner)),
        )
    }

    pub fn relay(&self) -> Option<&RelayHandle> {
        self.relay.as_ref()
    }

    pub fn consumers(&self) -> &[ConsumerHandle] {
        &self.consumers
    }

    pub fn dead_letters(&self) -> &DeadLetters {
        &self.inner.dead_letters
    }

    /// Starts an operation in the background and returns it as first saved.
    pub async fn start_operation(
        &self,
        kind: OperationKind,
        projections: &[String],
    ) -> Result<Operation> {
        start_operation(&self.inner, kind, projections).await
    }

    /// Runs an operation to its end.
    pub async fn run_operation(
        &self,
        kind: OperationKind,
        projections: &[String],
    ) -> Result<Operation> {
        let (op, chosen) = new_operation(&self.inner, kind, projections)?;
        self.inner.operations.create(&op).await?;
        Ok(run_operation(Arc::clone(&self.inner), op, chosen).await)
    }

    pub async fn operation(&self, id: &str) -> Result<Option<Operation>> {
        self.inner.operations.get(id).await
    }

    pub async fn status(&self) -> Result<talentmesh_proto::sync::v1::SyncStatus> {
        status::status(&self.inner).await
    }

    /// Replays dead letters through their group's handler; returns (replayed, still failing).
    pub async fn replay(&self, letters: Vec<DeadLetter>) -> Result<(i64, Vec<DeadLetter>)> {
        replay::replay(&self.inner, letters).await
    }

    /// Stops the relay (releasing its lease), the consumers and the background tasks.
    pub async fn shutdown(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(relay) = self.relay.take() {
            relay.shutdown().await;
        }
        for c in std::mem::take(&mut self.consumers) {
            c.shutdown().await;
        }
    }

    /// Ends everything at once, like a killed process (for fault tests).
    pub fn abort(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(relay) = self.relay.take() {
            relay.abort();
        }
        for c in std::mem::take(&mut self.consumers) {
            c.abort();
        }
    }
}

impl Drop for SyncRuntime {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn new_operation(
    inner: &Inner,
    kind: OperationKind,
    names: &[String],
) -> Result<(Operation, Vec<Arc<dyn Projection>>)> {
    if kind == OperationKind::Unspecified {
        return Err(Error::InvalidUpdate("an operation needs a kind".into()));
    }
    let chosen: Vec<Arc<dyn Projection>> = if names.is_empty() {
        inner.projections.clone()
    } else {
        let mut chosen = Vec::new();
        for name in names {
            let p = inner
                .projections
                .iter()
                .find(|p| p.name() == name)
                .ok_or_else(|| Error::InvalidUpdate(format!("no projection named {name}")))?;
            chosen.push(Arc::clone(p));
        }
        chosen
    };
    let now = talentmesh_mesh::time::now();
    let op = Operation {
        name: format!("operations/{}", uuid::Uuid::now_v7()),
        service: inner.service.clone(),
        kind: kind as i32,
        state: OperationState::Running as i32,
        projections: chosen
            .iter()
            .map(|p| ProjectionProgress {
                projection: p.name().to_string(),
                store: status::store_of(p.store()) as i32,
                entity_type: p.entity_type().to_string(),
                ..Default::default()
            })
            .collect(),
        start_time: Some(now),
        end_time: None,
        error: String::new(),
        done: false,
        create_time: Some(now),
        cancel_requested: false,
    };
    Ok((op, chosen))
}

pub(crate) async fn start_operation(
    inner: &Arc<Inner>,
    kind: OperationKind,
    names: &[String],
) -> Result<Operation> {
    let (op, chosen) = new_operation(inner, kind, names)?;
    inner.operations.create(&op).await?;
    tokio::spawn(run_operation(Arc::clone(inner), op.clone(), chosen));
    Ok(op)
}

async fn run_operation(
    inner: Arc<Inner>,
    mut op: Operation,
    chosen: Vec<Arc<dyn Projection>>,
) -> Operation {
    let kind = OperationKind::try_from(op.kind).unwrap_or(OperationKind::Check);
    tracing::info!(operation = %op.name, kind = ?kind, "sync operation started");
    let mut failure: Option<String> = None;
    let mut cancelled = false;
    for (i, projection) in chosen.iter().enumerate() {
        let Some(source) = inner.sources.get(projection.entity_type()) else {
            failure = Some(format!(
                "no source for entity type {} of projection {}",
                projection.entity_type(),
                projection.name()
            ));
            break;
        };
        let mut progress = op.projections[i].clone();
        let shared = op.clone();
        let ops = inner.operations.clone();
        let outcome =
            check::reconcile(kind, projection, source, inner.settle, &mut progress, |p| {
                let mut snapshot = shared.clone();
                snapshot.projections[i] = p;
                let ops = ops.clone();
                async move {
                    // Answers whether to go on: not when CancelOperation asked it to stop.
                    // Progress is best effort (the final state is saved below), and so is the
                    // look for a cancel request: with Redis away the operation goes on.
                    !ops.save_progress(&snapshot).await.unwrap_or(false)
                }
            })
            .await;
        inner.metrics.add_drift(
            &progress.projection,
            projection.store().as_str(),
            progress.missing,
            progress.stale,
            progress.orphaned,
            progress.repaired,
        );
        op.projections[i] = progress;
        match outcome {
            Ok(check::Ended::Done) => {}
            Ok(check::Ended::Cancelled) => {
                cancelled = true;
                break;
            }
            Err(e) => {
                failure = Some(format!("{}: {e}", projection.name()));
                break;
            }
        }
    }
    op.end_time = Some(talentmesh_mesh::time::now());
    op.done = true;
    match failure {
        // Cancelled: the progress so far is kept; it is not the projections' last finished
        // check, so status keeps reporting the one before.
        None if cancelled => {
            tracing::info!(operation = %op.name, "sync operation cancelled");
            op.state = OperationState::Cancelled as i32;
            let _ = inner.operations.save(&op).await;
        }
        Some(e) => {
            tracing::warn!(operation = %op.name, error = %e, "sync operation failed");
            op.state = OperationState::Failed as i32;
            op.error = e;
            let _ = inner.operations.save(&op).await;
        }
        None => {
            op.state = OperationState::Succeeded as i32;
            tracing::info!(operation = %op.name, drift = drift_total(&op), "sync operation finished");
            if let Err(e) = inner.operations.finish(&op).await {
                tracing::warn!(error = %e, "could not store the finished operation");
            }
        }
    }
    op
}

async fn scheduled_checks(inner: Arc<Inner>, every: Duration, kind: OperationKind) {
    loop {
        tokio::time::sleep(every).await;
        if inner.projections.is_empty() {
            continue;
        }
        // One instance checks on schedule: the one holding the relay lease (any instance still
        // runs a check on demand). Without a relay every instance checks.
        if inner
            .relay_metrics
            .as_ref()
            .is_some_and(|relay| !relay.is_leader())
        {
            continue;
        }
        match new_operation(&inner, kind, &[]) {
            Ok((op, chosen)) => {
                let _ = inner.operations.create(&op).await;
                run_operation(Arc::clone(&inner), op, chosen).await;
            }
            Err(e) => tracing::warn!(error = %e, "scheduled check could not start"),
        }
    }
}

/// Drift found and repaired by this instance's checks, for status.
pub(crate) fn drift_totals(inner: &Inner) -> (u64, u64) {
    (
        inner.metrics.drift_found_total.load(Ordering::Relaxed),
        inner.metrics.drift_repaired_total.load(Ordering::Relaxed),
    )
}
