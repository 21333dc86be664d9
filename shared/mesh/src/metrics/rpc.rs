//! The RPC series, in the `grpc_server_*` / `grpc_client_*` family dashboards for gRPC expect
//! (the names and labels of go-grpc-prometheus, which grpc-ecosystem's dashboards and alerts
//! are written against):
//!
//! - `<side>_started_total{grpc_service,grpc_method,grpc_type}`: calls begun;
//! - `<side>_handled_total{grpc_service,grpc_method,grpc_type,grpc_code}`: calls finished, by
//!   status code spelled as Go's `codes.Code` prints it (`OK`, `NotFound`, `Unavailable`, ...);
//! - `<side>_handling_seconds{grpc_service,grpc_method,grpc_type}`: from the request's arrival
//!   (or, for a client, the call) to the status, a histogram.
//!
//! A call is finished by its status: the `grpc-status` of a trailers-only answer, else the one
//! in the trailers at the end of the response body (so a streaming call is timed to its end), and
//! `Canceled` when the body is dropped before either (the peer went away). Labels come from the
//! descriptors ([`MethodCatalog`]): a path no known contract defines is counted under
//! `unknown`, so callers cannot grow the series by sending made-up paths.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::Frame;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tonic::body::Body;

use crate::descriptors::MethodCatalog;

/// The labels of a started call and of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub grpc_service: String,
    pub grpc_method: String,
    pub grpc_type: &'static str,
}

/// The labels of a finished call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandledLabels {
    pub grpc_service: String,
    pub grpc_method: String,
    pub grpc_type: &'static str,
    pub grpc_code: &'static str,
}

/// A status code as Go's `codes.Code.String()` spells it, which is what `grpc_code` holds in
/// the dashboards and alerts written for go-grpc-prometheus (`grpc_code!="OK"`).
pub fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// The number of gRPC status codes (0 = OK .. 16 = UNAUTHENTICATED).
const CODES: usize = 17;

/// Latency buckets, in seconds: round values (so an SLO rule can name `le="0.25"`) from half a
/// millisecond, which a cached read takes, to 10 s; OpenTelemetry's advice for HTTP durations
/// (0.005 .. 10) is a subset.
pub const LATENCY_BUCKETS: [f64; 17] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
    7.5, 10.0,
];

pub(crate) fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The series of one method, resolved once so a call touches only atomics.
pub(crate) struct MethodSeries {
    started: Counter,
    handling: Histogram,
    labels: MethodLabels,
    handled: [OnceLock<Counter>; CODES],
    family: Family<HandledLabels, Counter>,
}

impl MethodSeries {
    fn handled(&self, code: tonic::Code) -> Counter {
        let index = (code as usize).min(CODES - 1);
        self.handled[index]
            .get_or_init(|| {
                self.family
                    .get_or_create(&HandledLabels {
                        grpc_service: self.labels.grpc_service.clone(),
                        grpc_method: self.labels.grpc_method.clone(),
                        grpc_type: self.labels.grpc_type,
                        grpc_code: code_label(code),
                    })
                    .clone()
            })
            .clone()
    }
}

/// One side's (server or client) three families and the per-path cache in front of them.
pub(crate) struct RpcMetrics {
    started: Family<MethodLabels, Counter>,
    handled: Family<HandledLabels, Counter>,
    handling: Family<MethodLabels, Histogram, fn() -> Histogram>,
    by_path: RwLock<HashMap<String, Arc<MethodSeries>>>,
    unknown: OnceLock<Arc<MethodSeries>>,
    catalog: Arc<RwLock<MethodCatalog>>,
}

impl RpcMetrics {
    /// The families of `side` (`grpc_server` or `grpc_client`), registered in `registry`.
    pub(crate) fn register(
        registry: &mut Registry,
        side: &str,
        catalog: Arc<RwLock<MethodCatalog>>,
    ) -> RpcMetrics {
        let (who, what) = match side {
            "grpc_server" => ("served", "received"),
            _ => ("made", "sent"),
        };
        let metrics = RpcMetrics {
            started: Family::default(),
            handled: Family::default(),
            handling: Family::new_with_constructor(latency_histogram),
            by_path: RwLock::new(HashMap::new()),
            unknown: OnceLock::new(),
            catalog,
        };
        registry.register(
            format!("{side}_started"),
            format!("gRPC calls {who}: started, by method ({what} requests)"),
            metrics.started.clone(),
        );
        registry.register(
            format!("{side}_handled"),
            format!("gRPC calls {who}: finished, by method and status code"),
            metrics.handled.clone(),
        );
        registry.register(
            format!("{side}_handling_seconds"),
            format!("gRPC calls {who}: seconds from start to status, by method"),
            metrics.handling.clone(),
        );
        metrics
    }

    fn series(&self, path: &str) -> Arc<MethodSeries> {
        if let Some(series) = self
            .by_path
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
        {
            return series.clone();
        }
        let info = self
            .catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned();
        let Some(info) = info else {
            return self
                .unknown
                .get_or_init(|| {
                    self.make(MethodLabels {
                        grpc_service: "unknown".to_string(),
                        grpc_method: "unknown".to_string(),
                        grpc_type: "unknown",
                    })
                })
                .clone();
        };
        let series = self.make(MethodLabels {
            grpc_service: info.service,
            grpc_method: info.method,
            grpc_type: info.kind.as_str(),
        });
        self.by_path
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(path.to_string())
            .or_insert(series)
            .clone()
    }

    fn make(&self, labels: MethodLabels) -> Arc<MethodSeries> {
        Arc::new(MethodSeries {
            started: self.started.get_or_create(&labels).clone(),
            handling: self.handling.get_or_create(&labels).clone(),
            handled: std::array::from_fn(|_| OnceLock::new()),
            family: self.handled.clone(),
            labels,
        })
    }

    /// Counts a call to `path` as started; the returned record finishes it.
    pub(crate) fn begin(&self, path: &str) -> CallRecord {
        let series = self.series(path);
        series.started.inc();
        CallRecord {
            series: Some(series),
            started: Instant::now(),
        }
    }
}

/// A call counted as started and not yet finished. Finishing it counts its status and observes
/// its duration once; dropped unfinished, it is counted as `Canceled`.
pub struct CallRecord {
    series: Option<Arc<MethodSeries>>,
    started: Instant,
}

impl CallRecord {
    /// Finishes the call with `code`.
    pub fn finish(mut self, code: tonic::Code) {
        self.finish_with(code);
    }

    fn finish_with(&mut self, code: tonic::Code) {
        if let Some(series) = self.series.take() {
            series.handled(code).inc();
            series
                .handling
                .observe(self.started.elapsed().as_secs_f64());
        }
    }

    /// Follows `response` to its status: a trailers-only answer (status in the headers)
    /// finishes the call now; otherwise the body is wrapped so the trailers finish it.
    pub fn follow(mut self, response: http::Response<Body>) -> http::Response<Body> {
        if let Some(code) = status_in(response.headers()) {
            self.finish_with(code);
            return response;
        }
        response.map(|inner| {
            Body::new(ObservedBody {
                inner,
                record: self,
            })
        })
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        self.finish_with(tonic::Code::Cancelled);
    }
}

fn status_in(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
}

pin_project_lite::pin_project! {
    /// A response body that finishes its call at the trailers (or the end, or an error).
    struct ObservedBody {
        #[pin]
        inner: Body,
        record: CallRecord,
    }
}

impl http_body::Body for ObservedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    // No status in the trailers is a broken peer: UNKNOWN, as gRPC clients say.
                    this.record
                        .finish_with(status_in(trailers).unwrap_or(tonic::Code::Unknown));
                }
            }
            Poll::Ready(Some(Err(status))) => this.record.finish_with(status.code()),
            // The end without trailers: the status never came.
            Poll::Ready(None) => this.record.finish_with(tonic::Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The status code a failed client call ends with: the `tonic::Status` somewhere in the
/// error's source chain, else UNAVAILABLE (the transport failed: no answer came).
pub fn code_of_error(e: &(dyn std::error::Error + 'static)) -> tonic::Code {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(status) = err.downcast_ref::<tonic::Status>() {
            return status.code();
        }
        current = err.source();
    }
    tonic::Code::Unavailable
}
