//! Typed gateway config, loaded from defaults then `TALENTMESH_GATEWAY_*` variables. The loader
//! takes a map rather than reading `std::env` so tests pass their own values.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use talentmesh_mesh::config::Env;

use crate::error::{Error, Result};

/// The default body limit: 33 MiB. The largest document a GET gives out is the resume
/// service's export document, at most 16 MiB of JSON (export pages are cut to the size import
/// accepts); inside a JSON response it is a string, whose escaping (`"` to `\"`) at most
/// doubles it; 1 MiB more is room for the envelope. A resume (at most 4 MiB encoded) or a page
/// of them is well under this as JSON.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 16 * 1024 * 1024 + 1024 * 1024;

/// More worker threads than this is a typo, not a machine.
const MAX_WORKERS: usize = 1024;

/// The mesh's list of processes (name, binary, kind, ...), the one the dev scripts start.
const SERVICES_TSV: &str = include_str!("../../services.tsv");

/// The mesh services the gateway exposes by default: every `grpc` process of `services.tsv`.
pub fn mesh_services() -> Vec<String> {
    SERVICES_TSV
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut columns = line.split('\t');
            let name = columns.next()?.trim();
            let kind = columns.nth(1)?.trim();
            (kind == "grpc" && !name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// How the gateway listens, waits and answers.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `TALENTMESH_GATEWAY_HTTP_ADDR`, default `127.0.0.1:18080`.
    pub http_addr: SocketAddr,
    /// `TALENTMESH_GATEWAY_DEADLINE` (`10s`, `500ms`), default 10 s. Sent upstream as
    /// `grpc-timeout` and enforced locally, so a hung upstream costs a client at most this long.
    pub deadline: Duration,
    /// `TALENTMESH_GATEWAY_BODY_LIMIT` in bytes, default [`DEFAULT_BODY_LIMIT`] (33 MiB);
    /// larger bodies get 413. It must admit every document a GET gives out, so a client can
    /// send it back (an export to import, a resume to save).
    pub body_limit: usize,
    /// `TALENTMESH_GRPC_MAX_MESSAGE` in bytes, the mesh's one message size limit (default
    /// [`talentmesh_mesh::limits::DEFAULT_MAX_MESSAGE`]): the largest request the gateway sends
    /// upstream (a larger one is refused with 413) and the largest answer it reads.
    pub max_message: usize,
    /// `TALENTMESH_GATEWAY_EMIT_UNPOPULATED`, default true: responses carry every scalar, enum,
    /// repeated and map field, set or not, with its default value, so clients see one shape per
    /// message. Unset message fields are omitted either way.
    pub emit_unpopulated: bool,
    /// `TALENTMESH_GATEWAY_UPSTREAMS`, `name=http://host:port,...`: fixed upstreams for runs
    /// without service discovery.
    pub upstreams: Vec<(String, String)>,
    /// `TALENTMESH_GATEWAY_SERVICE_NAMES`, `service=consul-name,...`: routes of a service sent
    /// to a Consul service of another name (benchmarks and canaries register under their own).
    pub service_names: Vec<(String, String)>,
    /// `TALENTMESH_GATEWAY_WORKERS`, default the number of CPUs: worker threads serving HTTP,
    /// each a single-threaded runtime with its own upstream connections (see [`crate::workers`]).
    pub workers: usize,
    /// `TALENTMESH_GATEWAY_SERVICES`, `identity,company,...`: the mesh services (route
    /// upstream names) the gateway routes to; default every gRPC service of `services.tsv`
    /// ([`mesh_services`]). Routes of any other service — one registered in Consul under
    /// another name, or a package a service's reflection adds — are not served.
    pub services: Vec<String>,
    /// `TALENTMESH_GATEWAY_TRUSTED_PROXIES`, CIDRs or addresses (`10.0.0.0/8,192.0.2.7`),
    /// default none: peers whose `X-Forwarded-For` is believed. From any other peer the header
    /// is replaced by the peer's own address.
    pub trusted_proxies: Vec<IpNet>,
    /// `TALENTMESH_GATEWAY_HEADER_TIMEOUT`, default 10 s: the longest wait for a complete
    /// HTTP/1 request head (idle keep-alive time included); past it the connection closes.
    pub header_timeout: Duration,
    /// `TALENTMESH_GATEWAY_BODY_TIMEOUT`, default 15 s: the longest wait for the next piece of
    /// a request body (nginx's `client_body_timeout`); past it the answer is 408 and the
    /// connection closes.
    pub body_timeout: Duration,
    /// `TALENTMESH_GATEWAY_IDLE_TIMEOUT`, default 60 s: a connection with no request in flight
    /// for this long is closed (HTTP/2 gets a GOAWAY).
    pub idle_timeout: Duration,
    /// `TALENTMESH_GATEWAY_MAX_CONNECTIONS`, default 4096: open client connections; one past it
    /// is closed as soon as it is accepted.
    pub max_connections: usize,
    /// `TALENTMESH_GATEWAY_CORS_ORIGINS`, origins (`https://app.example.com,http://localhost:3000`)
    /// or `*`, default none: the web origins whose pages may call the API from a browser
    /// (CORS). Empty turns CORS off: no `Access-Control-*` headers, and a preflight `OPTIONS`
    /// is 405 like any method a path does not have.
    pub cors_origins: Vec<String>,
    /// `TALENTMESH_GATEWAY_CORS_MAX_AGE`, default 10 min: how long a browser may keep a preflight
    /// answer (`Access-Control-Max-Age`).
    pub cors_max_age: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 18080)),
            deadline: Duration::from_secs(10),
            body_limit: DEFAULT_BODY_LIMIT,
            max_message: talentmesh_mesh::limits::DEFAULT_MAX_MESSAGE,
            emit_unpopulated: true,
            upstreams: Vec::new(),
            service_names: Vec::new(),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            services: mesh_services(),
            trusted_proxies: Vec::new(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            cors_origins: Vec::new(),
            cors_max_age: Duration::from_secs(600),
        }
    }
}

impl GatewayConfig {
    /// Reads the gateway's settings from `env`, recording any problem there (the mesh's loader,
    /// so the gateway's variables parse and report exactly like every service's).
    pub fn load(env: &mut Env) -> GatewayConfig {
        let defaults = GatewayConfig::default();
        let mut config = GatewayConfig {
            http_addr: env.parse("TALENTMESH_GATEWAY_HTTP_ADDR", defaults.http_addr),
            deadline: env.duration("TALENTMESH_GATEWAY_DEADLINE", defaults.deadline),
            body_limit: env.parse("TALENTMESH_GATEWAY_BODY_LIMIT", defaults.body_limit),
            // Read (and checked) with the mesh's settings too; read here so a gateway made from
            // a map of variables alone keeps the same limit.
            max_message: env.parse("TALENTMESH_GRPC_MAX_MESSAGE", defaults.max_message),
            emit_unpopulated: env.parse(
                "TALENTMESH_GATEWAY_EMIT_UNPOPULATED",
                defaults.emit_unpopulated,
            ),
            upstreams: Vec::new(),
            service_names: Vec::new(),
            workers: env.parse("TALENTMESH_GATEWAY_WORKERS", defaults.workers),
            services: defaults.services,
            trusted_proxies: Vec::new(),
            header_timeout: env
                .duration("TALENTMESH_GATEWAY_HEADER_TIMEOUT", defaults.header_timeout),
            body_timeout: env.duration("TALENTMESH_GATEWAY_BODY_TIMEOUT", defaults.body_timeout),
            idle_timeout: env.duration("TALENTMESH_GATEWAY_IDLE_TIMEOUT", defaults.idle_timeout),
            max_connections: env.parse(
                "TALENTMESH_GATEWAY_MAX_CONNECTIONS",
                defaults.max_connections,
            ),
            cors_origins: Vec::new(),
            cors_max_age: env.duration("TALENTMESH_GATEWAY_CORS_MAX_AGE", defaults.cors_max_age),
        };
        for origin in list(&env.string("TALENTMESH_GATEWAY_CORS_ORIGINS", "")) {
            if origin == "*" || is_origin(&origin) {
                config.cors_origins.push(origin);
            } else {
                env.problem(format!(
                    "TALENTMESH_GATEWAY_CORS_ORIGINS: `{origin}` is not `*` or an origin such as \
                     https://app.example.com (scheme, host and port only)"
                ));
            }
        }
        if config.cors_origins.len() > 1 && config.cors_origins.iter().any(|o| o == "*") {
            env.problem("TALENTMESH_GATEWAY_CORS_ORIGINS: `*` stands alone");
        }
        if let Some(services) = env.optional("TALENTMESH_GATEWAY_SERVICES") {
            config.services = list(&services);
        }
        for entry in list(&env.string("TALENTMESH_GATEWAY_TRUSTED_PROXIES", "")) {
            match parse_network(&entry) {
                Some(net) => config.trusted_proxies.push(net),
                None => env.problem(format!(
                    "TALENTMESH_GATEWAY_TRUSTED_PROXIES: `{entry}` is not a CIDR or an IP address"
                )),
            }
        }
        for (key, value) in [
            ("TALENTMESH_GATEWAY_HEADER_TIMEOUT", config.header_timeout),
            ("TALENTMESH_GATEWAY_BODY_TIMEOUT", config.body_timeout),
            ("TALENTMESH_GATEWAY_IDLE_TIMEOUT", config.idle_timeout),
        ] {
            if value.is_zero() {
                env.problem(format!("{key}: must be positive"));
            }
        }
        if config.max_connections == 0 {
            env.problem("TALENTMESH_GATEWAY_MAX_CONNECTIONS: must be positive");
        }
        config.upstreams = pairs(env, "TALENTMESH_GATEWAY_UPSTREAMS", "name=uri");
        config.service_names = pairs(
            env,
            "TALENTMESH_GATEWAY_SERVICE_NAMES",
            "service=consul-name",
        );
        if config.deadline.is_zero() {
            env.problem("TALENTMESH_GATEWAY_DEADLINE: must be positive");
        }
        if config.body_limit == 0 {
            env.problem("TALENTMESH_GATEWAY_BODY_LIMIT: must be positive");
        }
        if !(1..=MAX_WORKERS).contains(&config.workers) {
            env.problem(format!(
                "TALENTMESH_GATEWAY_WORKERS: must be between 1 and {MAX_WORKERS}"
            ));
        }
        config
    }

    /// The config from a map of variables, every problem reported at once.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self> {
        let mut env = Env::from_map(vars.clone());
        let config = GatewayConfig::load(&mut env);
        env.finish().map_err(|e| Error::Config {
            key: "TALENTMESH_GATEWAY_*".to_string(),
            message: e.problems.join("; "),
        })?;
        Ok(config)
    }
}

/// The non-empty, trimmed entries of a comma-separated list.
fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `text` is a serialized web origin (RFC 6454): `scheme://host[:port]`, nothing more.
fn is_origin(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.origin().ascii_serialization() == text
    })
}

/// A network in CIDR notation, or one address (a /32 or /128).
fn parse_network(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// `a=b,c=d` entries of variable `key`; a malformed entry is recorded as a problem.
fn pairs(env: &mut Env, key: &str, shape: &str) -> Vec<(String, String)> {
    let raw = env.string(key, "");
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry.split_once('=') {
            Some((a, b)) => out.push((a.trim().to_string(), b.trim().to_string())),
            None => env.problem(format!("{key}: expected {shape} entries, got `{entry}`")),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let config = GatewayConfig::from_map(&HashMap::new()).unwrap();
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:18080");
        assert_eq!(config.deadline, Duration::from_secs(10));
        assert_eq!(config.body_limit, DEFAULT_BODY_LIMIT);
        assert_eq!(
            config.max_message,
            talentmesh_mesh::limits::DEFAULT_MAX_MESSAGE
        );

        let vars: HashMap<String, String> = [
            ("TALENTMESH_GATEWAY_DEADLINE", "250ms"),
            ("TALENTMESH_GATEWAY_BODY_LIMIT", "10"),
            (
                "TALENTMESH_GATEWAY_UPSTREAMS",
                "identity=http://127.0.0.1:1, x=http://h:2",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = GatewayConfig::from_map(&vars).unwrap();
        assert_eq!(config.deadline, Duration::from_millis(250));
        assert_eq!(config.body_limit, 10);
        assert_eq!(
            config.upstreams[1],
            ("x".to_string(), "http://h:2".to_string())
        );

        let bad: HashMap<String, String> = [(
            "TALENTMESH_GATEWAY_DEADLINE".to_string(),
            "soon".to_string(),
        )]
        .into();
        assert!(GatewayConfig::from_map(&bad).is_err());
    }

    #[test]
    fn exposed_services_trusted_proxies_and_connection_bounds() {
        let config = GatewayConfig::from_map(&HashMap::new()).unwrap();
        // services.tsv's gRPC processes; not the gateway itself.
        assert_eq!(
            config.services,
            ["identity", "company", "job", "resume", "matching", "sync"]
        );
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(config.header_timeout, Duration::from_secs(10));
        assert_eq!(config.max_connections, 4096);

        let vars: HashMap<String, String> = [
            ("TALENTMESH_GATEWAY_SERVICES", "identity, job"),
            (
                "TALENTMESH_GATEWAY_TRUSTED_PROXIES",
                "10.0.0.0/8, 192.0.2.7,::1",
            ),
            ("TALENTMESH_GATEWAY_IDLE_TIMEOUT", "2s"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = GatewayConfig::from_map(&vars).unwrap();
        assert_eq!(config.services, ["identity", "job"]);
        let proxies: Vec<String> = config
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]);
        assert_eq!(config.idle_timeout, Duration::from_secs(2));

        for (key, value) in [
            ("TALENTMESH_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TALENTMESH_GATEWAY_HEADER_TIMEOUT", "0s"),
            ("TALENTMESH_GATEWAY_MAX_CONNECTIONS", "0"),
        ] {
            let vars = HashMap::from([(key.to_string(), value.to_string())]);
            let err = GatewayConfig::from_map(&vars).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn cors_is_off_by_default_and_takes_origins_or_a_star() {
        let config = GatewayConfig::from_map(&HashMap::new()).unwrap();
        assert!(config.cors_origins.is_empty());
        let vars = |v: &str| {
            HashMap::from([("TALENTMESH_GATEWAY_CORS_ORIGINS".to_string(), v.to_string())])
        };
        let config =
            GatewayConfig::from_map(&vars("https://app.example.com, http://localhost:3000"))
                .unwrap();
        assert_eq!(
            config.cors_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(
            GatewayConfig::from_map(&vars("*")).unwrap().cors_origins,
            ["*"]
        );
        for bad in [
            "https://app.example.com/",
            "app.example.com",
            "*,https://a.b",
        ] {
            let err = GatewayConfig::from_map(&vars(bad)).unwrap_err().to_string();
            assert!(
                err.contains("TALENTMESH_GATEWAY_CORS_ORIGINS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn workers_default_to_the_cpus_and_must_be_positive() {
        let config = GatewayConfig::from_map(&HashMap::new()).unwrap();
        assert!(config.workers >= 1);
        let vars =
            |n: &str| HashMap::from([("TALENTMESH_GATEWAY_WORKERS".to_string(), n.to_string())]);
        assert_eq!(GatewayConfig::from_map(&vars("3")).unwrap().workers, 3);
        let err = GatewayConfig::from_map(&vars("0")).unwrap_err().to_string();
        assert!(err.contains("TALENTMESH_GATEWAY_WORKERS"), "{err}");
        assert!(GatewayConfig::from_map(&vars("many")).is_err());
    }
}
