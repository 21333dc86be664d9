//! Prometheus finds every service of a mesh through Consul and scrapes it. `dev/prometheus.sh`
//! starts a private Prometheus (a data folder of the test's own, a free port) whose
//! `consul_sd_configs` discover this test's registrations in the shared Consul; every instance
//! must become an `up` target labelled with its service, its `instance` the address and metrics
//! port (stable across restarts) and its Consul registration id in `consul_service_id`, and its
//! `/metrics` must give a `talentmesh_build_info` series per service with the version Consul
//! advertises. The gateway is one of them when the harness registers it in Consul.
//!
//! Beside the mesh, the test registers one instance whose `metrics_port` answers nothing: its
//! target must be reported down. That is the check the first assertion relies on (a service
//! whose metrics port is wrong fails it), made on every run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use talentmesh_e2e::Mesh;
use talentmesh_mesh::consul::Registration;
use talentmesh_testkit::{consul, consul_addr, eventually_value};

/// How long Prometheus may take to discover and scrape every instance (Consul blocking queries
/// answer at once; Prometheus hands new targets to its scrapers every 5 s).
const TARGETS_DEADLINE: Duration = Duration::from_secs(90);

/// How long the harness's gateway may take to appear in Consul's catalog after the mesh
/// started (it registers in the background, like the services).
const GATEWAY_REGISTRATION_DEADLINE: Duration = Duration::from_secs(5);

/// One active target: its `instance` and `consul_service_id` labels, health and last error.
#[derive(Debug, Clone)]
struct Target {
    instance: String,
    consul_service_id: String,
    health: String,
    error: String,
}

/// A Prometheus of the test's own, run by `dev/prometheus.sh` with its data in a temporary
/// folder and on a free port; stopped (and its folder removed) when dropped.
struct Prometheus {
    base: String,
    vars: Vec<(&'static str, String)>,
    dir: PathBuf,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dev/prometheus.sh")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Prometheus {
    /// Starts Prometheus discovering the Consul services `services`, scraping every second.
    async fn start(services: &[String]) -> Prometheus {
        let dir = std::env::temp_dir().join(format!(
            "talentmesh-prometheus-e2e-{}",
            rand::random::<u64>()
        ));
        let port = free_port();
        let vars = vec![
            ("TALENTMESH_PROMETHEUS_DIR", dir.display().to_string()),
            ("TALENTMESH_PROMETHEUS_PORT", port.to_string()),
            ("TALENTMESH_PROMETHEUS_SERVICES", services.join(",")),
            ("TALENTMESH_PROMETHEUS_SCRAPE_INTERVAL", "1s".to_string()),
            ("TALENTMESH_CONSUL_ADDR", consul_addr()),
        ];
        let prometheus = Prometheus {
            base: format!("http://127.0.0.1:{port}"),
            vars,
            dir,
        };
        let out = tokio::process::Command::new("bash")
            .arg(script())
            .arg("up")
            .envs(prometheus.vars.iter().cloned())
            .output()
            .await
            .expect("run dev/prometheus.sh");
        assert!(
            out.status.success(),
            "dev/prometheus.sh up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        prometheus
    }

    async fn api(&self, path: &str) -> Value {
        let body: Value = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("prometheus answers")
            .json()
            .await
            .expect("a JSON answer");
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["data"].clone()
    }

    /// The active targets by their `service` label.
    async fn targets(&self) -> BTreeMap<String, Vec<Target>> {
        let data = self.api("/api/v1/targets?state=active").await;
        let mut by_service: BTreeMap<String, Vec<Target>> = BTreeMap::new();
        for t in data["activeTargets"].as_array().into_iter().flatten() {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            by_service
                .entry(text(&t["labels"]["service"]))
                .or_default()
                .push(Target {
                    instance: text(&t["labels"]["instance"]),
                    consul_service_id: text(&t["labels"]["consul_service_id"]),
                    health: text(&t["health"]),
                    error: text(&t["lastError"]),
                });
        }
        by_service
    }

    /// The instant vector of `query`.
    async fn query(&self, query: &str) -> Vec<Value> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", self.base),
            [("query", query)],
        )
        .unwrap();
        let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        assert_eq!(body["status"], "success", "{query}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script())
            .arg("down")
            .envs(self.vars.iter().cloned())
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An instance registered in Consul whose metrics port answers nothing; deregistered on drop.
struct Unreachable {
    name: String,
    id: String,
}

impl Unreachable {
    async fn register() -> Unreachable {
        let name = format!("unreachable-e2e-{}", rand::random::<u32>());
        let registration = Registration {
            name: name.clone(),
            id: format!("{name}-1"),
            address: "127.0.0.1".to_string(),
            port: free_port(),
            tags: Vec::new(),
            meta: [
                ("version".to_string(), "0.0.0".to_string()),
                // Bound and released: nothing listens there.
                ("metrics_port".to_string(), free_port().to_string()),
            ]
            .into_iter()
            .collect(),
            check_interval: Duration::from_secs(10),
            deregister_critical_after: Duration::from_secs(60),
            connect_native: false,
        };
        consul().register(&registration).await.expect("register");
        Unreachable {
            name,
            id: registration.id,
        }
    }
}

/// The Consul name the harness's gateway registered under (a name of the test's own, holding
/// `gateway` and the test's id `id`), or None when it has not registered.
async fn gateway_registration(id: &str) -> Option<String> {
    eventually_value(GATEWAY_REGISTRATION_DEADLINE, || async {
        let names = consul()
            .services(0, Duration::ZERO)
            .await
            .expect("consul catalog")
            .value;
        names
            .into_iter()
            .find(|n| n.starts_with("gateway") && n.contains(id))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_discovers_and_scrapes_every_service_through_consul() {
    let mesh = Mesh::start_all().await;
    // Consul name -> (mesh name, metrics port).
    let mut services: BTreeMap<String, (String, Option<u16>)> = mesh
        .services()
        .into_iter()
        .map(|(name, spawned)| {
            (
                spawned.service.clone(),
                (name.to_string(), Some(spawned.metrics.port())),
            )
        })
        .collect();
    assert_eq!(
        services.len(),
        6,
        "the mesh's six gRPC services: {services:?}"
    );
    // The gateway registers in Consul as `gateway` in a deployment, the harness's under a name
    // of the test's own: Prometheus finds it there like every service.
    let gateway = gateway_registration(&mesh.env.id).await.unwrap_or_else(|| {
        panic!(
            "the gateway is not in Consul (no service named gateway*{} within \
             {GATEWAY_REGISTRATION_DEADLINE:?})",
            mesh.env.id
        )
    });
    services.insert(gateway, ("gateway".to_string(), None));
    let unreachable = Unreachable::register().await;
    let mut discover: Vec<String> = services.keys().cloned().collect();
    discover.push(unreachable.name.clone());
    let prometheus = Prometheus::start(&discover).await;

    // Every instance of the mesh up, and the unreachable one reported down.
    let targets = eventually_value(TARGETS_DEADLINE, || async {
        let targets = prometheus.targets().await;
        let mesh_up = services.keys().all(|s| {
            targets
                .get(s)
                .is_some_and(|ts| !ts.is_empty() && ts.iter().all(|t| t.health == "up"))
        });
        let unreachable_down = targets
            .get(&unreachable.name)
            .is_some_and(|ts| ts.iter().all(|t| t.health == "down"));
        (mesh_up && unreachable_down).then_some(targets)
    })
    .await;
    let targets = match targets {
        Some(t) => t,
        None => panic!(
            "within {TARGETS_DEADLINE:?} not every mesh instance was up and the unreachable one \
             down: {:#?}",
            prometheus.targets().await
        ),
    };
    for (service, instances) in &targets {
        let Some((_, metrics_port)) = services.get(service) else {
            continue;
        };
        assert_eq!(instances.len(), 1, "{service}: one instance: {instances:?}");
        let target = &instances[0];
        // The Prometheus convention: instance is where the target is scraped, which a
        // restart on the same port keeps; the registration id (new at each start) is apart.
        if let Some(port) = metrics_port {
            assert!(
                target.instance.ends_with(&format!(":{port}")),
                "{service}: instance is <address>:<metrics port {port}>: {target:?}"
            );
        }
        assert!(
            !target.consul_service_id.is_empty() && target.consul_service_id != target.instance,
            "{service}: the Consul id in consul_service_id: {target:?}"
        );
    }
    let down = &targets[&unreachable.name][0];
    assert!(
        !down.error.is_empty(),
        "the unreachable target says why it is down"
    );
    assert_eq!(
        down.consul_service_id, unreachable.id,
        "consul_service_id is the registration's id"
    );

    // A series per service from its own /metrics, carrying the target's labels.
    let build_info = prometheus
        .query(r#"talentmesh_build_info{job="talentmesh"}"#)
        .await;
    let seen: BTreeSet<String> = build_info
        .iter()
        .filter_map(|s| s["metric"]["service"].as_str().map(str::to_string))
        .collect();
    let expected: BTreeSet<String> = services.keys().cloned().collect();
    assert_eq!(seen, expected, "talentmesh_build_info per service");
    for series in &build_info {
        let labels = &series["metric"];
        assert!(
            labels["version"].as_str().is_some_and(|v| !v.is_empty()),
            "version label (the registration's meta): {labels}"
        );
        assert!(
            labels["instance"].as_str().is_some_and(|i| !i.is_empty()),
            "instance label: {labels}"
        );
        assert!(
            labels["consul_service_id"]
                .as_str()
                .is_some_and(|i| !i.is_empty()),
            "consul_service_id label: {labels}"
        );
        assert!(
            labels.get("exported_service").is_none(),
            "the target's service label wins: {labels}"
        );
    }

    drop(prometheus);
    let _ = consul().deregister(&unreachable.id).await;
    mesh.stop().await;
}
