//! `SyncAdminService`: the admin contract every service serves through the framework, and the
//! sync control plane calls. Platform admins only.

use std::sync::Arc;

use talentmesh_mesh::{ApiError, ErrorCode, FieldViolation};
use talentmesh_proto::sync::v1::sync_admin_service_server::SyncAdminService;
use talentmesh_proto::sync::v1::{
    CancelOperationRequest, CancelOperationResponse, DeadLetter as DeadLetterProto,
    DiscardDeadLettersRequest, DiscardDeadLettersResponse, GetOperationRequest,
    GetOperationResponse, GetSyncStatusRequest, GetSyncStatusResponse, ListDeadLettersRequest,
    ListDeadLettersResponse, ListOperationsRequest, ListOperationsResponse, OperationKind,
    OperationState, ReplayDeadLettersRequest, ReplayDeadLettersResponse, StartOperationRequest,
    StartOperationResponse,
};
use tonic::{Request, Response, Status};

use super::Inner;
use crate::bus::DeadLetter;
use crate::paging::Pages;
use crate::Error;

const MAX_PAGE: i32 = 1000;
const DEFAULT_PAGE: i32 = 100;

/// The page size asked for, [`DEFAULT_PAGE`] for 0 (after [`check_page_size`]).
fn page_size(asked: i32) -> usize {
    usize::try_from(if asked == 0 { DEFAULT_PAGE } else { asked }).unwrap_or(100)
}

/// INVALID_ARGUMENT on `page_size` unless it is 0 (the default) to [`MAX_PAGE`].
fn check_page_size(page_size: i32) -> Result<(), Status> {
    if (0..=MAX_PAGE).contains(&page_size) {
        Ok(())
    } else {
        Err(invalid("page_size", "must be between 0 and 1000"))
    }
}

pub struct SyncAdmin {
    inner: Arc<Inner>,
}

impl SyncAdmin {
    pub(crate) fn new(inner: Arc<Inner>) -> SyncAdmin {
        SyncAdmin { inner }
    }
}

fn require_admin<T>(req: &Request<T>) -> Result<(), Status> {
    let caller = talentmesh_mesh::auth::caller(req)?;
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::permission_denied("data-sync administration is for platform admins").into())
    }
}

fn store_error(e: Error) -> Status {
    ApiError::from(e).into()
}

fn invalid(field: &str, why: &str) -> Status {
    ApiError::invalid(vec![FieldViolation::new(field, why)]).into()
}

/// The id of `operations/{id}`, or INVALID_ARGUMENT on `name`.
fn operation_id(name: &str) -> Result<&str, Status> {
    name.strip_prefix("operations/")
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(|| invalid("name", "must be operations/{id}"))
}

fn operation_not_found(name: &str) -> Status {
    ApiError::new(ErrorCode::NotFound, format!("{name} not found")).into()
}

/// A stream entry id, `<ms>-<seq>`: dead-letter ids and page tokens.
fn is_entry_id(s: &str) -> bool {
    let mut parts = s.splitn(2, '-');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next())
}

fn to_proto(d: &DeadLetter) -> DeadLetterProto {
    let ms = d.dead_millis();
    DeadLetterProto {
        id: d.id.clone(),
        group: d.group.clone(),
        stream: d.stream.clone(),
        entry_id: d.entry_id.clone(),
        event_id: d.field("id"),
        event_type: d.field("type"),
        subject: d.field("subject"),
        entity_version: d.field("version").parse().unwrap_or(0),
        error: d.error.clone(),
        deliveries: i64::try_from(d.deliveries).unwrap_or(i64::MAX),
        dead_time: chrono::DateTime::from_timestamp_millis(ms)
            .map(talentmesh_mesh::time::timestamp),
    }
}

impl SyncAdmin {
    /// The letters a replay or discard names: all of them, or the listed ids.
    async fn chosen(&self, ids: &[String], all: bool) -> Result<Vec<DeadLetter>, Status> {
        if all && !ids.is_empty() {
            return Err(invalid("ids", "give either ids or all, not both"));
        }
        if !all && ids.is_empty() {
            return Err(invalid("ids", "name at least one dead letter, or set all"));
        }
        if let Some(bad) = ids.iter().find(|id| !is_entry_id(id)) {
            return Err(invalid("ids", &format!("{bad} is not a dead-letter id")));
        }
        let letters = if all {
            self.inner.dead_letters.all().await
        } else {
            self.inner.dead_letters.get(ids).await
        };
        letters.map_err(store_error)
    }
}

#[tonic::async_trait]
impl SyncAdminService for SyncAdmin {
    async fn get_sync_status(
        &self,
        req: Request<GetSyncStatusRequest>,
    ) -> Result<Response<GetSyncStatusResponse>, Status> {
        require_admin(&req)?;
        let status = super::status::status(&self.inner)
            .await
            .map_err(store_error)?;
        Ok(Response::new(GetSyncStatusResponse {
            status: Some(status),
        }))
    }

    async fn start_operation(
        &self,
        req: Request<StartOperationRequest>,
    ) -> Result<Response<StartOperationResponse>, Status> {
        require_admin(&req)?;
        let r = req.into_inner();
        let kind = OperationKind::try_from(r.kind).unwrap_or(OperationKind::Unspecified);
        if kind == OperationKind::Unspecified {
            return Err(invalid("kind", "must be CHECK, REPAIR or REBUILD"));
        }
        if let Some(unknown) = r.projections.iter().find(|n| {
            !self
                .inner
                .projections
                .iter()
                .any(|p| p.name() == n.as_str())
        }) {
            return Err(invalid(
                "projections",
                &format!("{unknown} is not a projection of {}", self.inner.service),
            ));
        }
        let op = super::start_operation(&self.inner, kind, &r.projections)
            .await
            .map_err(store_error)?;
        Ok(Response::new(StartOperationResponse {
            operation: Some(op),
        }))
    }

    async fn get_operation(
        &self,
        req: Request<GetOperationRequest>,
    ) -> Result<Response<GetOperationResponse>, Status> {
        require_admin(&req)?;
        let name = req.into_inner().name;
        let id = operation_id(&name)?;
        match self.inner.operations.get(id).await.map_err(store_error)? {
            Some(op) => Ok(Response::new(GetOperationResponse {
                operation: Some(op),
            })),
            None => Err(operation_not_found(&name)),
        }
    }

    async fn list_operations(
        &self,
        req: Request<ListOperationsRequest>,
    ) -> Result<Response<ListOperationsResponse>, Status> {
        require_admin(&req)?;
        let r = req.into_inner();
        check_page_size(r.page_size)?;
        let state = super::operations::parse_state_filter(&r.filter)
            .map_err(|why| invalid("filter", &why))?;
        // Keyed on the last operation id of the page, bound to this service and the filter: a
        // token of another service (the control plane forwards them) or another filter is
        // refused rather than paging through the wrong list.
        let pages = Pages::of("sync.operations")
            .bind(&self.inner.service)
            .bind(state.unwrap_or(0));
        let before: Option<String> = pages
            .parse(&r.page_token)
            .map_err(|v| Status::from(ApiError::invalid(vec![v])))?;
        if before
            .as_deref()
            .is_some_and(|b| uuid::Uuid::parse_str(b).is_err())
        {
            return Err(invalid("page_token", "not a token this service issued"));
        }
        let size = page_size(r.page_size);
        let (operations, more) = self
            .inner
            .operations
            .list(before.as_deref(), size, state)
            .await
            .map_err(store_error)?;
        let next_page_token = match operations.last() {
            Some(last) if more => {
                pages.token(&last.name.trim_start_matches("operations/").to_string())
            }
            _ => String::new(),
        };
        Ok(Response::new(ListOperationsResponse {
            operations,
            next_page_token,
        }))
    }

    async fn cancel_operation(
        &self,
        req: Request<CancelOperationRequest>,
    ) -> Result<Response<CancelOperationResponse>, Status> {
        require_admin(&req)?;
        let name = req.into_inner().name;
        let id = operation_id(&name)?;
        let mut op = self
            .inner
            .operations
            .get(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| operation_not_found(&name))?;
        if op.state != OperationState::Running as i32 {
            let state = OperationState::try_from(op.state)
                .unwrap_or(OperationState::Unspecified)
                .as_str_name();
            return Err(ApiError::new(
                ErrorCode::FailedPrecondition,
                format!("{name} is done ({state}); only a running operation can be cancelled"),
            )
            .with_precondition("STATE", name.as_str(), format!("is {state}, not RUNNING"))
            .into());
        }
        // The instance running it stops at its next batch boundary; whichever instance answers
        // here, the request reaches it through Redis.
        self.inner
            .operations
            .request_cancel(id)
            .await
            .map_err(store_error)?;
        tracing::warn!(operation = %name, "sync operation cancellation asked by an admin");
        op.cancel_requested = true;
        Ok(Response::new(CancelOperationResponse {
            operation: Some(op),
        }))
    }

    async fn list_dead_letters(
        &self,
        req: Request<ListDeadLettersRequest>,
    ) -> Result<Response<ListDeadLettersResponse>, Status> {
        require_admin(&req)?;
        let r = req.into_inner();
        check_page_size(r.page_size)?;
        // Keyed on the stream entry id, bound to this service's list: a token of another
        // service's dead letters (the control plane forwards them) is refused.
        let pages = Pages::of("sync.dead_letters").bind(&self.inner.service);
        let after: Option<String> = pages
            .parse(&r.page_token)
            .map_err(|v| Status::from(ApiError::invalid(vec![v])))?;
        if after.as_deref().is_some_and(|a| !is_entry_id(a)) {
            return Err(invalid("page_token", "not a token this service issued"));
        }
        let size = page_size(r.page_size);
        let letters = self
            .inner
            .dead_letters
            .list(after.as_deref(), size)
            .await
            .map_err(store_error)?;
        let next_page_token = if letters.len() == size {
            letters
                .last()
                .map(|d| pages.token(&d.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListDeadLettersResponse {
            dead_letters: letters.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn replay_dead_letters(
        &self,
        req: Request<ReplayDeadLettersRequest>,
    ) -> Result<Response<ReplayDeadLettersResponse>, Status> {
        require_admin(&req)?;
        let r = req.into_inner();
        let letters = self.chosen(&r.ids, r.all).await?;
        let (replayed, failed) = super::replay::replay(&self.inner, letters)
            .await
            .map_err(store_error)?;
        Ok(Response::new(ReplayDeadLettersResponse {
            replayed,
            failed: failed.iter().map(to_proto).collect(),
        }))
    }

    async fn discard_dead_letters(
        &self,
        req: Request<DiscardDeadLettersRequest>,
    ) -> Result<Response<DiscardDeadLettersResponse>, Status> {
        require_admin(&req)?;
        let r = req.into_inner();
        let letters = self.chosen(&r.ids, r.all).await?;
        let ids: Vec<String> = letters.into_iter().map(|d| d.id).collect();
        let discarded = self
            .inner
            .dead_letters
            .remove(&ids)
            .await
            .map_err(store_error)?;
        if discarded > 0 {
            tracing::warn!(count = discarded, "dead letters discarded by an admin");
        }
        Ok(Response::new(DiscardDeadLettersResponse { discarded }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_ids_are_recognised() {
        assert!(super::is_entry_id("1700000000000-0"));
        assert!(!super::is_entry_id("1700000000000"));
        assert!(!super::is_entry_id("abc-1"));
        assert!(!super::is_entry_id("1-"));
    }
}
