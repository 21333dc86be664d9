//! Typed gateway config, loaded from defaults then `TALENTMESH_GATEWAY_*` variables. The loader
//! takes a map rather than reading `std::env` so tests pass their own values.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::{Error, Result};

/// How the gateway listens, waits and answers.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `TALENTMESH_GATEWAY_HTTP_ADDR`, default `127.0.0.1:18080`.
    pub http_addr: SocketAddr,
    /// `TALENTMESH_GATEWAY_DEADLINE` (`10s`, `500ms`), default 10 s. Sent upstream as
    /// `grpc-timeout` and enforced locally, so a hung upstream costs a client at most this long.
    pub deadline: Duration,
    /// `TALENTMESH_GATEWAY_BODY_LIMIT` in bytes, default 1 MiB; larger bodies get 413.
    pub body_limit: usize,
    /// `TALENTMESH_GATEWAY_EMIT_UNPOPULATED`, default true: responses carry every scalar, enum,
    /// repeated and map field, set or not, with its default value, so clients see one shape per
    /// message. Unset message fields are omitted either way.
    pub emit_unpopulated: bool,
    /// `TALENTMESH_GATEWAY_UPSTREAMS`, `name=http://host:port,...`: fixed upstreams for runs
    /// without service discovery.
    pub upstreams: Vec<(String, String)>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 18080)),
            deadline: Duration::from_secs(10),
            body_limit: 1024 * 1024,
            emit_unpopulated: true,
            upstreams: Vec::new(),
        }
    }
}

impl GatewayConfig {
    /// The config from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self> {
        let mut config = GatewayConfig::default();
        if let Some(v) = vars.get("TALENTMESH_GATEWAY_HTTP_ADDR") {
            config.http_addr = v
                .parse()
                .map_err(|e| invalid("TALENTMESH_GATEWAY_HTTP_ADDR", e))?;
        }
        if let Some(v) = vars.get("TALENTMESH_GATEWAY_DEADLINE") {
            config.deadline = parse_duration(v).ok_or_else(|| {
                invalid("TALENTMESH_GATEWAY_DEADLINE", "expected e.g. 10s or 500ms")
            })?;
        }
        if let Some(v) = vars.get("TALENTMESH_GATEWAY_BODY_LIMIT") {
            config.body_limit = v
                .parse()
                .map_err(|e| invalid("TALENTMESH_GATEWAY_BODY_LIMIT", e))?;
        }
        if let Some(v) = vars.get("TALENTMESH_GATEWAY_EMIT_UNPOPULATED") {
            config.emit_unpopulated = v
                .parse()
                .map_err(|e| invalid("TALENTMESH_GATEWAY_EMIT_UNPOPULATED", e))?;
        }
        if let Some(v) = vars.get("TALENTMESH_GATEWAY_UPSTREAMS") {
            for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (name, uri) = entry.split_once('=').ok_or_else(|| {
                    invalid("TALENTMESH_GATEWAY_UPSTREAMS", "expected name=uri entries")
                })?;
                config
                    .upstreams
                    .push((name.trim().to_string(), uri.trim().to_string()));
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        if self.deadline.is_zero() {
            return Err(invalid("TALENTMESH_GATEWAY_DEADLINE", "must be positive"));
        }
        if self.body_limit == 0 {
            return Err(invalid("TALENTMESH_GATEWAY_BODY_LIMIT", "must be positive"));
        }
        Ok(())
    }
}

fn invalid(key: &str, message: impl std::fmt::Display) -> Error {
    Error::Config {
        key: key.to_string(),
        message: message.to_string(),
    }
}

/// `10s`, `1.5s`, `250ms`; a bare number is seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value > 0.0).then(|| Duration::from_secs_f64(value * scale))
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
        assert_eq!(config.body_limit, 1 << 20);

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
}
