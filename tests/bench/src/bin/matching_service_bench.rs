//! The matching service benchmark (issue 14, section 5): the real service in process on the
//! local servers (MariaDB, PostgreSQL, Redis, Neo4j), the built-in embedder, its own test
//! database and schema (dropped at the end). Printed as markdown:
//!
//! - **ingest**: PIPELINE job documents written to MySQL through `Documents::upsert` (the
//!   document, its outbox row), relayed to the Redis stream, embedded by the embeddings
//!   projection into PostgreSQL (which the index reads every 100 ms); documents/s from the
//!   first write to the last embedding row stored.
//! - **bulk seeding** of the other JOBS − PIPELINE jobs, faster, with the service stopped:
//!   MySQL `documents` rows by multi-row `INSERT` (no outbox rows, so no events) and the
//!   PostgreSQL `embeddings` rows through the projection's own `apply` (builtin vectors).
//! - **start-up rebuild**: the service started again on the same stores; time to SERVING (the
//!   index has every vector, exact search) and until the HNSW graph is whole (the index's
//!   "graph built" event, caught by a tracing layer of this process).
//! - **RecommendJobs** over gRPC, top-20, one caller in a closed loop, p50/p95/p99/max: this
//!   includes the index search, the MySQL load of the 100 nearest jobs and their scoring — the
//!   RPC number, not the index number (that is `matching-bench`); then with a city filter that
//!   a third of the jobs pass.
//!
//! Usage: `matching-service-bench [JOBS] [PIPELINE] [RESUMES] [QUERIES]`, defaults 100000,
//! 5000, 200, 1000.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{MySqlPool, PgPool};
use talentmesh_bench::Latency;
use talentmesh_embed::{AnyEmbedder, BuiltinEmbedder};
use talentmesh_matching::events;
use talentmesh_matching::store::{Documents, Embeddings, Kind};
use talentmesh_proto::job::v1 as jpb;
use talentmesh_proto::matching::v1 as pb;
use talentmesh_proto::matching::v1::matching_service_client::MatchingServiceClient;
use talentmesh_proto::resume::v1 as rpb;
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::projection::{Change, Projection};
use talentmesh_testkit::{health_status, mysql_url, postgres_url, TestEnv, TestKeys, SERVING};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

const K: i32 = 20;
/// Cities as GB/T 2260 codes; the first (深圳) holds a third of the jobs, the rest share the
/// other two thirds, so the city-filtered requests pass 1/3 like `matching-bench`'s filter.
const CITY_CODES: [&str; 9] = [
    "440300", "110000", "310000", "330100", "440100", "510100", "420100", "320100", "610100",
];
const TITLES: [&str; 16] = [
    "高级Rust后端工程师",
    "Senior Rust Engineer",
    "Java开发工程师",
    "Frontend Engineer (React)",
    "数据分析师",
    "Go后端开发工程师",
    "Machine Learning Engineer",
    "测试开发工程师",
    "DevOps Engineer, Kubernetes",
    "嵌入式软件工程师",
    "Data Engineer",
    "iOS开发工程师",
    "Backend Engineer (Python)",
    "算法工程师",
    "前端开发工程师",
    "Site Reliability Engineer",
];
const SKILLS: [&str; 24] = [
    "Rust",
    "Java",
    "Go",
    "Python",
    "PostgreSQL",
    "Kubernetes",
    "React",
    "TypeScript",
    "MySQL",
    "Redis",
    "Spark",
    "Swift",
    "Kafka",
    "Docker",
    "gRPC",
    "Linux",
    "机器学习",
    "PyTorch",
    "Flink",
    "Vue",
    "C++",
    "Elasticsearch",
    "微服务",
    "分布式系统",
];
const PHRASES: [&str; 6] = [
    "负责高并发服务的设计与开发，参与架构评审。",
    "Build and run services used by millions of people; own them end to end.",
    "与产品、设计紧密合作，推动需求落地。",
    "Work on data pipelines and the platform around them.",
    "参与核心系统重构，提升稳定性与性能。",
    "Ship features weekly with a small, senior team.",
];

/// A UUID-shaped id made from `n` (names in the mesh carry UUIDs; matching checks them).
fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

fn skills(rng: &mut StdRng, n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(n);
    while out.len() < n {
        let s = pick(rng, &SKILLS).to_owned();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn job(i: u64, rng: &mut StdRng) -> jpb::Job {
    let city = if rng.gen_bool(1.0 / 3.0) {
        0
    } else {
        rng.gen_range(1..CITY_CODES.len())
    };
    let salary_min = rng.gen_range(8..40) * 1000;
    let n = rng.gen_range(2..6);
    jpb::Job {
        name: format!(
            "companies/{}/jobs/{}",
            id(rng.gen_range(0..500)),
            id(1_000_000 + i)
        ),
        title: pick(rng, &TITLES).to_owned(),
        description: format!("{} {}", pick(rng, &PHRASES), pick(rng, &PHRASES)),
        required_skills: skills(rng, n),
        preferred_skills: skills(rng, 1),
        salary_min,
        salary_max: salary_min + rng.gen_range(2..20) * 1000,
        city_code: CITY_CODES[city].to_owned(),
        experience_years: rng.gen_range(0..8),
        recruit_type: jpb::RecruitType::Social as i32,
        state: jpb::JobState::Published as i32,
        version: 1,
        ..Default::default()
    }
}

fn resume(i: usize, rng: &mut StdRng) -> rpb::Resume {
    let n = rng.gen_range(3..7);
    let s = skills(rng, n);
    rpb::Resume {
        name: format!("resumes/{}", id(i as u64)),
        owner: format!("users/cand{i}"),
        title: pick(rng, &TITLES).to_owned(),
        summary: format!(
            "{}年经验，熟悉{}。{}",
            rng.gen_range(1..12),
            s.join("、"),
            pick(rng, &PHRASES)
        ),
        skills: s
            .into_iter()
            .map(|name| rpb::Skill {
                name,
                level: 3,
                years: 2.0,
            })
            .collect(),
        version: 1,
        ..Default::default()
    }
}

/// Times of the vector index's "graph built" events and the graph's size then.
#[derive(Clone, Default)]
struct GraphBuilt(Arc<Mutex<Vec<(Instant, u64)>>>);

impl GraphBuilt {
    /// The first build since `after`, with the nodes it put in the graph.
    fn since(&self, after: Instant) -> Option<(Instant, u64)> {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().find(|(at, _)| *at >= after).copied()
    }
}

#[derive(Default)]
struct BuiltFields {
    message: String,
    nodes: u64,
    caught_up: u64,
}

impl Visit for BuiltFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "nodes" => self.nodes = value,
            "caught_up" => self.caught_up = value,
            _ => {}
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for GraphBuilt {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "talentmesh_vector::index" {
            return;
        }
        let mut fields = BuiltFields::default();
        event.record(&mut fields);
        if fields.message == "vector index: graph built" {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((Instant::now(), fields.nodes + fields.caught_up));
        }
    }
}

/// One in-process matching service, started as `talentmesh_testkit::Spawned` does it but
/// waiting up to ten minutes for SERVING: at 100,000 documents the start-up load of the index
/// takes longer than the 30 s a test allows.
struct Service {
    url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Service {
    async fn start(env: &TestEnv, keys: &Arc<TestKeys>) -> anyhow::Result<Service> {
        let config = talentmesh_matching::Config::load(env.env())?;
        let listeners = talentmesh_mesh::server::Listeners::bind(&config.mesh).await?;
        let addr = listeners.grpc.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let launch = talentmesh_mesh::server::Launch::new(listeners, async move {
            let _ = rx.await;
        })
        .with_verifier(keys.verifier())
        // RecommendJobs never asks the company service about permissions.
        .with_upstream(
            "company",
            talentmesh_mesh::MeshChannel::fixed(
                "company",
                &["http://127.0.0.1:9".to_owned()],
                Duration::from_secs(1),
            ),
        );
        let task = tokio::spawn(talentmesh_matching::run(config, launch));
        until(Duration::from_secs(600), || async move {
            Ok(health_status(addr, "").await == Some(SERVING))
        })
        .await?;
        Ok(Service {
            url: format!("http://{addr}"),
            shutdown: Some(tx),
            task,
        })
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(60), self.task).await???;
        Ok(())
    }
}

async fn count_embedded_jobs(pg: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM embeddings WHERE NOT deleted AND id LIKE 'companies/%'",
    )
    .fetch_one(pg)
    .await?)
}

/// Polls `probe` every 50 ms until it is true or `limit` passes; the time it became true.
async fn until<F, Fut>(limit: Duration, mut probe: F) -> anyhow::Result<Instant>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if probe().await? {
            return Ok(Instant::now());
        }
        anyhow::ensure!(Instant::now() < deadline, "not reached within {limit:?}");
        // The pause between probes of a bounded poll (the deadline above ends it).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn latency(ms: Vec<f64>) -> Latency {
    Latency::of(ms)
}

/// `queries` RecommendJobs calls, one at a time, resumes in turn; latencies in ms and the
/// smallest answer seen.
async fn recommend_loop(
    url: &str,
    tokens: &[String],
    queries: usize,
    city: &str,
) -> anyhow::Result<(Latency, usize)> {
    let mut client = MatchingServiceClient::connect(url.to_owned()).await?;
    let mut ms = Vec::with_capacity(queries);
    let mut fewest = usize::MAX;
    for q in 0..queries {
        let r = q % tokens.len();
        let mut request = tonic::Request::new(pb::RecommendJobsRequest {
            resume: format!("resumes/{}", id(r as u64)),
            page_size: K,
            city_code: city.to_owned(),
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {}", tokens[r]).parse()?);
        let t = Instant::now();
        let answer = client.recommend_jobs(request).await?.into_inner();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        fewest = fewest.min(answer.matches.len());
    }
    Ok((latency(ms), fewest))
}

/// Stores `jobs` as the bulk seeding does: MySQL rows without outbox rows, PostgreSQL rows
/// through the embeddings projection's `apply`.
async fn seed_bulk(
    mysql: &MySqlPool,
    embeddings: &Embeddings,
    jobs: &[jpb::Job],
) -> anyhow::Result<()> {
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO documents (id, kind, version, deleted, document, source, company, owner, \
         updated_at) ",
    );
    let mut changes = Vec::with_capacity(jobs.len());
    let now = chrono::Utc::now().naive_utc();
    let rows: Vec<(pb::MatchDocument, Vec<u8>)> = jobs
        .iter()
        .map(|j| (events::job_document(j), j.encode_to_vec()))
        .collect();
    q.push_values(&rows, |mut b, (doc, source)| {
        b.push_bind(&doc.name)
            .push_bind(Kind::Job.as_str())
            .push_bind(doc.version)
            .push_bind(false)
            .push_bind(doc.encode_to_vec())
            .push_bind(source)
            .push_bind(&doc.company)
            .push_bind("")
            .push_bind(now);
    });
    q.build().execute(mysql).await?;
    for (doc, _) in &rows {
        changes.push(Change {
            id: doc.name.clone(),
            version: doc.version,
            deleted: false,
            state: doc.encode_to_vec(),
        });
    }
    embeddings.apply(&changes).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let jobs: u64 = args.get(1).map_or(Ok(100_000), |s| s.parse())?;
    let pipeline: u64 = args.get(2).map_or(Ok(5_000), |s| s.parse())?;
    let resumes: usize = args.get(3).map_or(Ok(200), |s| s.parse())?;
    let queries: usize = args.get(4).map_or(Ok(1_000), |s| s.parse())?;
    let pipeline = pipeline.min(jobs);

    // Before TestEnv installs its own (quiet) subscriber, so this one is the global one.
    let built = GraphBuilt::default();
    tracing_subscriber::registry().with(built.clone()).init();

    let keys = TestKeys::new();
    let env = TestEnv::new("matchbench")
        .set("TALENTMESH_MATCHING_CHECK_EVERY", "0s")
        .set("TALENTMESH_MATCHING_EMBEDDINGS_URL", "builtin");
    let ns = env.neo4j_namespace.clone();
    let env = env.set("TALENTMESH_MATCHING_SHARED_GRAPH_NAMESPACE", ns);
    let service = Service::start(&env, &keys).await?;

    let mysql = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(8)
        .connect(&format!("{}/{}", mysql_url(), env.mysql_database))
        .await?;
    let schema = env.postgres_schema.clone();
    let pg = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .after_connect(move |conn, _| {
            let schema = schema.clone();
            Box::pin(async move {
                sqlx::query(&format!("SET search_path TO \"{schema}\""))
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .connect(&postgres_url())
        .await?;
    let docs = Documents::new(mysql.clone(), Outbox::new("matching"));
    let mut rng = StdRng::seed_from_u64(14);
    let all_jobs: Vec<jpb::Job> = (0..jobs).map(|i| job(i, &mut rng)).collect();
    let all_resumes: Vec<rpb::Resume> = (0..resumes).map(|i| resume(i, &mut rng)).collect();
    // Test tokens live five minutes: made again right before the calls.
    let tokens_now = || -> Vec<String> {
        (0..resumes)
            .map(|i| keys.token(&format!("cand{i}"), &["candidate"]))
            .collect()
    };

    let line = |s: String| println!("{s}");
    line("## Matching service benchmark".to_owned());
    line(String::new());
    line(format!(
        "{jobs} published jobs ({pipeline} through the pipeline, the rest bulk-seeded), {resumes} resumes, \
         built-in embedder (512 dimensions), one in-process matching service on the local servers; \
         {} cores.",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    ));
    line(String::new());

    // 1. Ingest through the real pipeline: resumes first (the queries need them), then jobs
    //    from 8 writers.
    for r in &all_resumes {
        docs.upsert(
            Kind::Resume,
            &events::resume_document(r, false),
            &r.encode_to_vec(),
        )
        .await?;
    }
    let started = Instant::now();
    let writers = 8usize;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let docs = docs.clone();
        let mine: Vec<jpb::Job> = all_jobs[..pipeline as usize]
            .iter()
            .skip(w)
            .step_by(writers)
            .cloned()
            .collect();
        tasks.push(tokio::spawn(async move {
            for j in &mine {
                docs.upsert(Kind::Job, &events::job_document(j), &j.encode_to_vec())
                    .await?;
            }
            Ok::<_, talentmesh_matching::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let written = started.elapsed();
    let stored = until(Duration::from_secs(900), || {
        let pg = pg.clone();
        async move { Ok(count_embedded_jobs(&pg).await? >= pipeline as i64) }
    })
    .await?;
    let to_stored = stored - started;
    line("### Ingest through the pipeline (MySQL → outbox → Redis stream → embedding → PostgreSQL → index)".to_owned());
    line(String::new());
    line(format!(
        "- {pipeline} jobs written by 8 writers in {:.1} s ({:.0} documents/s into MySQL)",
        written.as_secs_f64(),
        pipeline as f64 / written.as_secs_f64()
    ));
    line(format!(
        "- all embedded into PostgreSQL after {:.1} s: **{:.0} documents/s** end to end (each instance's index \
         reads the new rows every 100 ms, `TALENTMESH_MATCHING_INDEX_REFRESH`)",
        to_stored.as_secs_f64(),
        pipeline as f64 / to_stored.as_secs_f64(),
    ));
    line(String::new());
    service.stop().await?;

    // 2. Bulk seeding of the rest, the service stopped.
    let embeddings = Embeddings::new(pg.clone(), AnyEmbedder::Builtin(BuiltinEmbedder::new()));
    let t = Instant::now();
    let rest: Vec<jpb::Job> = all_jobs[pipeline as usize..].to_vec();
    let chunks: Vec<Vec<jpb::Job>> = rest.chunks(500).map(<[jpb::Job]>::to_vec).collect();
    let chunks = Arc::new(Mutex::new(chunks));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (chunks, mysql, embeddings) = (chunks.clone(), mysql.clone(), embeddings.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = chunks.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let Some(chunk) = next else {
                    return Ok::<_, anyhow::Error>(());
                };
                seed_bulk(&mysql, &embeddings, &chunk).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seeded = t.elapsed();
    let total = count_embedded_jobs(&pg).await?;
    anyhow::ensure!(total == jobs as i64, "{total} jobs embedded, not {jobs}");
    line("### Bulk seeding (service stopped)".to_owned());
    line(String::new());
    line(format!(
        "- {} jobs: MySQL `documents` rows by multi-row INSERT (500 a statement, no outbox rows) and \
         PostgreSQL `embeddings` rows through the projection's own `apply` (builtin vectors), 4 writers: \
         {:.1} s ({:.0} documents/s; not the pipeline's rate)",
        rest.len(),
        seeded.as_secs_f64(),
        rest.len() as f64 / seeded.as_secs_f64()
    ));
    line(String::new());

    // 3. Start-up rebuild on the same stores.
    let t = Instant::now();
    let service = Service::start(&env, &keys).await?;
    let serving = t.elapsed();
    // The start-up load upserts every stored vector before SERVING; the index builds its graph
    // in the background from the keys it has when it crosses its threshold and catches up
    // the keys written meanwhile, then logs "graph built". Keys read after that went into the
    // graph one by one before SERVING, so the graph is whole at the later of the two.
    let serving_at = Instant::now();
    until(Duration::from_secs(1200), || {
        let found = built.since(t).is_some();
        async move { Ok(found) }
    })
    .await?;
    let (built_at, built_nodes) = built.since(t).unwrap_or((serving_at, 0));
    let whole_at = built_at.max(serving_at);
    line("### Start-up rebuild".to_owned());
    line(String::new());
    line(format!(
        "- SERVING after **{:.1} s** (every vector read from PostgreSQL into the index; searches exact until the graph is in)",
        serving.as_secs_f64()
    ));
    line(format!(
        "- HNSW graph whole (all {jobs} job vectors in it) after **{:.1} s** (the background build took \
         {built_nodes} nodes, the rest were inserted one by one during the load)",
        (whole_at - t).as_secs_f64()
    ));
    line(String::new());

    // 4. RecommendJobs over gRPC.
    let url = service.url.clone();
    line(format!(
        "### RecommendJobs over gRPC (top-{K}, one caller, closed loop, {queries} calls; ms)"
    ));
    line(String::new());
    line("Includes the index search, the MySQL load of the nearest jobs and their scoring: the RPC number, not the index number.".to_owned());
    line(String::new());
    line("| request | p50 | p95 | p99 | max | fewest matches |".to_owned());
    line("|---|---|---|---|---|---|".to_owned());
    let tokens = tokens_now();
    // Warm-up (connections, caches), not counted.
    recommend_loop(&url, &tokens, 50.min(queries), "").await?;
    for (name, city) in [
        ("unfiltered", ""),
        ("city filter (440300, 1/3 of jobs)", CITY_CODES[0]),
    ] {
        let (l, fewest) = recommend_loop(&url, &tokens_now(), queries, city).await?;
        line(format!(
            "| {name} | {:.2} | {:.2} | **{:.2}** | {:.2} | {fewest} |",
            l.p50, l.p95, l.p99, l.max
        ));
    }
    line(String::new());
    service.stop().await?;
    Ok(())
}
