//! The standard process metrics (the names every Prometheus client library exports and
//! dashboards read: <https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics>),
//! read from Linux's `/proc` at scrape time — nothing runs between scrapes. On a system without
//! `/proc` the series are simply absent.
//!
//! - `process_cpu_seconds_total`: user + system CPU time (`/proc/self/stat` fields 14 and 15);
//! - `process_resident_memory_bytes` (`VmRSS` of `/proc/self/status`),
//!   `process_virtual_memory_bytes` (`/proc/self/stat` field 23);
//! - `process_open_fds` (entries of `/proc/self/fd`), `process_max_fds` (the soft
//!   `Max open files` of `/proc/self/limits`);
//! - `process_start_time_seconds`: the Unix time the process started (`/proc/self/stat` field
//!   22, clock ticks after boot, plus `btime` of `/proc/stat`).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second in `/proc` times: the kernel's USER_HZ, which is 100 on every
/// architecture Rust targets for Linux servers (x86, arm, riscv, powerpc, s390x); only alpha
/// and ia64 differed. Fixed in the kernel's user-space ABI, so a constant is exact here and
/// spares `sysconf` (unsafe code, which the workspace forbids).
const USER_HZ: f64 = 100.0;

/// Samples the process metrics on every scrape.
#[derive(Debug, Default)]
pub(crate) struct ProcessCollector;

/// One sample of `/proc/self`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ProcessSample {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessSample {
    pub(crate) fn read() -> ProcessSample {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let stat = read("/proc/self/stat");
        // Fields after the command name, which is in parentheses and may hold spaces: index 0
        // is field 3 (state), so field n is at index n - 3.
        let fields: Vec<&str> = stat
            .as_deref()
            .and_then(|s| s.rsplit_once(')'))
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let cpu_seconds = match (field(14), field(15)) {
            (Some(user), Some(system)) => Some((user + system) as f64 / USER_HZ),
            _ => None,
        };
        let boot = read("/proc/stat").and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        let start_time_seconds = match (boot, field(22)) {
            (Some(boot), Some(ticks)) => Some(boot as f64 + ticks as f64 / USER_HZ),
            _ => None,
        };
        let resident_bytes = read("/proc/self/status").and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64);
        let max_fds = read("/proc/self/limits").and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Max open files"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        });
        ProcessSample {
            cpu_seconds,
            resident_bytes,
            virtual_bytes: field(23),
            open_fds,
            max_fds,
            start_time_seconds,
        }
    }
}

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: Option<N>,
) -> std::fmt::Result {
    let Some(value) = value else {
        return Ok(());
    };
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let sample = ProcessSample::read();
        if let Some(seconds) = sample.cpu_seconds {
            let cpu = ConstCounter::new(seconds);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?)?;
        }
        gauge(
            &mut encoder,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            sample.resident_bytes,
        )?;
        gauge(
            &mut encoder,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            sample.virtual_bytes,
        )?;
        gauge(
            &mut encoder,
            "process_open_fds",
            "Number of open file descriptors",
            sample.open_fds,
        )?;
        gauge(
            &mut encoder,
            "process_max_fds",
            "Maximum number of open file descriptors (the soft limit)",
            sample.max_fds,
        )?;
        gauge(
            &mut encoder,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            sample.start_time_seconds,
        )
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_sample_reads_this_process() {
        let before = ProcessSample::read();
        // Open files and burn CPU: the sample must see both.
        let files: Vec<std::fs::File> = (0..8)
            .filter_map(|_| std::fs::File::open("/proc/self/stat").ok())
            .collect();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        let after = ProcessSample::read();
        assert!(x != 1);
        assert_eq!(files.len(), 8);
        // Other tests open and close files meanwhile: only a bound that holds whatever they do.
        assert!(after.open_fds.unwrap_or(0) >= 8, "{before:?} {after:?}");
        assert!(after.cpu_seconds >= before.cpu_seconds && after.cpu_seconds.is_some());
        assert!(after.resident_bytes.unwrap_or(0) > 1 << 20, "{after:?}");
        assert!(after.max_fds.unwrap_or(0) >= after.open_fds.unwrap_or(u64::MAX));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let start = after.start_time_seconds.unwrap_or(0.0);
        // Started in the past, and not before 2020.
        assert!(
            start <= now + 1.0 && start > 1_577_836_800.0,
            "{start} {now}"
        );
    }
}
