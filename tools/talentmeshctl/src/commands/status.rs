//! `status`: each service of `services.tsv` (the mesh's one list of services) as Consul sees
//! it — instances, the worst of their checks, the version and metrics port they registered —
//! the gateway included (registered as `gateway`), whose `--gateway` URL is also asked for
//! `/healthz` and `/readyz`. With `--all`, every other service registered in Consul too.

use std::collections::BTreeMap;
use std::process::ExitCode;

use futures::future::join_all;
use serde::Serialize;
use serde_json::{json, Value};

use crate::cli::StatusArgs;
use crate::consul::InstanceHealth;
use crate::context::Context;
use crate::error::{chain, exit, Endpoint, Error, Peer, Result};
use crate::output;

/// The mesh's list of processes, compiled in (name, kind `grpc` or `http`).
const SERVICES_TSV: &str = include_str!("../../../../services.tsv");

/// `(name, kind)` of each line of services.tsv, in start order.
pub fn known_services() -> Vec<(String, String)> {
    SERVICES_TSV
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let name = cols.next()?.trim();
            let _binary = cols.next()?;
            let kind = cols.next()?.trim();
            Some((name.to_string(), kind.to_string()))
        })
        .collect()
}

/// Parses `service=consul-name,...`.
pub fn parse_renames(raw: &str) -> Result<BTreeMap<String, String>> {
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            entry
                .split_once('=')
                .map(|(s, c)| (s.trim().to_string(), c.trim().to_string()))
                .filter(|(s, c)| !s.is_empty() && !c.is_empty())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--service-names: expected service=consul-name, got `{entry}`"
                    ))
                })
        })
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceStatus {
    name: String,
    consul_name: String,
    /// At least one instance passes all its checks.
    healthy: bool,
    instances: Vec<InstanceHealth>,
    /// Why the instances could not be listed.
    error: String,
}

/// `status`: exit 0 when every selected service (the gateway included) has a passing
/// instance and the gateway's URL answers ready, [`exit::UNHEALTHY`] otherwise; an error when Consul cannot be asked at all
/// ([`exit::UNREACHABLE`] when it does not answer, [`exit::PERMISSION`] for a refused token).
pub async fn run(ctx: &Context, args: &StatusArgs) -> Result<ExitCode> {
    let renames = parse_renames(&args.service_names)?;
    let known = known_services();
    for wanted in &args.services {
        if !known.iter().any(|(n, _)| n == wanted) {
            return Err(Error::Usage(format!(
                "--services: unknown service `{wanted}` (known: {})",
                known
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let selected: Vec<(String, String)> = known
        .into_iter()
        .filter(|(n, _)| args.services.is_empty() || args.services.contains(n))
        .collect();
    let consul = ctx.consul()?;
    // Every selected process, the gateway too: it registers in Consul like the services.
    let mut names: Vec<(String, String)> = selected
        .iter()
        .map(|(n, _)| {
            (
                n.clone(),
                renames.get(n).cloned().unwrap_or_else(|| n.clone()),
            )
        })
        .collect();
    if args.all {
        let listed: Vec<String> = names.iter().map(|(_, c)| c.clone()).collect();
        for other in consul.services().await? {
            if other != "consul" && !listed.contains(&other) {
                names.push((other.clone(), other));
            }
        }
    }
    let mut answers = join_all(names.into_iter().map(|(name, consul_name)| {
        let consul = &consul;
        async move {
            let instances = consul.instances(&consul_name).await;
            (name, consul_name, instances)
        }
    }))
    .await;
    // A Consul that cannot be asked at all is an error (with its own exit code and hint), not
    // a report of missing services.
    if !answers.is_empty() && answers.iter().all(|(_, _, a)| a.is_err()) {
        if let (_, _, Err(e)) = answers.swap_remove(0) {
            return Err(e);
        }
    }
    let services: Vec<ServiceStatus> = answers
        .into_iter()
        .map(|(name, consul_name, answer)| match answer {
            Ok(instances) => ServiceStatus {
                healthy: instances.iter().any(|i| i.health == "passing"),
                name,
                consul_name,
                instances,
                error: String::new(),
            },
            Err(e) => ServiceStatus {
                healthy: false,
                name,
                consul_name,
                instances: Vec::new(),
                error: e.to_string(),
            },
        })
        .collect();
    let is_http = |name: &str| selected.iter().any(|(n, kind)| n == name && kind == "http");
    let (http, services): (Vec<ServiceStatus>, Vec<ServiceStatus>) =
        services.into_iter().partition(|s| is_http(&s.name));
    let gateway = match http.into_iter().next() {
        Some(registered) => Some((registered, gateway_health(ctx).await)),
        None => None,
    };
    let healthy = services.iter().all(|s| s.healthy)
        && gateway.as_ref().is_none_or(|(registered, probe)| {
            registered.healthy && probe["ready"].as_bool() == Some(true)
        });
    if ctx.json() {
        output::json(&json!({
            "healthy": healthy,
            "services": services,
            "gateway": gateway.as_ref().map(|(registered, probe)| with_probe(registered, probe)),
        }));
    } else {
        let mut table = output::table([
            "SERVICE", "INSTANCE", "ADDRESS", "HEALTH", "VERSION", "METRICS",
        ]);
        for s in &services {
            service_rows(&mut table, s);
        }
        if let Some((registered, probe)) = &gateway {
            service_rows(&mut table, registered);
            probe_row(&mut table, probe);
        }
        println!("{table}");
        println!("mesh: {}", if healthy { "healthy" } else { "NOT healthy" });
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::UNHEALTHY)
    })
}

/// One row per instance of `s`, or one saying why there is none.
fn service_rows(table: &mut comfy_table::Table, s: &ServiceStatus) {
    let name = if s.name == s.consul_name {
        s.name.clone()
    } else {
        format!("{} ({})", s.name, s.consul_name)
    };
    if s.instances.is_empty() {
        let why = if s.error.is_empty() {
            "missing".to_string()
        } else {
            format!("error: {}", s.error)
        };
        table.add_row(vec![
            name.clone(),
            "-".into(),
            "-".into(),
            why,
            "".into(),
            "".into(),
        ]);
    }
    for i in &s.instances {
        let mut health = i.health.clone();
        if let Some(p) = i.problems.first() {
            health = format!("{health}: {p}");
        }
        table.add_row(vec![
            name.clone(),
            i.id.clone(),
            format!("{}:{}", i.address, i.port),
            health,
            i.version.clone(),
            i.metrics_port.clone(),
        ]);
    }
}

/// The gateway's Consul registration (`registered`) and what its `--gateway` URL answered
/// (`probe`, from [`gateway_health`]) in one JSON object: the probe's fields and the
/// registration's `consulName`, `healthy`, `instances` and `consulError`.
fn with_probe(registered: &ServiceStatus, probe: &Value) -> Value {
    let mut g = probe.clone();
    g["consulName"] = registered.consul_name.clone().into();
    g["healthy"] = registered.healthy.into();
    g["instances"] = json!(registered.instances);
    g["consulError"] = registered.error.clone().into();
    g
}

/// The row of what the gateway's `--gateway` URL answered (ready, with its routes and
/// upstreams, or why not), after its instances' rows.
fn probe_row(table: &mut comfy_table::Table, g: &Value) {
    let probe = match (g["live"].as_bool(), g["ready"].as_bool()) {
        (Some(true), Some(true)) => format!(
            "ready ({} routes, upstreams: {})",
            output::text(&g["routes"]),
            g["upstreams"]
                .as_array()
                .map(|u| u.iter().map(output::text).collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        ),
        (Some(true), _) => "live, not ready".to_string(),
        _ => format!("down: {}", output::text(&g["error"])),
    };
    table.add_row(vec![
        "gateway".into(),
        "(--gateway)".into(),
        output::text(&g["url"]),
        probe,
        "".into(),
        "".into(),
    ]);
}

/// The gateway's `/healthz` (alive) and `/readyz` (routes loaded, upstreams found).
async fn gateway_health(ctx: &Context) -> Value {
    let base = ctx.global.gateway.trim_end_matches('/').to_string();
    let timeout = std::time::Duration::from_secs(ctx.global.timeout.max(1));
    let http = match Endpoint::new(Peer::Gateway, &base, timeout).client() {
        Ok(h) => h,
        Err(e) => {
            return json!({"url": base, "live": false, "ready": false, "error": e.to_string()})
        }
    };
    let live = match http.get(format!("{base}/healthz")).send().await {
        Ok(r) => r.status().is_success(),
        Err(e) => return json!({"url": base, "live": false, "ready": false, "error": chain(&e)}),
    };
    let (ready, body) = match http.get(format!("{base}/readyz")).send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            (ok, r.json::<Value>().await.unwrap_or(Value::Null))
        }
        Err(e) => (false, json!({"error": chain(&e)})),
    };
    json!({
        "url": base,
        "live": live,
        "ready": ready,
        "routes": body["routes"],
        "upstreams": body["upstreams"],
        "error": body["error"],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_list_has_the_services_and_the_gateway() {
        let known = known_services();
        let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"identity") && names.contains(&"sync"),
            "{names:?}"
        );
        assert_eq!(
            known
                .iter()
                .find(|(n, _)| n == "gateway")
                .map(|(_, k)| k.as_str()),
            Some("http")
        );
    }

    #[test]
    fn renames_parse_and_malformed_ones_are_named() {
        let r = parse_renames("identity=identity-e2e-1, sync=s2").unwrap();
        assert_eq!(r["identity"], "identity-e2e-1");
        assert_eq!(r["sync"], "s2");
        assert!(parse_renames("").unwrap().is_empty());
        assert!(parse_renames("identity")
            .unwrap_err()
            .to_string()
            .contains("`identity`"));
    }
}
