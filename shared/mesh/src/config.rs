//! Typed configuration from defaults and `TALENTMESH_*` variables. Loaders read from an [`Env`]
//! map rather than `std::env`, so tests pass their own values; every problem found is reported at
//! once, and values are validated a single time at start. Secrets live in [`Secret`], which never
//! prints its value.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// A value that must never reach a log line: `Debug` and `Display` print `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Everything that went wrong while loading, so an operator fixes all of it in one go.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// The variables a loader reads: the process environment or a map a test builds.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    problems: Vec<String>,
}

impl Env {
    pub fn from_process() -> Self {
        Env::from_map(std::env::vars().filter(|(k, _)| k.starts_with("TALENTMESH_")))
    }

    pub fn from_map<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            problems: Vec::new(),
        }
    }

    /// A copy with `key` set, for tests and for binaries that derive one config from another.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars.insert(key.to_string(), value.into());
        self
    }

    pub fn string(&mut self, key: &str, default: &str) -> String {
        self.vars
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    pub fn optional(&mut self, key: &str) -> Option<String> {
        self.vars.get(key).filter(|v| !v.is_empty()).cloned()
    }

    pub fn secret(&mut self, key: &str, default: &str) -> Secret {
        Secret(self.string(key, default))
    }

    /// Parses `key` with `FromStr`, recording a problem (and returning the default) if it fails.
    pub fn parse<T>(&mut self, key: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.vars.get(key) {
            None => default,
            Some(raw) => match raw.parse() {
                Ok(v) => v,
                Err(e) => {
                    self.problems.push(format!("{key}: {e}"));
                    default
                }
            },
        }
    }

    /// A duration written as seconds, with an optional `ms` or `s` suffix.
    pub fn duration(&mut self, key: &str, default: Duration) -> Duration {
        match self.vars.get(key).cloned() {
            None => default,
            Some(raw) => match parse_duration(&raw) {
                Some(d) => d,
                None => {
                    self.problems
                        .push(format!("{key}: `{raw}` is not a duration (e.g. 5s, 250ms)"));
                    default
                }
            },
        }
    }

    pub fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// Ends loading: the problems recorded so far, if any, become one error.
    pub fn finish(&mut self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: std::mem::take(&mut self.problems),
            })
        }
    }
}

fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if let Some(ms) = raw.strip_suffix("ms") {
        return ms.trim().parse::<u64>().ok().map(Duration::from_millis);
    }
    let secs = raw.strip_suffix('s').unwrap_or(raw).trim();
    secs.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(LogFormat::Json),
            "pretty" | "text" => Ok(LogFormat::Pretty),
            other => Err(format!("unknown log format `{other}` (json or pretty)")),
        }
    }
}

/// What every service binary needs from its environment to join the mesh.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Consul service name, e.g. "identity".
    pub service_name: String,
    /// Unique id of this instance in Consul.
    pub instance_id: String,
    /// Where gRPC listens; port 0 picks a free port.
    pub grpc_addr: SocketAddr,
    /// Where Prometheus metrics are served over HTTP; port 0 picks a free port.
    pub metrics_addr: SocketAddr,
    /// The host other processes reach this one at (registered in Consul).
    pub advertise_host: String,
    /// Consul agent HTTP address; empty disables registration and discovery.
    pub consul_addr: String,
    /// `TALENTMESH_CONSUL_TOKEN`: the ACL token sent with every Consul call (registration,
    /// health, discovery). Consul runs with ACLs, default deny; `dev/servers.sh` makes one token
    /// per service that may register only that service's name. Empty sends none (an agent
    /// without ACLs).
    pub consul_token: Secret,
    /// `TALENTMESH_MESH_TLS`: `connect` for mutual TLS with Consul Connect certificates
    /// between the services ([`crate::connect`]), `off` for plaintext. Unset, it is `connect`
    /// whenever the service is in a mesh (a Consul address is set) and `off` only for a
    /// service started alone (`TALENTMESH_CONSUL_ADDR=""`): a mesh never falls back to
    /// plaintext unless told so.
    pub mesh_tls: crate::connect::MeshTls,
    /// How often Consul runs the gRPC health check; a killed instance goes critical within it.
    pub check_interval: Duration,
    /// Consul removes an instance critical for this long (its minimum is one minute).
    pub deregister_critical_after: Duration,
    /// OTLP/gRPC endpoint for traces; none means traces stay local.
    pub otlp_endpoint: Option<String>,
    /// The standard `OTEL_*` settings (exporter, endpoint, propagators, SDK switch); see
    /// [`crate::telemetry::OtelConfig`].
    pub otel: crate::telemetry::OtelConfig,
    pub log_format: LogFormat,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Deadline applied to outgoing calls that carry none.
    pub default_deadline: Duration,
    /// Expected `iss` and `aud` of access tokens.
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub version: String,
    /// `TALENTMESH_GRPC_MAX_MESSAGE`: the largest gRPC message, in encoded bytes, this process
    /// sends or receives, as a server and as a client (default
    /// [`crate::limits::DEFAULT_MAX_MESSAGE`], sized from the largest document the API gives
    /// out; at least [`crate::limits::MIN_MAX_MESSAGE`]). Set the same value on every process.
    pub grpc_max_message: usize,
    /// The bounds of the gRPC server's connections (keep-alive, streams, handshake).
    pub grpc_connections: GrpcConnectionLimits,
}

/// How the gRPC server bounds its client connections, so neither dead peers nor connections
/// that never speak HTTP/2 pile up (issue 15: 300 half-open connections stayed open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrpcConnectionLimits {
    /// `TALENTMESH_GRPC_KEEPALIVE_INTERVAL`, default 30 s: how often the server pings each
    /// connection (HTTP/2 PING).
    pub keepalive_interval: Duration,
    /// `TALENTMESH_GRPC_KEEPALIVE_TIMEOUT`, default 10 s: a ping unanswered this long closes
    /// the connection.
    pub keepalive_timeout: Duration,
    /// `TALENTMESH_GRPC_MAX_CONCURRENT_STREAMS`, default 1024: calls one connection may have
    /// open at once (the gateway multiplexes many requests over few connections).
    pub max_concurrent_streams: u32,
    /// `TALENTMESH_GRPC_HANDSHAKE_TIMEOUT`, default 10 s: a connection that has not sent the
    /// whole HTTP/2 connection preface by then is closed.
    pub handshake_timeout: Duration,
}

impl Default for GrpcConnectionLimits {
    fn default() -> Self {
        GrpcConnectionLimits {
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_concurrent_streams: 1024,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl GrpcConnectionLimits {
    /// Reads the `TALENTMESH_GRPC_*` connection settings, recording problems in `env`.
    pub fn load(env: &mut Env) -> GrpcConnectionLimits {
        let defaults = GrpcConnectionLimits::default();
        let limits = GrpcConnectionLimits {
            keepalive_interval: env.duration(
                "TALENTMESH_GRPC_KEEPALIVE_INTERVAL",
                defaults.keepalive_interval,
            ),
            keepalive_timeout: env.duration(
                "TALENTMESH_GRPC_KEEPALIVE_TIMEOUT",
                defaults.keepalive_timeout,
            ),
            max_concurrent_streams: env.parse(
                "TALENTMESH_GRPC_MAX_CONCURRENT_STREAMS",
                defaults.max_concurrent_streams,
            ),
            handshake_timeout: env.duration(
                "TALENTMESH_GRPC_HANDSHAKE_TIMEOUT",
                defaults.handshake_timeout,
            ),
        };
        for (key, value) in [
            (
                "TALENTMESH_GRPC_KEEPALIVE_INTERVAL",
                limits.keepalive_interval,
            ),
            (
                "TALENTMESH_GRPC_KEEPALIVE_TIMEOUT",
                limits.keepalive_timeout,
            ),
            (
                "TALENTMESH_GRPC_HANDSHAKE_TIMEOUT",
                limits.handshake_timeout,
            ),
        ] {
            if value.is_zero() {
                env.problem(format!("{key}: must be positive"));
            }
        }
        if limits.max_concurrent_streams == 0 {
            env.problem("TALENTMESH_GRPC_MAX_CONCURRENT_STREAMS: must be positive");
        }
        limits
    }
}

impl MeshConfig {
    /// Reads the mesh settings of service `name`, whose gRPC port defaults to `default_port`.
    pub fn load(env: &mut Env, name: &str, default_port: u16) -> MeshConfig {
        let grpc_addr = env.parse(
            "TALENTMESH_GRPC_ADDR",
            SocketAddr::from(([127, 0, 0, 1], default_port)),
        );
        let metrics_addr = env.parse(
            "TALENTMESH_METRICS_ADDR",
            SocketAddr::from(([127, 0, 0, 1], default_port.saturating_add(1000))),
        );
        let advertise_host = env.string("TALENTMESH_ADVERTISE_HOST", "127.0.0.1");
        let consul_addr = env.string("TALENTMESH_CONSUL_ADDR", "http://127.0.0.1:18500");
        let check_interval = env.duration("TALENTMESH_CHECK_INTERVAL", Duration::from_secs(1));
        let deregister_critical_after = env.duration(
            "TALENTMESH_DEREGISTER_CRITICAL_AFTER",
            Duration::from_secs(60),
        );
        if deregister_critical_after < Duration::from_secs(60) {
            env.problem("TALENTMESH_DEREGISTER_CRITICAL_AFTER: Consul's minimum is 60s");
        }
        // Overridable so tests and canaries can register under a name of their own.
        let name = env.string("TALENTMESH_SERVICE_NAME", name);
        let name = name.as_str();
        let mesh_tls = env.parse(
            "TALENTMESH_MESH_TLS",
            crate::connect::MeshTls::default_for(&consul_addr),
        );
        let config = MeshConfig {
            service_name: name.to_string(),
            instance_id: env.string(
                "TALENTMESH_INSTANCE_ID",
                &format!("{name}-{}", uuid::Uuid::new_v4().simple()),
            ),
            grpc_addr,
            metrics_addr,
            advertise_host,
            consul_addr,
            consul_token: env.secret("TALENTMESH_CONSUL_TOKEN", ""),
            mesh_tls,
            check_interval,
            deregister_critical_after,
            otlp_endpoint: env.optional("TALENTMESH_OTLP_ENDPOINT"),
            otel: crate::telemetry::OtelConfig::load(env),
            log_format: env.parse("TALENTMESH_LOG_FORMAT", LogFormat::Json),
            shutdown_grace: env.duration("TALENTMESH_SHUTDOWN_GRACE", Duration::from_secs(10)),
            default_deadline: env.duration("TALENTMESH_DEFAULT_DEADLINE", Duration::from_secs(5)),
            jwt_issuer: env.string("TALENTMESH_JWT_ISSUER", "talentmesh-identity"),
            jwt_audience: env.string("TALENTMESH_JWT_AUDIENCE", "talentmesh"),
            version: env!("CARGO_PKG_VERSION").to_string(),
            grpc_max_message: env.parse(
                "TALENTMESH_GRPC_MAX_MESSAGE",
                crate::limits::DEFAULT_MAX_MESSAGE,
            ),
            grpc_connections: GrpcConnectionLimits::load(env),
        };
        // Above 1 GiB a single message is a memory problem, not a document.
        if !(crate::limits::MIN_MAX_MESSAGE..=1 << 30).contains(&config.grpc_max_message) {
            env.problem(format!(
                "TALENTMESH_GRPC_MAX_MESSAGE: bytes, from {} to {}",
                crate::limits::MIN_MAX_MESSAGE,
                1u64 << 30
            ));
        }
        if config.mesh_tls == crate::connect::MeshTls::Connect && config.consul_addr.is_empty() {
            env.problem("TALENTMESH_MESH_TLS=connect needs Consul (TALENTMESH_CONSUL_ADDR)");
        }
        if config.jwt_issuer.is_empty() || config.jwt_audience.is_empty() {
            env.problem("TALENTMESH_JWT_ISSUER and TALENTMESH_JWT_AUDIENCE must not be empty");
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut env = Env::from_map([
            ("TALENTMESH_GRPC_ADDR", "not-an-addr"),
            ("TALENTMESH_SHUTDOWN_GRACE", "soon"),
        ]);
        let _ = MeshConfig::load(&mut env, "identity", 50051);
        let err = env.finish().err().map(|e| e.problems.len());
        assert_eq!(err, Some(2));
    }

    #[test]
    fn defaults_point_at_the_local_servers() {
        let mut env = Env::from_map(Vec::<(String, String)>::new());
        let c = MeshConfig::load(&mut env, "identity", 50051);
        assert!(env.finish().is_ok());
        assert_eq!(c.grpc_addr.port(), 50051);
        assert_eq!(c.consul_addr, "http://127.0.0.1:18500");
        assert!(c.consul_token.is_empty());
        assert_eq!(c.mesh_tls, crate::connect::MeshTls::Connect);
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(c.grpc_max_message, crate::limits::DEFAULT_MAX_MESSAGE);
    }

    #[test]
    fn mesh_tls_is_on_in_a_mesh_and_off_only_when_asked_or_alone() {
        use crate::connect::MeshTls;
        let load = |vars: &[(&str, &str)]| {
            let mut env = Env::from_map(vars.iter().copied());
            let c = MeshConfig::load(&mut env, "job", 50053);
            env.finish().map(|()| c.mesh_tls).map_err(|e| e.problems)
        };
        assert_eq!(load(&[]), Ok(MeshTls::Connect));
        assert_eq!(load(&[("TALENTMESH_MESH_TLS", "off")]), Ok(MeshTls::Off));
        assert_eq!(load(&[("TALENTMESH_CONSUL_ADDR", "")]), Ok(MeshTls::Off));
        let alone_but_tls = load(&[
            ("TALENTMESH_CONSUL_ADDR", ""),
            ("TALENTMESH_MESH_TLS", "connect"),
        ]);
        assert!(alone_but_tls.is_err(), "{alone_but_tls:?}");
        assert!(load(&[("TALENTMESH_MESH_TLS", "plaintext")]).is_err());
    }

    #[test]
    fn the_message_limit_is_configurable_and_bounded() {
        let load = |v: &str| {
            let mut env = Env::from_map([("TALENTMESH_GRPC_MAX_MESSAGE", v)]);
            let c = MeshConfig::load(&mut env, "resume", 50054);
            env.finish().map(|()| c.grpc_max_message)
        };
        assert_eq!(load("67108864").ok(), Some(64 << 20));
        for bad in ["1024", "lots", "0"] {
            let e = load(bad).err().map(|e| e.problems.join(";"));
            assert!(
                e.is_some_and(|p| p.contains("TALENTMESH_GRPC_MAX_MESSAGE")),
                "{bad}"
            );
        }
    }
}
