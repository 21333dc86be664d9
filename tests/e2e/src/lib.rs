//! A whole mesh in one test process: identity registered in the local Consul under a name of the
//! test's own, and the gateway finding it through Consul like in production. Tests talk to it
//! over HTTP exactly as a web client would. [`Mesh::start_with_sync`] adds the sync control
//! plane, registered under a name of the test's own as well.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use talentmesh_gateway::consul::DiscoveryUpstreams;
use talentmesh_gateway::{Gateway, GatewayConfig};
use talentmesh_testkit::{consul_vars, discovery, eventually, Spawned, TestEnv};

mod answers;
mod gateway;

pub use answers::{bad_fields, read, reason};
pub use gateway::gateway_consul_name;
use gateway::register_gateway;

/// Worker threads of the tests' gateway, as in production on a 2-core machine.
const GATEWAY_WORKERS: usize = 2;

/// The key-encryption key identity seals its signing keys with in these tests (base64 of 32
/// bytes); identity refuses to start without one.
pub const IDENTITY_TEST_KEY_ENCRYPTION_KEY: &str = "dGFsZW50bWVzaCBlMmUgdGVzdHMga2V5IDMyIGJ5dGU=";

/// The bootstrap admin of [`Mesh::start_with_sync_admin`].
pub const ADMIN_EMAIL: &str = "root@example.com";
/// [`ADMIN_EMAIL`]'s password (and the one the tests give their other users).
pub const ADMIN_PASSWORD: &str = "correct horse 42";

/// A fresh identity environment registered in Consul, with [`IDENTITY_TEST_KEY_ENCRYPTION_KEY`],
/// trusting the client address the gateway forwards from loopback (as `dev/mesh.sh` does).
pub fn identity_env() -> TestEnv {
    TestEnv::new("identity")
        .with_consul()
        .set(
            talentmesh_identity::config::KEY_ENCRYPTION_KEY,
            IDENTITY_TEST_KEY_ENCRYPTION_KEY,
        )
        .set(
            "TALENTMESH_IDENTITY_TRUSTED_PROXIES",
            "127.0.0.1/32,::1/128",
        )
        // Every test's users come from one address; the limits have tests of their own.
        .set("TALENTMESH_IDENTITY_RATE_REGISTER_PER_ADDRESS", "100000/h")
        .set("TALENTMESH_IDENTITY_RATE_REGISTER_PER_ACCOUNT", "100000/h")
        .set("TALENTMESH_IDENTITY_RATE_LOGIN_PER_ADDRESS", "100000/h")
        .set("TALENTMESH_IDENTITY_RATE_LOGIN_PER_ACCOUNT", "100000/h")
}

/// `launch` calling each `(service, channel)` over that channel: the services of a test are
/// registered in Consul under names of the test's own.
fn with_upstreams<const N: usize>(
    launch: talentmesh_mesh::server::Launch,
    upstreams: [(&str, talentmesh_mesh::MeshChannel); N],
) -> talentmesh_mesh::server::Launch {
    upstreams
        .into_iter()
        .fold(launch, |launch, (service, channel)| {
            launch.with_upstream(service, channel)
        })
}

pub struct Mesh {
    /// Base URL of the gateway, e.g. `http://127.0.0.1:40123`.
    pub base: String,
    pub identity: Spawned,
    /// The sync control plane, when started with [`Mesh::start_with_sync`].
    pub sync: Option<Spawned>,
    /// The company service, when started with [`Mesh::start_with_company`].
    pub company: Option<Spawned>,
    /// The job service, when started with [`Mesh::start_with_jobs`].
    pub job: Option<Spawned>,
    /// The job service's stores, when it runs.
    pub job_env: Option<TestEnv>,
    /// The resume service, started with the job service.
    pub resume: Option<Spawned>,
    pub resume_env: Option<TestEnv>,
    /// The matching service, when started with [`Mesh::start_with_matching`] or
    /// [`Mesh::start_all`].
    pub matching: Option<Spawned>,
    pub matching_env: Option<TestEnv>,
    pub env: TestEnv,
    /// The company service's stores, when it runs.
    pub company_env: Option<TestEnv>,
    pub http: reqwest::Client,
    /// The gateway's Prometheus metrics.
    pub gateway_metrics: std::sync::Arc<talentmesh_mesh::metrics::Metrics>,
    gateway: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Mesh {
    pub async fn start() -> Mesh {
        Mesh::start_with(|env| env).await
    }

    /// `tweak` adjusts identity's environment (e.g. throttle limits) before it starts.
    pub async fn start_with(tweak: impl FnOnce(TestEnv) -> TestEnv) -> Mesh {
        Mesh::start_inner(tweak, false).await
    }

    /// Like [`Mesh::start_with`], plus the sync control plane in Consul, reached by the gateway
    /// like any service. It knows this test's identity by the API name `identity`.
    pub async fn start_with_sync(tweak: impl FnOnce(TestEnv) -> TestEnv) -> Mesh {
        Mesh::start_inner(tweak, true).await
    }

    /// [`Mesh::start_with_sync`] with a bootstrap platform admin, [`ADMIN_EMAIL`] with
    /// [`ADMIN_PASSWORD`]: what the sync control plane's tests log in as.
    pub async fn start_with_sync_admin() -> Mesh {
        Mesh::start_with_sync(|env| {
            env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN_EMAIL)
                .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", ADMIN_PASSWORD)
        })
        .await
    }

    /// Like [`Mesh::start_with`], plus the company service (stores of its own, registered in
    /// Consul under a name of the test's own, verifying tokens with this test's identity).
    pub async fn start_with_company(tweak: impl FnOnce(TestEnv) -> TestEnv) -> Mesh {
        Mesh::start_parts(tweak, &|env| env, false, true, false, false).await
    }

    /// Like [`Mesh::start_with_company`], plus the job and resume services, which find the
    /// company service (and each other) through Consul like in production.
    pub async fn start_with_jobs(tweak: impl FnOnce(TestEnv) -> TestEnv) -> Mesh {
        Mesh::start_parts(tweak, &|env| env, false, true, true, false).await
    }

    /// Like [`Mesh::start_with_jobs`], plus the matching service reading the company, job and
    /// resume services' events, with the local embeddings model server.
    pub async fn start_with_matching(tweak: impl FnOnce(TestEnv) -> TestEnv) -> Mesh {
        Mesh::start_parts(tweak, &|env| env, false, true, true, true).await
    }

    /// Like [`Mesh::start_with_jobs`]; `services` adjusts the company, job and resume
    /// services' environments too (e.g. to turn their scheduled checks off).
    pub async fn start_with_jobs_and(
        tweak: impl FnOnce(TestEnv) -> TestEnv,
        services: &dyn Fn(TestEnv) -> TestEnv,
    ) -> Mesh {
        Mesh::start_parts(tweak, services, false, true, true, false).await
    }

    /// Every service of the mesh: identity, company, job, resume and the sync control plane,
    /// each registered in Consul under a name of the test's own, behind the gateway.
    pub async fn start_all() -> Mesh {
        Mesh::start_parts(|env| env, &|env| env, true, true, true, true).await
    }

    /// The running services by mesh name, for checks over all of them.
    pub fn services(&self) -> Vec<(&'static str, &Spawned)> {
        let mut all = vec![("identity", &self.identity)];
        for (name, s) in [
            ("company", &self.company),
            ("job", &self.job),
            ("resume", &self.resume),
            ("matching", &self.matching),
            ("sync", &self.sync),
        ] {
            if let Some(s) = s {
                all.push((name, s));
            }
        }
        all
    }

    async fn start_inner(tweak: impl FnOnce(TestEnv) -> TestEnv, with_sync: bool) -> Mesh {
        Mesh::start_parts(tweak, &|env| env, with_sync, false, false, false).await
    }

    async fn start_parts(
        tweak: impl FnOnce(TestEnv) -> TestEnv,
        services: &dyn Fn(TestEnv) -> TestEnv,
        with_sync: bool,
        with_company: bool,
        with_job: bool,
        with_matching: bool,
    ) -> Mesh {
        let env = identity_env();
        let consul_name = format!("identity-e2e-{}", env.id);
        let env = tweak(env.set("TALENTMESH_SERVICE_NAME", consul_name.clone()));
        let config = talentmesh_identity::Config::load(env.env()).expect("identity config");
        let mesh = config.mesh.clone();
        let identity = Spawned::service(&mesh, move |launch| {
            talentmesh_identity::run(config, launch)
        })
        .await;

        // The test's own client of the mesh (with TALENTMESH_MESH_TLS=connect, the Connect
        // service `e2e-<id>`).
        let caller = format!("e2e-{}", env.id);
        let discovery = discovery(&caller, Duration::from_secs(5));
        let channel = discovery.channel(&consul_name);
        assert!(
            eventually(Duration::from_secs(20), || async {
                !channel.endpoints().is_empty()
            })
            .await,
            "identity never passed its consul check"
        );
        // As the gateway binary runs: two worker threads, each with a discovery client of its
        // own; the test's own client serves the other threads.
        let mut shared = Some(discovery.clone());
        let mut upstreams =
            DiscoveryUpstreams::per_worker(GATEWAY_WORKERS, || {
                Ok::<_, std::convert::Infallible>(shared.take().unwrap_or_else(|| {
                    talentmesh_testkit::discovery(&caller, Duration::from_secs(5))
                }))
            })
            .expect("gateway discovery")
            .rename("identity", &consul_name);
        let mut sync = None;
        if with_sync {
            let sync_name = format!("sync-e2e-{}", env.id);
            // No TestEnv: the sync service has no stores to isolate or clean up.
            let sync_env = talentmesh_mesh::Env::from_map(
                [
                    ("TALENTMESH_GRPC_ADDR", "127.0.0.1:0".to_string()),
                    ("TALENTMESH_METRICS_ADDR", "127.0.0.1:0".to_string()),
                    ("TALENTMESH_SERVICE_NAME", sync_name.clone()),
                    (
                        "TALENTMESH_SYNC_SERVICE_NAMES",
                        format!("identity={consul_name}"),
                    ),
                    ("TALENTMESH_SHUTDOWN_GRACE", "2s".to_string()),
                    ("TALENTMESH_LOG_FORMAT", "pretty".to_string()),
                ]
                .map(|(k, v)| (k.to_string(), v))
                .into_iter()
                .chain(consul_vars()),
            );
            let config = talentmesh_sync::Config::load(sync_env).expect("sync config");
            let sync_mesh = config.mesh.clone();
            sync = Some(
                Spawned::service(&sync_mesh, move |launch| {
                    talentmesh_sync::run(config, launch)
                })
                .await,
            );
            let channel = discovery.channel(&sync_name);
            assert!(
                eventually(Duration::from_secs(20), || async {
                    !channel.endpoints().is_empty()
                })
                .await,
                "sync never passed its consul check"
            );
            upstreams = upstreams.rename("sync", &sync_name);
        }
        let mut company = None;
        let mut company_env = None;
        let mut job = None;
        let mut job_env = None;
        let mut resume = None;
        let mut resume_env = None;
        let mut matching = None;
        let mut matching_env = None;
        if with_company {
            let cenv = TestEnv::new("company")
                .with_consul()
                .set("TALENTMESH_COMPANY_RATE_INVITE_PER_INVITER", "100000/h");
            let company_name = format!("company-e2e-{}", cenv.id);
            let cenv = services(cenv.set("TALENTMESH_SERVICE_NAME", company_name.clone()));
            let config = talentmesh_company::Config::load(cenv.env()).expect("company config");
            // Every service verifies tokens with this test's identity, found through Consul.
            let identity = discovery.channel(&consul_name);
            let company_mesh = config.mesh.clone();
            company = Some(
                Spawned::service(&company_mesh, move |launch| {
                    talentmesh_company::run(config, launch.with_upstream("identity", identity))
                })
                .await,
            );
            let channel = discovery.channel(&company_name);
            assert!(
                eventually(Duration::from_secs(20), || async {
                    !channel.endpoints().is_empty()
                })
                .await,
                "company never passed its consul check"
            );
            upstreams = upstreams.rename("company", &company_name);
            if with_job {
                let jenv = TestEnv::new("job").with_consul();
                let job_name = format!("job-e2e-{}", jenv.id);
                let jenv = services(jenv.set("TALENTMESH_SERVICE_NAME", job_name.clone()).set(
                    "TALENTMESH_JOB_COMPANY_GRAPH_NAMESPACE",
                    cenv.neo4j_namespace.clone(),
                ));
                // The resume service: registered where the job service looks for it, reading
                // the job service's events (applications open resumes to companies).
                let resume_name = format!("resume-e2e-{}", jenv.id);
                let renv = services(TestEnv::new("resume"))
                    .with_consul()
                    .set("TALENTMESH_SERVICE_NAME", resume_name.clone())
                    .set(
                        "TALENTMESH_RESUME_JOB_EVENTS_STREAM",
                        format!("{}events", jenv.redis_prefix),
                    )
                    .set(
                        "TALENTMESH_RESUME_SHARED_GRAPH_NAMESPACE",
                        cenv.neo4j_namespace.clone(),
                    );
                let rconfig = talentmesh_resume::Config::load(renv.env()).expect("resume config");
                let rupstreams = [
                    ("identity", discovery.channel(&consul_name)),
                    ("company", discovery.channel(&company_name)),
                ];
                let resume_mesh = rconfig.mesh.clone();
                resume = Some(
                    Spawned::service(&resume_mesh, move |launch| {
                        talentmesh_resume::run(rconfig, with_upstreams(launch, rupstreams))
                    })
                    .await,
                );
                let channel = discovery.channel(&resume_name);
                assert!(
                    eventually(Duration::from_secs(20), || async {
                        !channel.endpoints().is_empty()
                    })
                    .await,
                    "resume never passed its consul check"
                );
                upstreams = upstreams.rename("resume", &resume_name);
                resume_env = Some(renv);
                let config = talentmesh_job::Config::load(jenv.env()).expect("job config");
                // The job service reaches identity, company and resume through Consul.
                let jupstreams = [
                    ("identity", discovery.channel(&consul_name)),
                    ("company", discovery.channel(&company_name)),
                    ("resume", discovery.channel(&resume_name)),
                ];
                let job_mesh = config.mesh.clone();
                job = Some(
                    Spawned::service(&job_mesh, move |launch| {
                        talentmesh_job::run(config, with_upstreams(launch, jupstreams))
                    })
                    .await,
                );
                let channel = discovery.channel(&job_name);
                assert!(
                    eventually(Duration::from_secs(20), || async {
                        !channel.endpoints().is_empty()
                    })
                    .await,
                    "job never passed its consul check"
                );
                upstreams = upstreams.rename("job", &job_name);
                if with_matching {
                    let menv = services(TestEnv::new("matching"))
                        .with_consul()
                        .set(
                            "TALENTMESH_SERVICE_NAME",
                            format!("matching-e2e-{}", jenv.id),
                        )
                        .set(
                            "TALENTMESH_MATCHING_JOB_EVENTS_STREAM",
                            format!("{}events", jenv.redis_prefix),
                        )
                        .set(
                            "TALENTMESH_MATCHING_COMPANY_EVENTS_STREAM",
                            format!("{}events", cenv.redis_prefix),
                        )
                        .set(
                            "TALENTMESH_MATCHING_SHARED_GRAPH_NAMESPACE",
                            cenv.neo4j_namespace.clone(),
                        );
                    let menv = match &resume_env {
                        Some(renv) => menv.set(
                            "TALENTMESH_MATCHING_RESUME_EVENTS_STREAM",
                            format!("{}events", renv.redis_prefix),
                        ),
                        None => menv,
                    };
                    let matching_name = format!("matching-e2e-{}", jenv.id);
                    let mconfig =
                        talentmesh_matching::Config::load(menv.env()).expect("matching config");
                    let mupstreams = [
                        ("identity", discovery.channel(&consul_name)),
                        ("company", discovery.channel(&company_name)),
                    ];
                    let matching_mesh = mconfig.mesh.clone();
                    matching = Some(
                        Spawned::service(&matching_mesh, move |launch| {
                            talentmesh_matching::run(mconfig, with_upstreams(launch, mupstreams))
                        })
                        .await,
                    );
                    let channel = discovery.channel(&matching_name);
                    assert!(
                        eventually(Duration::from_secs(20), || async {
                            !channel.endpoints().is_empty()
                        })
                        .await,
                        "matching never passed its consul check"
                    );
                    upstreams = upstreams.rename("matching", &matching_name);
                    matching_env = Some(menv);
                }
                job_env = Some(jenv);
            }
            company_env = Some(cenv);
        }
        // Small unless a test sets TALENTMESH_GATEWAY_BODY_LIMIT in its tweak (the gateway's
        // own default admits the largest documents: tests of large documents use it).
        let config = GatewayConfig {
            body_limit: env
                .env()
                .optional("TALENTMESH_GATEWAY_BODY_LIMIT")
                .and_then(|v| v.parse().ok())
                .unwrap_or(64 * 1024),
            ..GatewayConfig::default()
        };
        let gateway = Gateway::new(config, upstreams).expect("gateway");
        let gateway_metrics = gateway.metrics();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let http_port = listener.local_addr().unwrap().port();
        let presence = register_gateway(&env.id, http_port, gateway_metrics.clone()).await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(talentmesh_gateway::serve_workers(
            listener,
            gateway,
            GATEWAY_WORKERS,
            async move {
                let _ = rx.await;
                if let Some(presence) = presence {
                    presence.leave().await;
                }
            },
        ));
        Mesh {
            base,
            identity,
            sync,
            company,
            company_env,
            job,
            job_env,
            resume,
            resume_env,
            matching,
            matching_env,
            env,
            http: reqwest::Client::new(),
            gateway_metrics,
            gateway: Some(tx),
        }
    }

    /// Stops the services, dependants first, and waits for each to exit; their stores are
    /// cleaned when the mesh drops.
    pub async fn stop(mut self) {
        if let Some(tx) = self.gateway.take() {
            let _ = tx.send(());
        }
        if let Some(matching) = self.matching.take() {
            matching.stop().await;
        }
        if let Some(job) = self.job.take() {
            job.stop().await;
        }
        if let Some(resume) = self.resume.take() {
            resume.stop().await;
        }
        if let Some(company) = self.company.take() {
            company.stop().await;
        }
        if let Some(sync) = self.sync.take() {
            sync.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs JSON and returns the status and the parsed body (Null when not JSON).
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(resp).await
    }

    /// POST `body` as JSON with `token` as bearer: `(status, JSON body)`.
    pub async fn post_as(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Any method, with a bearer token and a JSON body when given.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    /// Registers `email` with `role` (e.g. `ROLE_EMPLOYER`) unless `role` is None (an account
    /// that exists already) and logs in.
    pub async fn login(&self, email: &str, password: &str, role: Option<&str>) -> Session {
        if let Some(role) = role {
            let (status, body) = self
                .post(
                    "/v1/users:register",
                    serde_json::json!({"email": email, "password": password, "role": role}),
                )
                .await;
            assert_eq!(status, 200, "register {email}: {body}");
        }
        let (status, body) = self
            .post(
                "/v1/sessions:login",
                serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "log in {email}: {body}");
        Session {
            token: body["tokens"]["accessToken"]
                .as_str()
                .expect("an access token")
                .to_string(),
            user: body["user"]["name"]
                .as_str()
                .expect("the user's name")
                .to_string(),
        }
    }

    pub async fn users_in_mysql(&self) -> i64 {
        let pool = self.env.mysql().await;
        talentmesh_testkit::scalar_i64(&pool, "SELECT COUNT(*) FROM users").await
    }
}

/// A logged-in account: its access token and its resource name (`users/…`).
pub struct Session {
    pub token: String,
    pub user: String,
}

impl Drop for Mesh {
    fn drop(&mut self) {
        if let Some(tx) = self.gateway.take() {
            let _ = tx.send(());
        }
    }
}
