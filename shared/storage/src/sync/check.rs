//! The consistency checker: compares each projection with MySQL, entity by entity, and repairs.
//!
//! Pass 1 pages through the source in id order and looks up what the projection holds for each
//! page: an entity not there is *missing*, one at an older version or with another content hash
//! is *stale*. Pass 2 pages through the projection's live records and asks MySQL for them: one
//! MySQL does not have at all is *orphaned*. Reads are plain (non-locking) so writes go on
//! meanwhile; an entity that looks behind may just be an event in flight, so candidates are
//! looked at again after a short settle before they count as drift.
//!
//! Repair re-projects drifted entities from their current MySQL state and removes orphans;
//! rebuild re-projects every entity. Both go through the projection's version guard, so live
//! events flowing at the same time are never overwritten by an older state.
//! A projection whose install finds records marked stale is repaired at start
//! ([`repair_at_start`]), whether or not checks are scheduled.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use talentmesh_proto::sync::v1::{Operation, OperationKind, ProjectionProgress};

use crate::projection::{Change, Projection, Source, Stamp};
use crate::Result;

/// Entities per page.
const PAGE: usize = 500;
/// At most this many candidates are re-checked one by one; past it, they count as found.
const MAX_CANDIDATES: usize = 100_000;

/// How the projection compares with the truth for one entity.
pub(crate) fn drift_of(truth: &Change, held: Option<&Stamp>) -> Option<Drift> {
    match held {
        None if truth.deleted => None,
        None => Some(Drift::Missing),
        // The projection is ahead of our read of MySQL: a write committed since. Fine.
        Some(s) if s.version > truth.version => None,
        Some(s) if s.version < truth.version => Some(Drift::Stale),
        Some(s) if truth.deleted => (!s.deleted).then_some(Drift::Stale),
        Some(s) => (s.deleted || s.hash != truth.content_hash()).then_some(Drift::Stale),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drift {
    Missing,
    Stale,
}

/// Repairs `names`, projections whose install found records marked stale (see
/// [`crate::projection::Installed::NeedsRepair`]), as a Repair operation the admin API lists.
/// Every instance that found them repairs: repairs go through the projections' version guard,
/// so instances starting together only duplicate work.
pub(super) async fn repair_at_start(inner: Arc<super::Inner>, names: Vec<String>) {
    tracing::info!(projections = ?names, "records marked stale at install; repairing");
    match super::new_operation(&inner, OperationKind::Repair, &names) {
        Ok((op, chosen)) => {
            let _ = inner.operations.create(&op).await;
            super::run_operation(inner, op, chosen).await;
        }
        Err(e) => tracing::warn!(error = %e, "repair at start could not start"),
    }
}

/// How one projection's part of an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Done,
    /// `report` answered false at a batch boundary: the operation was cancelled. The progress
    /// up to that boundary stands (what was repaired stays repaired).
    Cancelled,
}

/// Runs one projection's part of an operation; `progress` is saved by `report` as it goes, at
/// each batch boundary. `report` answers whether to go on: false stops at that boundary with
/// [`Ended::Cancelled`] (cooperative cancellation).
pub(crate) async fn reconcile<F, Fut>(
    kind: OperationKind,
    projection: &Arc<dyn Projection>,
    source: &Arc<dyn Source>,
    settle: Duration,
    progress: &mut ProjectionProgress,
    mut report: F,
) -> Result<Ended>
where
    F: FnMut(ProjectionProgress) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let repair = matches!(kind, OperationKind::Repair | OperationKind::Rebuild);
    progress.total = source.count().await?;
    if !report(progress.clone()).await {
        return Ok(Ended::Cancelled);
    }

    // Pass 1: what MySQL has.
    let mut candidates: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = source.page(after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id.clone());
        let ids: Vec<String> = page.iter().map(|c| c.id.clone()).collect();
        let held: HashMap<String, Stamp> = projection
            .stamps(&ids)
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let mut overflow = Vec::new();
        for truth in &page {
            if drift_of(truth, held.get(&truth.id)).is_some() {
                if candidates.len() < MAX_CANDIDATES {
                    candidates.push(truth.id.clone());
                } else {
                    overflow.push(truth.clone());
                }
            }
        }
        if kind == OperationKind::Rebuild {
            projection.apply(&page).await?;
            progress.repaired += page.len() as i64;
        } else if repair && !overflow.is_empty() {
            projection.apply(&overflow).await?;
            progress.repaired += overflow.len() as i64;
        }
        progress.stale += overflow.len() as i64;
        progress.scanned += page.len() as i64;
        if !report(progress.clone()).await {
            return Ok(Ended::Cancelled);
        }
    }

    // Candidates again after events in flight have had time to land.
    if !candidates.is_empty() {
        tokio::time::sleep(settle).await;
        for chunk in candidates.chunks(PAGE) {
            let truths = source.load(chunk).await?;
            let held: HashMap<String, Stamp> = projection
                .stamps(chunk)
                .await?
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect();
            let mut fix = Vec::new();
            for truth in truths {
                match drift_of(&truth, held.get(&truth.id)) {
                    Some(Drift::Missing) => progress.missing += 1,
                    Some(Drift::Stale) => progress.stale += 1,
                    None => continue,
                }
                fix.push(truth);
            }
            if repair && !fix.is_empty() {
                projection.apply(&fix).await?;
                progress.repaired += fix.len() as i64;
            }
            if !report(progress.clone()).await {
                return Ok(Ended::Cancelled);
            }
        }
    }

    // Pass 2: what the projection has that MySQL does not.
    let mut cursor: Option<String> = None;
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let (ids, next) = projection.live_ids(cursor.take(), PAGE).await?;
        let fresh: Vec<String> = ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect();
        if !fresh.is_empty() {
            let present: HashSet<String> = source
                .load(&fresh)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            let orphans: Vec<String> = fresh
                .into_iter()
                .filter(|id| !present.contains(id))
                .collect();
            progress.orphaned += orphans.len() as i64;
            if repair && !orphans.is_empty() {
                projection.remove(&orphans).await?;
                progress.repaired += orphans.len() as i64;
            }
        }
        if !report(progress.clone()).await {
            return Ok(Ended::Cancelled);
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    progress.done = true;
    report(progress.clone()).await;
    Ok(Ended::Done)
}

/// Total drift an operation found.
pub fn drift_total(op: &Operation) -> i64 {
    op.projections
        .iter()
        .map(|p| p.missing + p.stale + p.orphaned)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(version: i64, deleted: bool, state: &[u8]) -> Change {
        Change {
            id: "a".into(),
            version,
            deleted,
            state: state.to_vec(),
        }
    }

    fn stamp(c: &Change) -> Stamp {
        Stamp {
            id: c.id.clone(),
            version: c.version,
            deleted: c.deleted,
            hash: c.content_hash(),
        }
    }

    #[test]
    fn drift_is_judged_by_version_then_content() {
        let t = truth(3, false, b"x");
        assert_eq!(drift_of(&t, None), Some(Drift::Missing));
        assert_eq!(drift_of(&t, Some(&stamp(&t))), None);
        assert_eq!(
            drift_of(&t, Some(&stamp(&truth(2, false, b"x")))),
            Some(Drift::Stale)
        );
        assert_eq!(
            drift_of(&t, Some(&stamp(&truth(3, false, b"y")))),
            Some(Drift::Stale)
        );
        // A projection ahead of our read is a write in flight, not drift.
        assert_eq!(drift_of(&t, Some(&stamp(&truth(4, false, b"z")))), None);
    }

    #[test]
    fn deleted_entities_need_a_tombstone_or_nothing() {
        let gone = truth(5, true, b"");
        assert_eq!(drift_of(&gone, None), None);
        assert_eq!(drift_of(&gone, Some(&stamp(&gone))), None);
        assert_eq!(
            drift_of(&gone, Some(&stamp(&truth(5, false, b"x")))),
            Some(Drift::Stale)
        );
        assert_eq!(
            drift_of(&gone, Some(&stamp(&truth(4, false, b"x")))),
            Some(Drift::Stale)
        );
    }
}
