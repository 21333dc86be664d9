//! Log lines that carry the trace: the JSON or text layer of `TALENTMESH_LOG_FORMAT`, each line
//! written inside a traced span with that span's `trace_id` and `span_id`, so a log search can
//! jump to the trace and back.

use tracing::{Event, Subscriber};
use tracing_opentelemetry::OtelData;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::LogFormat;

/// The log layer of `format` writing to `writer`: JSON lines (fields flattened, with
/// `trace_id` and `span_id` first) or text lines (ending in `trace_id=… span_id=…`).
pub(super) fn log_layer<S, W>(
    format: LogFormat,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .event_format(TraceIds::json())
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .event_format(TraceIds::text())
            .boxed(),
    }
}

/// An event format that adds the trace and span ids of the innermost traced span around the
/// event to the line the wrapped format writes: first fields of a JSON object, or the end of a
/// text line. Lines outside any span are written unchanged.
pub(super) struct TraceIds<F> {
    inner: F,
    json: bool,
}

impl TraceIds<tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>> {
    fn json() -> Self {
        TraceIds {
            inner: tracing_subscriber::fmt::format().json().flatten_event(true),
            json: true,
        }
    }
}

impl TraceIds<tracing_subscriber::fmt::format::Format> {
    pub(super) fn text() -> Self {
        TraceIds {
            inner: tracing_subscriber::fmt::format().with_ansi(false),
            json: false,
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        // The innermost span the OpenTelemetry layer saw (debug spans are not traced).
        let ids = ctx.event_scope().and_then(|scope| {
            scope.into_iter().find_map(|span| {
                let extensions = span.extensions();
                let data = extensions.get::<OtelData>()?;
                let (trace, span) = (data.trace_id()?, data.span_id()?);
                (trace != opentelemetry::TraceId::INVALID).then_some((trace, span))
            })
        });
        let Some((trace_id, span_id)) = ids else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        if self.json {
            match line.strip_prefix('{') {
                Some(rest) => write!(
                    writer,
                    "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
                ),
                None => writer.write_str(&line),
            }
        } else {
            let body = line.strip_suffix('\n').unwrap_or(&line);
            writeln!(writer, "{body} trace_id={trace_id} span_id={span_id}")
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::telemetry::ids_of;

    /// A writer into a shared buffer, to read log lines back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    /// Logs one line inside a traced span and one outside, in `format`; returns the lines and
    /// the span's ids.
    fn logged(format: LogFormat) -> (Vec<String>, (String, String)) {
        let provider = SdkTracerProvider::builder().build();
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("test"))
                    .with_filter(LevelFilter::INFO),
            )
            .with(log_layer(format, captured.clone()));
        let ids = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("work", request_id = "r-1");
            let ids = ids_of(&span).expect("a traced span");
            span.in_scope(|| {
                // A debug span is not traced: its lines carry the traced parent's ids.
                tracing::debug_span!("detail").in_scope(|| tracing::info!(n = 1, "inside"));
            });
            tracing::info!("outside");
            ids
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        (text.lines().map(str::to_string).collect(), ids)
    }

    #[test]
    fn json_lines_carry_the_trace_and_span_ids_as_fields() {
        let (lines, (trace_id, span_id)) = logged(LogFormat::Json);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let inside: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(inside["trace_id"], trace_id.as_str(), "{inside}");
        assert_eq!(inside["span_id"], span_id.as_str(), "{inside}");
        assert_eq!(inside["message"], "inside");
        assert_eq!(inside["n"], 1);
        let outside: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert!(outside.get("trace_id").is_none(), "{outside}");
        assert_eq!(outside["message"], "outside");
    }

    #[test]
    fn text_lines_carry_the_trace_and_span_ids() {
        let (lines, (trace_id, span_id)) = logged(LogFormat::Pretty);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("inside")
                && lines[0].ends_with(&format!("trace_id={trace_id} span_id={span_id}")),
            "{}",
            lines[0]
        );
        assert!(!lines[1].contains("trace_id="), "{}", lines[1]);
    }
}
