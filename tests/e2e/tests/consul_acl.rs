//! Service identity in Consul (issue 15, finding 1): Consul runs with ACLs, default deny, and
//! each service's token may register only that service's name. A rogue instance registered
//! without a token, or with another service's token, is refused, so neither the gateway nor the
//! sync control plane (which hands a platform admin's bearer token to every `sync-admin`
//! instance it finds) ever sends it anything.
//!
//! These tests need the agent `dev/servers.sh` starts (ACLs on) and the management token
//! ([`talentmesh_testkit::consul_token`]) to make a token of their own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use talentmesh_e2e::Mesh;
use talentmesh_mesh::consul::{ConsulClient, Registration};
use talentmesh_mesh::Secret;
use talentmesh_sync::fleet::SYNC_ADMIN_TAG;
use talentmesh_testkit::{consul, consul_addr, consul_token};

const ADMIN_EMAIL: &str = "root@example.com";
const PASSWORD: &str = "correct horse 42";

/// A token with the service identity of `service`, made with the management token like
/// `dev/servers.sh` makes each service's; deleted when dropped.
struct ServiceToken {
    accessor: String,
    secret: Secret,
}

impl ServiceToken {
    async fn create(service: &str) -> ServiceToken {
        ServiceToken::try_create(service)
            .await
            .expect("creating a token needs an agent with ACLs and its management token")
    }

    /// None when the agent refuses (no ACLs, or no management token).
    async fn try_create(service: &str) -> Option<ServiceToken> {
        let resp = reqwest::Client::new()
            .put(format!("{}/v1/acl/token", consul_addr()))
            .header("X-Consul-Token", consul_token().expose())
            .json(&serde_json::json!({
                "Description": format!("e2e token of {service}"),
                "ServiceIdentities": [{"ServiceName": service}],
            }))
            .send()
            .await
            .unwrap();
        if !resp.status().is_success() {
            return None;
        }
        let body: serde_json::Value = resp.json().await.ok()?;
        Some(ServiceToken {
            accessor: body["AccessorID"].as_str()?.to_string(),
            secret: Secret::new(body["SecretID"].as_str()?),
        })
    }
}

impl Drop for ServiceToken {
    fn drop(&mut self) {
        let url = format!("{}/v1/acl/token/{}", consul_addr(), self.accessor);
        // Best effort, on a thread of its own: drop may run outside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let _ = reqwest::Client::new()
                    .delete(url)
                    .header("X-Consul-Token", consul_token().expose())
                    .send()
                    .await;
            });
        })
        .join();
    }
}

fn registration(name: &str, id: &str, port: u16) -> Registration {
    Registration {
        name: name.to_string(),
        id: id.to_string(),
        address: "127.0.0.1".to_string(),
        port,
        tags: vec![SYNC_ADMIN_TAG.to_string()],
        meta: HashMap::new(),
        check_interval: Duration::from_secs(1),
        deregister_critical_after: Duration::from_secs(60),
        connect_native: false,
    }
}

fn unique() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

#[tokio::test]
async fn a_registration_without_a_token_is_refused() {
    let name = format!("identity-e2e-{}", unique());
    let anonymous = ConsulClient::new(&consul_addr()).unwrap();
    let result = anonymous
        .register(&registration(&name, &format!("{name}-rogue"), 1))
        .await;
    let _ = consul().deregister(&format!("{name}-rogue")).await;
    let err = result.expect_err("an anonymous registration went through");
    assert!(err.is_permission_denied(), "{err}");
}

#[tokio::test]
async fn a_registration_with_another_services_token_is_refused() {
    let id = unique();
    let own = format!("company-e2e-{id}");
    let other = format!("identity-e2e-{id}");
    let token = ServiceToken::create(&own).await;
    let client = ConsulClient::new(&consul_addr())
        .unwrap()
        .with_token(token.secret.clone());

    // The token is valid: it registers (and deregisters) its own service.
    client
        .register(&registration(&own, &format!("{own}-1"), 1))
        .await
        .expect("a service registers its own name with its token");
    client.deregister(&format!("{own}-1")).await.unwrap();

    let result = client
        .register(&registration(&other, &format!("{other}-rogue"), 1))
        .await;
    let _ = consul().deregister(&format!("{other}-rogue")).await;
    let err = result.expect_err("a token registered another service's name");
    assert!(err.is_permission_denied(), "{err}");
}

/// A TCP listener that counts the connections made to it: the rogue instance. Whatever connects
/// (the gateway, the control plane, the agent's health check) is counted.
async fn rogue_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, accepted)
}

/// Registers an instance of `service` as an attacker would with curl: a TTL check that is
/// passing from the start (no health check to fail), the `sync-admin` tag, and `token` if any.
/// Returns the HTTP status Consul answered.
async fn register_rogue(service: &str, id: &str, port: u16, token: Option<&Secret>) -> u16 {
    let mut request = reqwest::Client::new()
        .put(format!("{}/v1/agent/service/register", consul_addr()))
        .json(&serde_json::json!({
            "Name": service,
            "ID": id,
            "Address": "127.0.0.1",
            "Port": port,
            "Tags": [SYNC_ADMIN_TAG],
            "Check": {"TTL": "10m", "Status": "passing"},
        }));
    if let Some(token) = token {
        request = request.header("X-Consul-Token", token.expose());
    }
    request.send().await.unwrap().status().as_u16()
}

/// Deregisters the rogue instances when the test ends, passed or failed.
struct Deregister(Vec<String>);

impl Drop for Deregister {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut self.0);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                for id in ids {
                    let _ = consul().deregister(&id).await;
                }
            });
        })
        .join();
    }
}

#[tokio::test]
async fn a_rogue_instance_without_a_valid_token_receives_nothing() {
    let mesh = Mesh::start_with_sync(|env| {
        env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN_EMAIL)
            .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", PASSWORD)
    })
    .await;
    let identity_name = format!("identity-e2e-{}", mesh.env.id);
    let (port, accepted) = rogue_listener().await;
    let anonymous_id = format!("{identity_name}-rogue-anonymous");
    let borrowed_id = format!("{identity_name}-rogue-borrowed");
    let _cleanup = Deregister(vec![anonymous_id.clone(), borrowed_id.clone()]);

    // Without a token, and with a valid token of another service (when the agent can make one:
    // an agent without ACLs cannot, and takes the anonymous registration anyway).
    let anonymous = register_rogue(&identity_name, &anonymous_id, port, None).await;
    let other = ServiceToken::try_create(&format!("company-e2e-{}", mesh.env.id)).await;
    let borrowed = match &other {
        Some(token) => {
            Some(register_rogue(&identity_name, &borrowed_id, port, Some(&token.secret)).await)
        }
        None => None,
    };

    // Quiet period: a registered rogue would be listed (and so reach the gateway's and the
    // control plane's watches) within this time; a refused one never is.
    let rogue_listed = talentmesh_testkit::eventually(Duration::from_secs(3), || async {
        consul()
            .passing_instances(&identity_name, 0, Duration::from_secs(1))
            .await
            .map(|r| r.value.len() > 1)
            .unwrap_or(false)
    })
    .await;

    // Traffic a rogue instance would get a share of: the gateway's calls to identity and the
    // admin's sync overview, which hands the admin's token to every sync-admin instance.
    for _ in 0..6 {
        let _ = mesh.get("/.well-known/jwks.json", None).await;
    }
    let admin = mesh.login(ADMIN_EMAIL, PASSWORD, None).await.token;
    let (status, body) = mesh.get("/v1/sync/overview", Some(&admin)).await;
    let rogue_calls = accepted.load(Ordering::SeqCst);

    assert_eq!(rogue_calls, 0, "the rogue instance was called");
    assert!(!rogue_listed, "consul lists a rogue instance of identity");
    assert_eq!(
        anonymous, 403,
        "a registration without a token went through"
    );
    assert_eq!(
        borrowed,
        Some(403),
        "another service's token registered identity (None: the agent has no ACLs)"
    );
    assert_eq!(status, 200, "{body}");
    let identity = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "services/identity")
        .unwrap_or_else(|| panic!("identity is not in the overview: {body}"));
    assert_eq!(
        identity["instances"].as_array().map(Vec::len),
        Some(1),
        "{identity}"
    );
    mesh.stop().await;
}
