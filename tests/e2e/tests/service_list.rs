//! `services.tsv` is the one list of the mesh's processes. dev/mesh.sh starts what it names; this
//! test keeps everything else honest about it: each listed service's binary defaults to the
//! listed ports, the README's table shows them, and every service crate is listed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use talentmesh_mesh::config::Env;

const LIST: &str = include_str!("../../../services.tsv");
const README: &str = include_str!("../../../README.md");

struct Entry {
    name: String,
    binary: String,
    kind: String,
    port: u16,
    metrics: u16,
}

fn entries() -> Vec<Entry> {
    LIST.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(
                cols.len() >= 5,
                "services.tsv line has too few columns: {l:?}"
            );
            Entry {
                name: cols[0].to_string(),
                binary: cols[1].to_string(),
                kind: cols[2].to_string(),
                port: cols[3].parse().expect("port"),
                metrics: cols[4].parse().expect("metrics port"),
            }
        })
        .collect()
}

/// The default (gRPC or HTTP, metrics) ports of a service's binary, from its own config loader
/// with an empty environment. A service listed but unknown here fails the test: add it.
fn default_ports(name: &str) -> (u16, u16) {
    let empty = || Env::from_map(Vec::<(String, String)>::new());
    let mesh = match name {
        // Identity refuses to start without a key-encryption key; the ports do not depend on it.
        "identity" => {
            talentmesh_identity::Config::load(Env::from_map([(
                talentmesh_identity::config::KEY_ENCRYPTION_KEY.to_string(),
                talentmesh_e2e::IDENTITY_TEST_KEY_ENCRYPTION_KEY.to_string(),
            )]))
            .unwrap()
            .mesh
        }
        "company" => talentmesh_company::Config::load(empty()).unwrap().mesh,
        "job" => talentmesh_job::Config::load(empty()).unwrap().mesh,
        "resume" => talentmesh_resume::Config::load(empty()).unwrap().mesh,
        "matching" => talentmesh_matching::Config::load(empty()).unwrap().mesh,
        "sync" => talentmesh_sync::Config::load(empty()).unwrap().mesh,
        "gateway" => {
            let mut env = empty();
            let mesh = talentmesh_mesh::MeshConfig::load(&mut env, "gateway", 18080);
            let gateway = talentmesh_gateway::GatewayConfig::load(&mut env);
            return (gateway.http_addr.port(), mesh.metrics_addr.port());
        }
        other => panic!("services.tsv lists {other}, which this test does not know: add it"),
    };
    (mesh.grpc_addr.port(), mesh.metrics_addr.port())
}

#[test]
fn every_listed_service_defaults_to_its_listed_ports() {
    let entries = entries();
    assert!(entries.len() >= 6, "the list lost services");
    for e in &entries {
        assert_eq!(
            default_ports(&e.name),
            (e.port, e.metrics),
            "{}: default ports differ from services.tsv",
            e.name
        );
        assert!(
            e.kind == "grpc" || e.kind == "http",
            "{}: kind {}",
            e.name,
            e.kind
        );
    }
}

#[test]
fn the_readme_table_shows_every_listed_service_with_its_ports() {
    for e in entries() {
        let row = README
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("127.0.0.1:{}", e.port)))
            .unwrap_or_else(|| panic!("README has no row for {} on port {}", e.name, e.port));
        assert!(
            row.contains(&format!("127.0.0.1:{}/metrics", e.metrics)),
            "README row of {} lacks its metrics port {}: {row}",
            e.name,
            e.metrics
        );
    }
}

#[test]
fn every_service_crate_is_listed_with_its_binary() {
    let entries = entries();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut crates: Vec<String> = std::fs::read_dir(root.join("services"))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().to_string())
        .filter(|d| root.join("services").join(d).join("Cargo.toml").exists())
        .collect();
    crates.sort();
    for name in &crates {
        let e = entries
            .iter()
            .find(|e| &e.name == name)
            .unwrap_or_else(|| panic!("services/{name} is not in services.tsv"));
        assert_eq!(e.binary, format!("talentmesh-{name}"), "{name}'s binary");
    }
}

/// The domain services share one shape (docs/adding-a-service.md): the same top-level modules,
/// so a reader who knows one knows where everything is in the others.
#[test]
fn the_domain_crates_have_the_same_module_set() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let expected = [
        "config", "domain", "error", "events", "grpc", "lib", "main", "service", "store",
    ];
    for name in ["identity", "company", "job", "resume", "matching"] {
        let mut modules: Vec<String> =
            std::fs::read_dir(root.join("services").join(name).join("src"))
                .unwrap()
                .map(|d| {
                    d.unwrap()
                        .file_name()
                        .to_string_lossy()
                        .trim_end_matches(".rs")
                        .to_string()
                })
                .collect();
        modules.sort();
        assert_eq!(modules, expected, "services/{name}/src");
    }
}
