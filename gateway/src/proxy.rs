//! The hot path: one HTTP request in, one unary gRPC call out, one HTTP response back.
//!
//! Everything that can be decided without the request was decided when the route table was
//! compiled; here the route is found by walking the segment trie, the request message is built
//! from path, query and body with precompiled field descriptors, and the call goes through a
//! cloned channel with the `DynamicMessage` codec. No per-request template parsing, no descriptor
//! lookups by name on the body path, one body buffer, one response buffer.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, PRAGMA};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, ReflectMessage as _, SerializeOptions, Value,
};
use talentmesh_mesh::error::{ApiError, FieldViolation};

use crate::codec::DynamicCodec;
use crate::conditional;
use crate::gateway::Shared;
use crate::json;
use crate::metadata::{self, X_REQUEST_ID};
use crate::routes::{BodyRule, Route, RouteMatch, RouteTable};
use crate::status::{Rejection, APPLICATION_JSON};
use crate::upstream::Upstreams;
use crate::workers::ClientAddr;

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

/// The fallback handler: every path that is not one of the gateway's own endpoints.
pub(crate) async fn handle<U: Upstreams>(
    State(shared): State<Arc<Shared<U>>>,
    request: Request,
) -> Response {
    let request_id = metadata::request_id(request.headers());
    let method = request.method().clone();
    // The table current when the request starts serves it to the end, even across a refresh.
    let table = shared.routes.load_full();
    let started = Instant::now();
    let mut matched = None;
    let mut response = match forward(&shared, &table, request, &request_id, &mut matched).await {
        Ok(response) => response,
        Err(rejection) => {
            rejection.into_response(&shared.status_descriptor(&table), &shared.serialize)
        }
    };
    let (status, seconds) = (response.status().as_u16(), started.elapsed().as_secs_f64());
    match matched {
        Some(route) => route
            .recorder
            .get_or_init(|| {
                shared
                    .metrics
                    .http_route(route.method.as_str(), &route.pattern)
            })
            .record(status, seconds),
        None => shared.metrics.record_unmatched(&method, status, seconds),
    }
    response.headers_mut().insert(X_REQUEST_ID, request_id);
    response
}

// Debug level: the request's traced span is the access log's (`access_log`), around this one;
// its context is already in the request's `traceparent`, which goes on with the call.
#[tracing::instrument(
    level = "debug",
    skip_all,
    fields(method = %request.method(), path = %request.uri().path(), request_id = ?request_id)
)]
async fn forward<'t, U: Upstreams>(
    shared: &Shared<U>,
    table: &'t RouteTable,
    request: Request,
    request_id: &HeaderValue,
    matched: &mut Option<&'t Route>,
) -> Result<Response, Rejection> {
    let (parts, body) = request.into_parts();
    let unread = !http_body::Body::is_end_stream(&body);
    let path = parts.uri.path();
    let (route, segments) = match table.find(&parts.method, path) {
        RouteMatch::Found { route, segments } => {
            *matched = Some(route);
            (route, segments)
        }
        // A route for the path (or its method) may be loading: come back rather than give up.
        RouteMatch::MethodNotAllowed(_) | RouteMatch::NotFound
            if shared.loading.may_load(table, path) =>
        {
            return Err(Rejection::routes_loading(&parts.method, path).closing_if(unread));
        }
        RouteMatch::MethodNotAllowed(allowed) => {
            return Err(
                Rejection::method_not_allowed(&parts.method, path, &allowed).closing_if(unread)
            )
        }
        RouteMatch::NotFound => {
            return Err(Rejection::not_found(&parts.method, path).closing_if(unread))
        }
    };

    let limits = BodyLimits {
        size: shared.config.body_limit,
        pause: shared.config.body_timeout,
    };
    let body = match route.body {
        // A body the route does not map is read (within the limit) and ignored, so the
        // connection stays usable for the client's next request.
        BodyRule::None => {
            if unread {
                collect_body(&parts, body, limits).await?;
            }
            Bytes::new()
        }
        BodyRule::Whole | BodyRule::Field(_) => read_body(&parts, body, limits).await?,
    };
    let message = crate::request::build(route, &segments, parts.uri.query(), &body)
        .map_err(|violations| Rejection::api(&ApiError::invalid(violations)))?;
    drop(body);
    // Refused here, with 413, rather than by the upstream after the whole message went out.
    let len = prost::Message::encoded_len(&message);
    if len > shared.config.max_message {
        return Err(Rejection::message_too_large(len, shared.config.max_message));
    }

    if let Some((name, limit)) = metadata::oversized_header(&parts.headers) {
        return Err(Rejection::header_too_large(name, limit));
    }
    let if_match = conditional::if_match(&parts.headers).map_err(Rejection::bad_condition)?;
    let if_none_match =
        conditional::if_none_match(&parts.headers).map_err(Rejection::bad_condition)?;
    let writes = matches!(parts.method, Method::PUT | Method::PATCH | Method::DELETE);
    let mut message = message;
    // Whether the service checks the client's If-Match itself (a stale write is then ABORTED).
    let mut checked_upstream = false;
    if let (true, Some(condition @ conditional::Condition::Tags(_))) = (writes, &if_match) {
        checked_upstream = check_if_match(
            shared,
            table,
            route,
            &parts,
            &segments,
            request_id,
            condition,
            &mut message,
        )
        .await?;
    }
    let reply = call(shared, route, &parts, request_id, message)
        .await
        .map_err(|rejection| match rejection {
            // The version the client's If-Match named is no longer current.
            Upstream(status) if checked_upstream && status.code() == tonic::Code::Aborted => {
                Rejection::precondition_failed(status.message())
            }
            Upstream(status) => Rejection::upstream(&status),
            Local(rejection) => rejection,
        })?;

    // An answer to a request with credentials is about that caller (a profile, resumes, an
    // export): no cache may keep it.
    let personal = parts.headers.contains_key(http::header::AUTHORIZATION);
    let (metadata, message, _) = reply.into_parts();
    let json = render_response(route, &message, &shared.serialize)
        .map_err(|e| Rejection::api(&ApiError::internal(&e)))?;
    let reads = parts.method == Method::GET || parts.method == Method::HEAD;
    let tag =
        (reads || route.entity.is_some()).then(|| conditional::entity_tag(route, &message, &json));
    let not_modified = match (&tag, &if_none_match, reads) {
        (Some(tag), Some(condition), true) => conditional::none_match_hits(condition, tag),
        _ => false,
    };
    let mut response = if not_modified {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Body::from(json));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, APPLICATION_JSON);
        response
    };
    let headers = response.headers_mut();
    if let Some(tag) = tag {
        headers.insert(ETAG, tag);
    }
    if route.rpc.no_store || personal {
        // Tokens must not be kept by any cache between the client and the gateway, nor by
        // the client's own (RFC 6749 section 5.1), and neither may what a caller's credentials
        // opened; Pragma for HTTP/1.0 caches.
        headers.insert(CACHE_CONTROL, NO_STORE);
        headers.insert(PRAGMA, NO_CACHE);
    }
    metadata::incoming(metadata, headers);
    Ok(response)
}

/// Why a call produced no reply.
enum CallError {
    /// The service (or the channel) answered with this status.
    Upstream(tonic::Status),
    /// The gateway refused before calling.
    Local(Rejection),
}
use CallError::{Local, Upstream};

/// Checks an `If-Match` on a write before it is sent (see [`crate::conditional`]): either puts
/// the one version it names into the request's precondition field (returns true: the service
/// checks it), or reads the resource through `route.reader` as the caller and compares,
/// refusing with 412 on a mismatch.
#[allow(clippy::too_many_arguments)]
async fn check_if_match<U: Upstreams>(
    shared: &Shared<U>,
    table: &RouteTable,
    route: &Route,
    parts: &Parts,
    segments: &[crate::router::PathSegment<'_>],
    request_id: &HeaderValue,
    condition: &conditional::Condition,
    message: &mut DynamicMessage,
) -> Result<bool, Rejection> {
    if let (Some(field), Some(version)) =
        (&route.precondition, conditional::single_version(condition))
    {
        if field.kind() == Kind::Int64 {
            message.set_field(field, Value::I64(version));
            return Ok(true);
        }
    }
    let Some(reader) = route.reader.and_then(|i| table.routes().get(i)) else {
        return Err(Rejection::precondition_failed(
            "If-Match cannot be checked on this method: it has no version field and no GET \
             on the same path",
        ));
    };
    let read = crate::request::build(reader, segments, None, b"")
        .map_err(|violations| Rejection::api(&ApiError::invalid(violations)))?;
    let current = match call(shared, reader, parts, request_id, read).await {
        Ok(reply) => reply.into_inner(),
        // Nothing to match: RFC 9110 §13.1.1, the write must not happen.
        Err(Upstream(status)) if status.code() == tonic::Code::NotFound => {
            return Err(Rejection::precondition_failed(status.message()))
        }
        Err(Upstream(status)) => return Err(Rejection::upstream(&status)),
        Err(Local(rejection)) => return Err(rejection),
    };
    let json = render_response(reader, &current, &shared.serialize)
        .map_err(|e| Rejection::api(&ApiError::internal(&e)))?;
    let tag = conditional::entity_tag(reader, &current, &json);
    if !conditional::match_hits(condition, &tag) {
        return Err(Rejection::precondition_failed(&format!(
            "the resource changed: its current entity tag is {}",
            tag.to_str().unwrap_or_default()
        )));
    }
    // The version just read, so a change since that read is refused by the service.
    let version = conditional::Tag {
        weak: false,
        opaque: tag
            .to_str()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string(),
    }
    .version();
    if let (Some(field), Some(version)) = (&route.precondition, version) {
        if field.kind() == Kind::Int64 {
            message.set_field(field, Value::I64(version));
            return Ok(true);
        }
    }
    Ok(false)
}

/// One unary call of `route`'s method with `message`, carrying the request's credentials,
/// request id, trace context and client address, within the gateway's deadline.
async fn call<U: Upstreams>(
    shared: &Shared<U>,
    route: &Route,
    parts: &Parts,
    request_id: &HeaderValue,
    message: DynamicMessage,
) -> Result<tonic::Response<DynamicMessage>, CallError> {
    let channel = shared
        .upstreams
        .channel(&route.rpc.upstream)
        .ok_or_else(|| {
            Local(Rejection::api(&ApiError::unavailable(format!(
                "no instance of service {} is available",
                route.rpc.upstream
            ))))
        })?;
    let client = parts
        .extensions
        .get::<ConnectInfo<ClientAddr>>()
        .map(|c| &c.0);
    let mut call = tonic::Request::from_parts(
        metadata::outgoing(
            &parts.headers,
            request_id,
            client,
            &shared.config.trusted_proxies,
        ),
        tonic::Extensions::default(),
        message,
    );
    let deadline = shared.config.deadline;
    call.set_timeout(deadline);

    // Both directions at the mesh's limit, which every service's server also keeps (tonic's
    // 4 MiB default would refuse a page of large documents the service may send).
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(shared.config.max_message)
        .max_encoding_message_size(shared.config.max_message);
    let codec = DynamicCodec::new(route.rpc.output.clone());
    let exchange = async {
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("upstream not ready: {}", e.into())))?;
        grpc.unary(call, route.rpc.path.clone(), codec).await
    };
    // grpc-timeout asks the upstream to give up. A mesh channel also answers DEADLINE_EXCEEDED
    // itself when the deadline passes without a reply (a hung upstream or network); other
    // channels get a timer here, so the client is answered either way.
    let started = Instant::now();
    let expired = || {
        tonic::Status::deadline_exceeded(format!(
            "{} did not answer within {deadline:?}",
            route.rpc.upstream
        ))
    };
    let answer = if shared.upstreams.enforces_deadline() {
        exchange.await
    } else {
        tokio::time::timeout(deadline, exchange)
            .await
            .unwrap_or_else(|_| Err(expired()))
    };
    match answer {
        // tonic servers answer an expired grpc-timeout with CANCELLED; to the client it is the
        // gateway's deadline that passed, so it is reported as such.
        Err(status)
            if status.code() == tonic::Code::Cancelled
                && started.elapsed() + deadline / 20 >= deadline =>
        {
            Err(Upstream(expired()))
        }
        Err(status) => {
            tracing::debug!(code = ?status.code(), message = status.message(), "upstream error");
            Err(Upstream(status))
        }
        Ok(reply) => Ok(reply),
    }
}

/// How much of a request body the gateway reads, and how long it waits for each piece.
#[derive(Clone, Copy)]
struct BodyLimits {
    /// Bytes; past it, 413.
    size: usize,
    /// The longest wait for the next piece; past it, 408 (nginx's `client_body_timeout`).
    pause: std::time::Duration,
}

/// Reads the body up to the limit, checking its content type when there is one.
async fn read_body(parts: &Parts, body: Body, limits: BodyLimits) -> Result<Bytes, Rejection> {
    let bytes = collect_body(parts, body, limits).await?;
    if !bytes.is_empty() {
        // A body without a content type is taken as JSON; a declared other type is refused.
        if let Some(content_type) = parts.headers.get(CONTENT_TYPE) {
            let text = content_type.to_str().unwrap_or("");
            if !is_json(text) {
                return Err(Rejection::unsupported_media_type(text));
            }
        }
    }
    Ok(bytes)
}

/// The whole body, refused with 413 past the size limit and with 408 when the client pauses
/// longer than the timeout between pieces.
async fn collect_body(parts: &Parts, body: Body, limits: BodyLimits) -> Result<Bytes, Rejection> {
    if declared_length(&parts.headers).is_some_and(|n| n > limits.size as u64) {
        return Err(Rejection::too_large(limits.size));
    }
    let mut body = Limited::new(body, limits.size);
    let mut chunks: Vec<Bytes> = Vec::new();
    loop {
        let frame = match tokio::time::timeout(limits.pause, body.frame()).await {
            Err(_) => return Err(Rejection::body_timeout(limits.pause)),
            Ok(None) => break,
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(e))) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Rejection::too_large(limits.size))
            }
            Ok(Some(Err(e))) => {
                return Err(Rejection::api(&ApiError::invalid(vec![
                    FieldViolation::new("body", format!("could not read the request body: {e}")),
                ])))
            }
        };
        if let Ok(data) = frame.into_data() {
            chunks.push(data);
        }
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => Bytes::from(chunks.concat()),
    })
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The response body: the whole message, or the `response_body` field of it.
fn render_response(
    route: &Route,
    message: &DynamicMessage,
    options: &SerializeOptions,
) -> Result<Vec<u8>, serde_json::Error> {
    match &route.response_body {
        None => json::encode(message, options),
        Some(field) => render_field(message, field, options),
    }
}

fn render_field(
    message: &DynamicMessage,
    field: &FieldDescriptor,
    options: &SerializeOptions,
) -> Result<Vec<u8>, serde_json::Error> {
    let value = message.get_field(field);
    if let (Value::Message(inner), false) = (value.as_ref(), field.is_list() || field.is_map()) {
        return json::encode(inner, options);
    }
    // A scalar, list or map: serialize the field inside its message and lift it out.
    let mut alone = DynamicMessage::new(message.descriptor());
    alone.set_field(field, value.into_owned());
    let mut object = alone.serialize_with_options(serde_json::value::Serializer, options)?;
    let lifted = object
        .as_object_mut()
        .and_then(|o| o.remove(field.json_name()))
        .unwrap_or_else(|| empty_value(field));
    serde_json::to_vec(&lifted)
}

fn empty_value(field: &FieldDescriptor) -> serde_json::Value {
    if field.is_list() {
        serde_json::Value::Array(Vec::new())
    } else if field.is_map() || matches!(field.kind(), Kind::Message(_)) {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        serde_json::Value::Null
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
