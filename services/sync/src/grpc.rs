//! The gRPC adapter of `SyncService`: checks that the caller is a platform admin, parses names,
//! asks the instances through the [`Fleet`] and merges their answers with [`crate::merge`].

use futures::future::join_all;
use talentmesh_mesh::caller;
use talentmesh_mesh::consul::Instance;
use talentmesh_mesh::FieldViolation;
use talentmesh_proto::sync::v1 as pb;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::fleet::{AdminClient, Fleet, Forwarded};
use crate::merge;
use crate::names::{OperationName, ServiceName};

pub struct SyncGrpc {
    pub fleet: Fleet,
}

/// The caller must be a platform admin; the headers to forward to instances come with the check
/// so no handler can call an instance without passing it.
fn admin<T>(req: &Request<T>) -> Result<Forwarded, Status> {
    if !caller(req)?.is_admin() {
        return Err(Error::NotAdmin.into());
    }
    Ok(Forwarded::from_request(req))
}

fn parse_service(field: &str, value: &str) -> Result<ServiceName, Status> {
    ServiceName::parse(field, value).map_err(|v| Error::Invalid(vec![v]).into())
}

fn address(instance: &Instance) -> String {
    format!("{}:{}", instance.address, instance.port)
}

fn describe(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

fn instance_sync(
    (instance, answer): (Instance, Result<pb::SyncStatus, Status>),
) -> pb::InstanceSync {
    let address = address(&instance);
    match answer {
        Ok(status) => pb::InstanceSync {
            instance: instance.id,
            address,
            status: Some(status),
            error: String::new(),
        },
        Err(status) => pb::InstanceSync {
            instance: instance.id,
            address,
            status: None,
            error: describe(&status),
        },
    }
}

/// Renames the operation an instance returned to the API's `services/{service}/operations/{id}`.
fn rename_operation(service: &ServiceName, mut op: pb::Operation) -> Result<pb::Operation, Error> {
    let name = OperationName::from_instance(service, &op.name).ok_or_else(|| {
        Error::BrokenAnswer(format!("{service} named an operation `{}`", op.name))
    })?;
    op.name = name.resource();
    Ok(op)
}

fn operation_of(service: &ServiceName, op: Option<pb::Operation>) -> Result<pb::Operation, Status> {
    let op = op.ok_or_else(|| Error::BrokenAnswer(format!("{service} sent no operation")))?;
    Ok(rename_operation(service, op)?)
}

impl SyncGrpc {
    /// A call about one operation (get, cancel) forwarded to any instance of its service.
    /// `name` is the control plane's resource name (`syncServices/{service}/operations/{id}`,
    /// checked here: INVALID_ARGUMENT otherwise); `call` sends the instance's own name for it,
    /// and `operation` takes the operation out of the answer, which comes back under the
    /// control plane's name.
    async fn forward_by_name<T, F, Fut>(
        &self,
        name: &str,
        call: F,
        operation: fn(T) -> Option<pb::Operation>,
    ) -> Result<pb::Operation, Status>
    where
        F: Fn(AdminClient, String, std::time::Duration) -> Fut,
        Fut: std::future::Future<Output = Result<Response<T>, Status>>,
    {
        let name = OperationName::parse("name", name)
            .map_err(|v| Status::from(Error::Invalid(vec![v])))?;
        tracing::Span::current().record("operation", name.resource());
        let instance_name = name.instance_name();
        let answer = self
            .fleet
            .call_any(&name.service, |client, deadline| {
                call(client, instance_name.clone(), deadline)
            })
            .await?;
        operation_of(&name.service, operation(answer))
    }

    async fn service_sync(
        &self,
        service: &ServiceName,
        instances: &[Instance],
        forwarded: &Forwarded,
    ) -> pb::ServiceSync {
        let answers = self.fleet.statuses(instances, forwarded).await;
        merge::service_sync(service, answers.into_iter().map(instance_sync).collect())
    }
}

#[tonic::async_trait]
impl pb::sync_service_server::SyncService for SyncGrpc {
    #[tracing::instrument(skip_all, fields(rpc = "GetOverview"))]
    async fn get_overview(
        &self,
        request: Request<pb::GetOverviewRequest>,
    ) -> Result<Response<pb::GetOverviewResponse>, Status> {
        let forwarded = admin(&request)?;
        let services = self.fleet.services().await.map_err(Status::from)?;
        let merged = join_all(
            services
                .iter()
                .map(|(name, instances)| self.service_sync(name, instances, &forwarded)),
        )
        .await;
        Ok(Response::new(merge::overview(merged)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetServiceSync", service))]
    async fn get_service_sync(
        &self,
        request: Request<pb::GetServiceSyncRequest>,
    ) -> Result<Response<pb::GetServiceSyncResponse>, Status> {
        let forwarded = admin(&request)?;
        let service = parse_service("name", &request.get_ref().name)?;
        tracing::Span::current().record("service", service.as_str());
        let instances = self.fleet.require(&service).await?;
        let merged = self.service_sync(&service, &instances, &forwarded).await;
        Ok(Response::new(pb::GetServiceSyncResponse {
            service: Some(merged),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetStoreHealth"))]
    async fn get_store_health(
        &self,
        request: Request<pb::GetStoreHealthRequest>,
    ) -> Result<Response<pb::GetStoreHealthResponse>, Status> {
        let forwarded = admin(&request)?;
        let services = self.fleet.services().await.map_err(Status::from)?;
        let per_service = join_all(services.iter().map(|(name, instances)| {
            let forwarded = &forwarded;
            async move {
                let answers = self.fleet.statuses(instances, forwarded).await;
                answers
                    .into_iter()
                    .map(|(instance, answer)| match answer {
                        Ok(status) => pb::InstanceStoreHealth {
                            service: name.as_str().to_string(),
                            instance: instance.id,
                            stores: status.stores,
                            error: String::new(),
                        },
                        Err(status) => pb::InstanceStoreHealth {
                            service: name.as_str().to_string(),
                            instance: instance.id,
                            stores: Vec::new(),
                            error: describe(&status),
                        },
                    })
                    .collect::<Vec<_>>()
            }
        }))
        .await;
        Ok(Response::new(merge::store_health(
            per_service.into_iter().flatten().collect(),
        )))
    }

    #[tracing::instrument(skip_all, fields(rpc = "StartSyncOperation", service, kind))]
    async fn start_sync_operation(
        &self,
        request: Request<pb::StartSyncOperationRequest>,
    ) -> Result<Response<pb::StartSyncOperationResponse>, Status> {
        let forwarded = admin(&request)?;
        let req = request.into_inner();
        // Both fields are checked before answering, so a caller fixes everything in one go.
        let mut violations = Vec::new();
        let service = ServiceName::parse("parent", &req.parent)
            .map_err(|v| violations.push(v))
            .ok();
        let kind = match pb::OperationKind::try_from(req.kind) {
            Ok(pb::OperationKind::Unspecified) | Err(_) => {
                violations.push(FieldViolation::new(
                    "kind",
                    "must be OPERATION_KIND_CHECK, OPERATION_KIND_REPAIR or OPERATION_KIND_REBUILD",
                ));
                None
            }
            Ok(kind) => Some(kind),
        };
        let (Some(service), Some(kind), true) = (service, kind, violations.is_empty()) else {
            return Err(Error::Invalid(violations).into());
        };
        let span = tracing::Span::current();
        span.record("service", service.as_str());
        span.record("kind", kind.as_str_name());
        let projections = req.projections;
        let answer = self
            .fleet
            .call_any(&service, |mut client, deadline| {
                let message = pb::StartOperationRequest {
                    kind: kind as i32,
                    projections: projections.clone(),
                };
                let request = forwarded.request(message, deadline);
                async move { client.start_operation(request).await }
            })
            .await?;
        Ok(Response::new(pb::StartSyncOperationResponse {
            operation: Some(operation_of(&service, answer.operation)?),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetSyncOperation", operation))]
    async fn get_sync_operation(
        &self,
        request: Request<pb::GetSyncOperationRequest>,
    ) -> Result<Response<pb::GetSyncOperationResponse>, Status> {
        let forwarded = admin(&request)?;
        let operation = self
            .forward_by_name(
                &request.get_ref().name,
                |mut client, name, deadline| {
                    let request = forwarded.request(pb::GetOperationRequest { name }, deadline);
                    async move { client.get_operation(request).await }
                },
                |answer| answer.operation,
            )
            .await?;
        Ok(Response::new(pb::GetSyncOperationResponse {
            operation: Some(operation),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListSyncOperations", service))]
    async fn list_sync_operations(
        &self,
        request: Request<pb::ListSyncOperationsRequest>,
    ) -> Result<Response<pb::ListSyncOperationsResponse>, Status> {
        let forwarded = admin(&request)?;
        let req = request.into_inner();
        let service = parse_service("parent", &req.parent)?;
        tracing::Span::current().record("service", service.as_str());
        // Operations live in the service's Redis, so one instance lists them all; page size,
        // token and filter are checked there (the token is bound to the service).
        let answer = self
            .fleet
            .call_any(&service, |mut client, deadline| {
                let request = forwarded.request(
                    pb::ListOperationsRequest {
                        page_size: req.page_size,
                        page_token: req.page_token.clone(),
                        filter: req.filter.clone(),
                    },
                    deadline,
                );
                async move { client.list_operations(request).await }
            })
            .await?;
        let operations = answer
            .operations
            .into_iter()
            .map(|op| rename_operation(&service, op))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Response::new(pb::ListSyncOperationsResponse {
            operations,
            next_page_token: answer.next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "CancelSyncOperation", operation))]
    async fn cancel_sync_operation(
        &self,
        request: Request<pb::CancelSyncOperationRequest>,
    ) -> Result<Response<pb::CancelSyncOperationResponse>, Status> {
        let forwarded = admin(&request)?;
        // Any instance will do: the cancel request goes through Redis to the one running it.
        let operation = self
            .forward_by_name(
                &request.get_ref().name,
                |mut client, name, deadline| {
                    let request = forwarded.request(pb::CancelOperationRequest { name }, deadline);
                    async move { client.cancel_operation(request).await }
                },
                |answer| answer.operation,
            )
            .await?;
        Ok(Response::new(pb::CancelSyncOperationResponse {
            operation: Some(operation),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListServiceDeadLetters", service))]
    async fn list_service_dead_letters(
        &self,
        request: Request<pb::ListServiceDeadLettersRequest>,
    ) -> Result<Response<pb::ListServiceDeadLettersResponse>, Status> {
        let forwarded = admin(&request)?;
        let req = request.into_inner();
        let service = parse_service("parent", &req.parent)?;
        tracing::Span::current().record("service", service.as_str());
        let answer = self
            .fleet
            .call_any(&service, |mut client, deadline| {
                let request = forwarded.request(
                    pb::ListDeadLettersRequest {
                        page_size: req.page_size,
                        page_token: req.page_token.clone(),
                    },
                    deadline,
                );
                async move { client.list_dead_letters(request).await }
            })
            .await?;
        Ok(Response::new(pb::ListServiceDeadLettersResponse {
            dead_letters: answer.dead_letters,
            next_page_token: answer.next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ReplayServiceDeadLetters", service))]
    async fn replay_service_dead_letters(
        &self,
        request: Request<pb::ReplayServiceDeadLettersRequest>,
    ) -> Result<Response<pb::ReplayServiceDeadLettersResponse>, Status> {
        let forwarded = admin(&request)?;
        let req = request.into_inner();
        let service = parse_service("parent", &req.parent)?;
        tracing::Span::current().record("service", service.as_str());
        let answer = self
            .fleet
            .call_any(&service, |mut client, deadline| {
                let request = forwarded.request(
                    pb::ReplayDeadLettersRequest {
                        ids: req.ids.clone(),
                        all: req.all,
                    },
                    deadline,
                );
                async move { client.replay_dead_letters(request).await }
            })
            .await?;
        Ok(Response::new(pb::ReplayServiceDeadLettersResponse {
            replayed: answer.replayed,
            failed: answer.failed,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "DiscardServiceDeadLetters", service))]
    async fn discard_service_dead_letters(
        &self,
        request: Request<pb::DiscardServiceDeadLettersRequest>,
    ) -> Result<Response<pb::DiscardServiceDeadLettersResponse>, Status> {
        let forwarded = admin(&request)?;
        let req = request.into_inner();
        let service = parse_service("parent", &req.parent)?;
        tracing::Span::current().record("service", service.as_str());
        let answer = self
            .fleet
            .call_any(&service, |mut client, deadline| {
                let request = forwarded.request(
                    pb::DiscardDeadLettersRequest {
                        ids: req.ids.clone(),
                        all: req.all,
                    },
                    deadline,
                );
                async move { client.discard_dead_letters(request).await }
            })
            .await?;
        Ok(Response::new(pb::DiscardServiceDeadLettersResponse {
            discarded: answer.discarded,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn operations_get_the_api_name_or_are_refused() {
        let service = ServiceName::new("identity");
        let op = pb::Operation {
            name: "operations/42".into(),
            ..Default::default()
        };
        let renamed = rename_operation(&service, op).unwrap();
        assert_eq!(renamed.name, "services/identity/operations/42");

        let odd = pb::Operation {
            name: "42".into(),
            ..Default::default()
        };
        assert!(matches!(
            rename_operation(&service, odd),
            Err(Error::BrokenAnswer(_))
        ));
    }
}
