//! Fetches a running service's descriptors through its gRPC reflection service (the v1
//! protocol that tonic-reflection serves): list the services, ask for the file defining each,
//! then for every dependency of those files until the set is closed. The files keep their raw
//! bytes, so the `google.api.http` options survive into the new route table.

use std::collections::VecDeque;

use bytes::Bytes;
use futures::StreamExt as _;
use prost::Message as _;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

use crate::descriptors::RawFile;
use crate::error::{Error, Result};
use crate::upstream::Upstreams;

/// Every file the service at `channel` describes, with their dependencies. A dependency the
/// server does not know is left out when `known(name)` says the gateway already has it.
pub async fn fetch_files<U: Upstreams>(
    service: &str,
    channel: U::Channel,
    known: impl Fn(&str) -> bool,
) -> Result<Vec<RawFile>> {
    let fail = |message: String| Error::Reflection {
        service: service.to_string(),
        message,
    };
    let mut client = ServerReflectionClient::new(channel);

    let listed = exchange(
        &mut client,
        vec![MessageRequest::ListServices(String::new())],
    )
    .await
    .map_err(&fail)?;
    let mut symbols = Vec::new();
    for response in listed {
        match response {
            MessageResponse::ListServicesResponse(list) => symbols.extend(
                list.service
                    .into_iter()
                    .map(|s| s.name)
                    // The reflection and health services are plumbing, not API.
                    .filter(|name| !name.starts_with("grpc.")),
            ),
            MessageResponse::ErrorResponse(e) => return Err(fail(e.error_message)),
            _ => return Err(fail("unexpected answer to list services".to_string())),
        }
    }

    let mut files: Vec<RawFile> = Vec::new();
    let mut wanted: VecDeque<String> = VecDeque::new();
    let requests = symbols
        .into_iter()
        .map(MessageRequest::FileContainingSymbol)
        .collect();
    let mut answers = exchange(&mut client, requests).await.map_err(&fail)?;
    loop {
        for answer in answers {
            match answer {
                MessageResponse::FileDescriptorResponse(found) => {
                    for raw in found.file_descriptor_proto {
                        let file = RawFile::new(Bytes::from(raw))?;
                        if files.iter().any(|f| f.name == file.name) {
                            continue;
                        }
                        let proto = prost_types::FileDescriptorProto::decode(file.bytes.clone())
                            .map_err(|e| fail(e.to_string()))?;
                        wanted.extend(proto.dependency);
                        files.push(file);
                    }
                }
                MessageResponse::ErrorResponse(e) => {
                    // A dependency the server does not serve: fine if the gateway has it.
                    tracing::debug!(service, error = %e.error_message, "reflection lookup failed");
                }
                _ => return Err(fail("unexpected reflection answer".to_string())),
            }
        }
        let mut requests = Vec::new();
        while let Some(name) = wanted.pop_front() {
            let pending = requests
                .iter()
                .any(|r| matches!(r, MessageRequest::FileByFilename(n) if *n == name));
            if !pending && !files.iter().any(|f| f.name == name) {
                requests.push(MessageRequest::FileByFilename(name));
            }
        }
        if requests.is_empty() {
            break;
        }
        answers = exchange(&mut client, requests).await.map_err(&fail)?;
    }

    for file in &files {
        let proto = prost_types::FileDescriptorProto::decode(file.bytes.clone())
            .map_err(|e| fail(e.to_string()))?;
        for dependency in proto.dependency {
            if !files.iter().any(|f| f.name == dependency) && !known(&dependency) {
                return Err(fail(format!(
                    "{} imports {dependency}, which neither the service nor the gateway has",
                    file.name
                )));
            }
        }
    }
    Ok(files)
}

/// Sends `requests` on one reflection stream and collects one answer per request.
async fn exchange<C>(
    client: &mut ServerReflectionClient<C>,
    requests: Vec<MessageRequest>,
) -> Result<Vec<MessageResponse>, String>
where
    C: tonic::client::GrpcService<tonic::body::Body>,
    C::Error: Into<tonic::codegen::StdError>,
    C::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let expected = requests.len();
    let stream = futures::stream::iter(requests.into_iter().map(|r| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r),
    }));
    let mut responses = client
        .server_reflection_info(stream)
        .await
        .map_err(|s| format!("{}: {}", s.code(), s.message()))?
        .into_inner();
    let mut out = Vec::with_capacity(expected);
    while let Some(response) = responses.next().await {
        let response = response.map_err(|s| format!("{}: {}", s.code(), s.message()))?;
        if let Some(answer) = response.message_response {
            out.push(answer);
        }
    }
    Ok(out)
}
