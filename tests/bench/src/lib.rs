//! The load generator the benchmark binaries share: closed-loop workers, each on one keep-alive
//! HTTP/1.1 connection (like a browser's or a proxy's pool), timed per call, with a warm-up
//! second that is not counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};

/// Nearest-rank percentiles of a sample (in the sample's own unit).
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// The percentiles of `samples` (nearest rank; all 0 for an empty sample).
    pub fn of(mut samples: Vec<f64>) -> Latency {
        samples.sort_by(f64::total_cmp);
        let n = samples.len();
        let at = |p: f64| {
            if n == 0 {
                return 0.0;
            }
            samples[((n as f64 * p).ceil() as usize).clamp(1, n) - 1]
        };
        Latency {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }

    /// `p50 | p95 | **p99** | max`, two decimals, for a markdown table row.
    pub fn cells(&self) -> String {
        format!(
            "{:.2} | {:.2} | **{:.2}** | {:.2}",
            self.p50, self.p95, self.p99, self.max
        )
    }
}

/// What one measurement saw.
pub struct Outcome {
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    pub elapsed: Duration,
}

/// The numbers of one measurement, latencies sorted.
pub struct Summary {
    pub rps: f64,
    pub p50_us: u32,
    pub p99_us: u32,
    pub p999_us: u32,
    pub errors: u64,
    pub requests: usize,
}

impl Outcome {
    pub fn summary(mut self) -> Summary {
        self.latencies_us.sort_unstable();
        let l = &self.latencies_us;
        let pct = |p: f64| -> u32 {
            if l.is_empty() {
                return 0;
            }
            let i = ((l.len() as f64 - 1.0) * p).round() as usize;
            l[i.min(l.len() - 1)]
        };
        Summary {
            rps: l.len() as f64 / self.elapsed.as_secs_f64(),
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            p999_us: pct(0.999),
            errors: self.errors,
            requests: l.len(),
        }
    }
}

impl Summary {
    /// One line, `rps=… p50_us=… p99_us=… errors=… requests=…`, as `run.sh` parses it.
    pub fn line(&self) -> String {
        format!(
            "rps={:.0} p50_us={} p99_us={} errors={} requests={}",
            self.rps, self.p50_us, self.p99_us, self.errors, self.requests
        )
    }
}

/// Runs `workers` loops of the call each `make()` returns for `seconds`, after a one-second
/// warm-up that is not counted. A call returns whether it succeeded.
pub async fn drive<F, Fut>(workers: usize, seconds: u64, make: impl Fn(usize) -> F) -> Outcome
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let mut call = make(w);
        let (recording, stop, errors) = (recording.clone(), stop.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(200_000);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = call().await;
                if recording.load(Ordering::Relaxed) {
                    if ok {
                        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    recording.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us = Vec::new();
    for t in tasks {
        if let Ok(mut l) = t.await {
            latencies_us.append(&mut l);
        }
    }
    Outcome {
        latencies_us,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
    }
}

/// One HTTP request to send again and again.
#[derive(Clone, Debug)]
pub struct HttpCall {
    pub method: http::Method,
    pub uri: http::Uri,
    pub bearer: Option<String>,
    pub json: Option<bytes::Bytes>,
}

impl HttpCall {
    pub fn get(url: &str) -> anyhow::Result<HttpCall> {
        Ok(HttpCall {
            method: http::Method::GET,
            uri: url.parse()?,
            bearer: None,
            json: None,
        })
    }

    fn request(&self) -> anyhow::Result<http::Request<Full<bytes::Bytes>>> {
        let mut b = http::Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone());
        if let Some(token) = &self.bearer {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match &self.json {
            Some(json) => {
                b = b.header(http::header::CONTENT_TYPE, "application/json");
                json.clone()
            }
            None => bytes::Bytes::new(),
        };
        Ok(b.body(Full::new(body))?)
    }
}

/// `workers` closed loops for `seconds`. Worker `w` sends the calls of `calls(w)` in turn, so a
/// worker may own its data (its resume) or walk a list of queries. A call counts as a success
/// when the answer is 2xx and its body is read whole.
pub async fn load_http(
    workers: usize,
    seconds: u64,
    calls: impl Fn(usize) -> Vec<HttpCall>,
) -> Outcome {
    drive(workers, seconds, |w| {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(1)
                .build_http::<Full<bytes::Bytes>>();
        let calls = Arc::new(calls(w));
        let mut next = 0usize;
        move || {
            let client = client.clone();
            let call = calls.get(next % calls.len().max(1)).cloned();
            next = next.wrapping_add(1);
            async move {
                let Some(req) = call.and_then(|c| c.request().ok()) else {
                    return false;
                };
                match client.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        resp.into_body().collect().await.is_ok() && ok
                    }
                    Err(_) => false,
                }
            }
        }
    })
    .await
}
