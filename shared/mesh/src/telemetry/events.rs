//! The spans of events: a producer span per event recorded in the outbox ([`event_created`]),
//! whose context the event's envelope carries, and the consumer's span continuing the events it
//! handles ([`continue_events`]), so one trace runs from the request through the event to its
//! consumer in another service.

use http::HeaderMap;
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{context_of, inject};

/// The producer span of an event recorded in the outbox: a child of the request's context
/// (`traceparent`, `tracestate` as the draft carried them), kind producer, named
/// `create <event type>`, with the messaging attributes. Returns the `(traceparent, tracestate)`
/// the envelope carries: the producer span's, or what was given when there is no trace.
pub fn event_created(
    traceparent: &str,
    tracestate: &str,
    event_type: &str,
    source: &str,
    event_id: &str,
) -> (String, String) {
    let given = || (traceparent.to_string(), tracestate.to_string());
    let Some(parent) = context_of(traceparent, tracestate) else {
        return given();
    };
    let span = tracing::info_span!(
        parent: None,
        "event.create",
        otel.name = format!("create {event_type}"),
        otel.kind = "producer",
        messaging.system = "redis",
        messaging.operation.type = "create",
        messaging.message.id = event_id,
        talentmesh.event.type = event_type,
        talentmesh.event.source = source,
    );
    if span.set_parent(parent).is_err() {
        return given();
    }
    let mut headers = HeaderMap::new();
    inject(&span, &mut headers);
    let read = |key: &str| {
        headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match read("traceparent") {
        Some(tp) => (tp, read("tracestate").unwrap_or_default()),
        None => given(),
    }
}

/// Makes a consumer's span continue the events it handles: a child of the first event's
/// producer span, linked to the others' (`(traceparent, tracestate)` of each envelope). Call it
/// before the span is first entered.
pub fn continue_events<'a>(
    span: &tracing::Span,
    contexts: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let mut parented = false;
    for (traceparent, tracestate) in contexts {
        let Some(cx) = context_of(traceparent, tracestate) else {
            continue;
        };
        if parented {
            span.add_link(cx.span().span_context().clone());
        } else {
            parented = span.set_parent(cx).is_ok();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::telemetry::test_support::{named, traced};

    #[test]
    fn a_consumer_span_is_the_child_of_the_first_events_producer_and_linked_to_the_others() {
        let request = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let (first, spans) = traced(|| {
            let first = event_created(request, "", "x.v1.Changed", "x", "e-1");
            let span = tracing::info_span!("consume", otel.kind = "consumer");
            continue_events(&span, [(first.0.as_str(), ""), ("", ""), (other, "")]);
            drop(span);
            first
        });
        let producer = named(&spans, "create x.v1.Changed");
        assert_eq!(producer.span_kind, opentelemetry::trace::SpanKind::Producer);
        assert_eq!(producer.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(
            first.0,
            format!(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
                producer.span_context.span_id()
            )
        );
        let consumer = named(&spans, "consume");
        assert_eq!(consumer.parent_span_id, producer.span_context.span_id());
        let links: Vec<String> = consumer
            .links
            .iter()
            .map(|l| l.span_context.trace_id().to_string())
            .collect();
        assert_eq!(links, vec!["0af7651916cd43dd8448eb211c80319c".to_string()]);
    }
}
