//! W3C trace context: an RPC's span continues the caller's trace, and what the handler passes on
//! (outgoing calls, events) carries the same trace id with the handler's own span id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use talentmesh_mesh::server::TraceLayer;
use talentmesh_mesh::telemetry;
use tonic::body::Body;
use tower::{Layer, ServiceExt};

#[tokio::test]
async fn the_handler_continues_the_callers_trace() {
    telemetry::init_for_tests();
    // The inner service reports the trace context it would send onwards.
    let inner = tower::service_fn(|_req: http::Request<Body>| async {
        let mut resp = http::Response::new(Body::empty());
        if let Some(tp) = telemetry::current_traceparent() {
            resp.headers_mut()
                .insert("x-onward-traceparent", tp.parse().unwrap());
        }
        Ok::<_, Infallible>(resp)
    });
    let mut svc = TraceLayer.layer(inner);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let incoming = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let onward = onward_traceparent(&mut svc, Some(&incoming)).await;
    let parts: Vec<&str> = onward.split('-').collect();
    assert_eq!(parts[1], trace_id, "same trace: {onward}");
    assert_ne!(parts[2], "00f067aa0ba902b7", "a span of its own: {onward}");

    // Without a caller's context, a new trace starts.
    let fresh = onward_traceparent(&mut svc, None).await;
    assert!(!fresh.contains(trace_id));
}

/// Calls `svc` with an optional incoming `traceparent` and returns the one it would pass on.
async fn onward_traceparent<S>(svc: &mut S, incoming: Option<&str>) -> String
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Error: std::fmt::Debug,
{
    let mut req = http::Request::builder().uri("/talentmesh.test.v1.TestService/Call");
    if let Some(tp) = incoming {
        req = req.header("traceparent", tp);
    }
    let resp = svc
        .ready()
        .await
        .unwrap()
        .call(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    resp.headers()
        .get("x-onward-traceparent")
        .expect("the handler had a trace context to pass on")
        .to_str()
        .unwrap()
        .to_string()
}
