//! The `OTEL_*` environment this process acts on ([`OtelConfig`]), read once with the rest of
//! the service's configuration so that every problem is named at start, not at the first span.

use crate::config::Env;

/// The standard OpenTelemetry environment, as far as this process acts on it
/// (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>).
///
/// Read here: `OTEL_SDK_DISABLED` (`true`: nothing is recorded or exported; trace ids still pass
/// through), `OTEL_TRACES_EXPORTER` (`otlp`, the default, or `none`),
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and then `OTEL_EXPORTER_OTLP_ENDPOINT` (then the older
/// `TALENTMESH_OTLP_ENDPOINT`): spans are exported only when one is set, to that URL over gRPC;
/// `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (only `grpc` is built in), and `OTEL_PROPAGATORS`
/// (`tracecontext` and `baggage`, the default, or `none`).
///
/// Read by the SDK itself from the process environment: `OTEL_SERVICE_NAME` and
/// `OTEL_RESOURCE_ATTRIBUTES` (the service's own name is used when neither names it),
/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`, `OTEL_SPAN_*_LIMIT`,
/// `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_COMPRESSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelConfig {
    pub sdk_disabled: bool,
    /// Where spans go over OTLP/gRPC; `None` keeps them in the process.
    pub traces_endpoint: Option<String>,
    pub propagators: Vec<Propagator>,
}

/// A context propagation format of `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C Trace Context: `traceparent`, `tracestate`.
    TraceContext,
    /// W3C Baggage: `baggage`.
    Baggage,
}

impl OtelConfig {
    /// Reads the `OTEL_*` settings listed on [`OtelConfig`], recording problems in `env`.
    pub fn load(env: &mut Env) -> OtelConfig {
        let sdk_disabled = env
            .optional("OTEL_SDK_DISABLED")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let mut export = true;
        for exporter in list(&env.string("OTEL_TRACES_EXPORTER", "otlp")) {
            match exporter.as_str() {
                "otlp" => {}
                "none" => export = false,
                other => env.problem(format!(
                    "OTEL_TRACES_EXPORTER: `{other}` is not supported (otlp or none)"
                )),
            }
        }
        for key in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = env.optional(key) {
                if protocol.trim() != "grpc" {
                    env.problem(format!(
                        "{key}: `{protocol}` is not supported (only grpc is built in)"
                    ));
                }
                break;
            }
        }
        let endpoint = env
            .optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| env.optional("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .or_else(|| env.optional("TALENTMESH_OTLP_ENDPOINT"));
        let mut propagators = Vec::new();
        for name in list(&env.string("OTEL_PROPAGATORS", "tracecontext,baggage")) {
            let propagator = match name.as_str() {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "none" => continue,
                other => {
                    env.problem(format!(
                        "OTEL_PROPAGATORS: `{other}` is not supported (tracecontext, baggage or none)"
                    ));
                    continue;
                }
            };
            if !propagators.contains(&propagator) {
                propagators.push(propagator);
            }
        }
        OtelConfig {
            sdk_disabled,
            traces_endpoint: endpoint.filter(|_| export && !sdk_disabled),
            propagators,
        }
    }
}

impl Default for OtelConfig {
    fn default() -> Self {
        OtelConfig {
            sdk_disabled: false,
            traces_endpoint: None,
            propagators: vec![Propagator::TraceContext, Propagator::Baggage],
        }
    }
}

/// The comma-separated, trimmed, lower-case entries of an `OTEL_*` list.
fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn otel_environment_is_read() {
        let load = |vars: &[(&str, &str)]| {
            let mut env = Env::from_map(vars.iter().map(|(k, v)| (*k, *v)));
            let config = OtelConfig::load(&mut env);
            env.finish().map(|()| config)
        };
        assert_eq!(load(&[]).unwrap(), OtelConfig::default());
        let both = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
            ("OTEL_PROPAGATORS", "tracecontext"),
        ])
        .unwrap();
        assert_eq!(both.traces_endpoint.as_deref(), Some("http://traces:4317"));
        assert_eq!(both.propagators, vec![Propagator::TraceContext]);
        let general = load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")]).unwrap();
        assert_eq!(
            general.traces_endpoint.as_deref(),
            Some("http://collector:4317")
        );
        for off in [
            [("OTEL_SDK_DISABLED", "true")],
            [("OTEL_TRACES_EXPORTER", "none")],
        ] {
            let mut vars = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")];
            vars.extend(off);
            assert_eq!(load(&vars).unwrap().traces_endpoint, None, "{off:?}");
        }
        assert!(load(&[("OTEL_PROPAGATORS", "none")])
            .unwrap()
            .propagators
            .is_empty());
        for bad in [
            ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ] {
            let problems = load(&[bad]).err().map(|e| e.problems.join(";"));
            assert!(problems.is_some_and(|p| p.contains(bad.0)), "{bad:?}");
        }
    }
}
