//! The job and resume benchmark, through the gateway:
//!
//! 1. a cached GET of a published job, compared round by round with the spine benchmark's bare
//!    gateway hop (identity's `GET /v1/publicKeys`);
//! 2. job search over an index of JOBS published jobs (Chinese and English queries, filters);
//! 3. resume saves, each a new version analysed on the way in.
//!
//! The whole mesh (identity, company, job, resume and the gateway) runs in this process on the
//! local servers, in namespaces of its own, the way the end-to-end tests run it; the load comes
//! from the same process. Both paths of (1) share that set-up, so their ratio is fair.
//!
//!   job-bench [SECONDS] [CONCURRENCY] [JOBS] [ROUNDS]      (defaults 10, 32, 100000, 5)

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::json;
use talentmesh_bench::{load_http, HttpCall, Summary};
use talentmesh_e2e::Mesh;
use talentmesh_job::store::jobs::{JobRow, COLUMNS};
use talentmesh_storage::projection::{Change, Projection};
use talentmesh_storage::{Migrations, Stores};

const PASSWORD: &str = "bench horse 42";
const ADMIN: &str = "root@bench.example.com";

/// Titles the seeded jobs draw from: Chinese, English and mixed, as real postings are.
const TITLES: [&str; 16] = [
    "高级Rust后端工程师",
    "Senior Rust Engineer",
    "Java开发工程师",
    "Frontend Engineer (React)",
    "数据分析师",
    "产品经理",
    "Go后端开发工程师",
    "Machine Learning Engineer",
    "测试开发工程师",
    "DevOps Engineer, Kubernetes",
    "嵌入式软件工程师",
    "Data Engineer",
    "iOS开发工程师",
    "Backend Engineer (Python)",
    "运维工程师",
    "Product Designer",
];
const SKILLS: [&str; 12] = [
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
];
const CITIES: [&str; 6] = ["110000", "310000", "440300", "330100", "440100", "510100"];
const DESCRIPTIONS: [&str; 4] = [
    "负责高并发服务的设计与开发，参与架构评审。",
    "Build and run services used by millions of people; own them end to end.",
    "与产品、设计紧密合作，推动需求落地。",
    "Work on data pipelines and the platform around them.",
];

fn line(what: &str, s: &Summary) -> String {
    format!(
        "{what}: **{:.0} req/s**, p50 {:.2} ms, p99 **{:.2} ms**, p99.9 {:.2} ms, {} errors",
        s.rps,
        f64::from(s.p50_us) / 1e3,
        f64::from(s.p99_us) / 1e3,
        f64::from(s.p999_us) / 1e3,
        s.errors
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `n` published jobs of `company_id`, straight into the job service's MySQL table and its
/// search projection (the benchmark reads the index; writing 100k jobs through the API would
/// only measure the write path). The same jobs every run.
async fn seed_jobs(mesh: &Mesh, company_id: &str, n: usize) -> anyhow::Result<()> {
    let env = mesh
        .job_env
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no job service"))?;
    let config = talentmesh_job::Config::load(env.env())?;
    let stores = Stores::connect(&config.storage, Migrations::default()).await?;
    let search = talentmesh_job::store::search::search(stores.postgres()?.clone())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let start = chrono::Utc::now() - chrono::Duration::days(90);
    let mut rows = Vec::with_capacity(1000);
    for i in 0..n {
        let skill = |rng: &mut rand::rngs::StdRng| SKILLS[rng.gen_range(0..SKILLS.len())];
        let salary_min = rng.gen_range(8..40) * 1000;
        let at = start + chrono::Duration::seconds(rng.gen_range(0..90 * 86_400));
        rows.push(JobRow {
            id: uuid::Uuid::now_v7().to_string(),
            company_id: company_id.to_string(),
            version: 1,
            deleted: false,
            state: 2,
            title: format!("{} {}", TITLES[i % TITLES.len()], i / TITLES.len() % 50),
            description: DESCRIPTIONS[rng.gen_range(0..DESCRIPTIONS.len())].to_string(),
            required_skills: talentmesh_job::domain::job::skills_json(&[
                skill(&mut rng).to_string(),
                skill(&mut rng).to_string(),
            ]),
            preferred_skills: talentmesh_job::domain::job::skills_json(&[
                skill(&mut rng).to_string()
            ]),
            salary_min,
            salary_max: salary_min + rng.gen_range(2..20) * 1000,
            city_code: CITIES[rng.gen_range(0..CITIES.len())].to_string(),
            office_id: String::new(),
            experience_years: rng.gen_range(0..10),
            education: 0,
            employment_type: 1,
            recruit_type: [1, 2, 3][rng.gen_range(0..3)],
            graduation_year: 0,
            headcount: 1,
            creator: "bench".into(),
            created_at: at,
            updated_at: at,
            published_at: Some(at),
        });
        if rows.len() == 1000 || i + 1 == n {
            insert(stores.mysql()?, &rows).await?;
            let changes: Vec<Change> = rows
                .iter()
                .map(|r| talentmesh_job::events::job_change(&r.to_domain()))
                .collect();
            search.apply(&changes).await?;
            rows.clear();
        }
    }
    // Statistics and the visibility map, as autovacuum keeps them on a live index of this size
    // (index-only scans read the visibility map).
    sqlx::raw_sql("VACUUM ANALYZE job_search")
        .execute(stores.postgres()?)
        .await?;
    Ok(())
}

async fn insert(pool: &sqlx::MySqlPool, rows: &[JobRow]) -> anyhow::Result<()> {
    let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO jobs ({COLUMNS}) "));
    q.push_values(rows, |mut b, r| {
        b.push_bind(&r.id)
            .push_bind(&r.company_id)
            .push_bind(r.version)
            .push_bind(r.deleted)
            .push_bind(r.state)
            .push_bind(&r.title)
            .push_bind(&r.description)
            .push_bind(&r.required_skills)
            .push_bind(&r.preferred_skills)
            .push_bind(r.salary_min)
            .push_bind(r.salary_max)
            .push_bind(&r.city_code)
            .push_bind(&r.office_id)
            .push_bind(r.experience_years)
            .push_bind(r.education)
            .push_bind(r.employment_type)
            .push_bind(r.recruit_type)
            .push_bind(r.graduation_year)
            .push_bind(r.headcount)
            .push_bind(&r.creator)
            .push_bind(r.created_at)
            .push_bind(r.updated_at)
            .push_bind(r.published_at);
    });
    q.build().execute(pool).await?;
    Ok(())
}

/// Asserts a call of the set-up went through; the benchmark measures nothing on a broken mesh.
fn ok(what: &str, (status, body): (u16, serde_json::Value)) -> anyhow::Result<serde_json::Value> {
    if status != 200 {
        anyhow::bail!("{what}: HTTP {status}: {body}");
    }
    Ok(body)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().map_or(Ok(10), |s| s.parse())?;
    let concurrency: usize = args.get(1).map_or(Ok(32), |s| s.parse())?;
    let jobs: usize = args.get(2).map_or(Ok(100_000), |s| s.parse())?;
    let rounds: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;

    // Scheduled consistency checks off: the seeded jobs are in MySQL and the search index only,
    // and a repair projecting them into Neo4j and Redis mid-run would be measured too.
    let mesh = Mesh::start_with_jobs_and(
        |env| {
            env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN)
                .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", PASSWORD)
        },
        &|env| {
            env.set("TALENTMESH_COMPANY_CHECK_EVERY", "0s")
                .set("TALENTMESH_JOB_CHECK_EVERY", "0s")
                .set("TALENTMESH_RESUME_CHECK_EVERY", "0s")
        },
    )
    .await;
    let admin = mesh.login(ADMIN, PASSWORD, None).await.token;
    let boss = mesh
        .login("boss@bench.example.com", PASSWORD, Some("ROLE_EMPLOYER"))
        .await
        .token;
    let cand = mesh
        .login("cand@bench.example.com", PASSWORD, Some("ROLE_CANDIDATE"))
        .await
        .token;

    // A verified company with one published job, read through the cache.
    let company = ok(
        "create company",
        mesh.call(
            Method::POST,
            "/v1/companies",
            Some(&boss),
            Some(json!({"displayName": "基准科技", "industry": "software", "cityCode": "310000"})),
        )
        .await,
    )?["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ok("submit verification", mesh.call(Method::POST, &format!("/v1/{company}:submitVerification"), Some(&boss), Some(json!({"uscc": "914403001922038216", "legalName": "上海基准科技有限公司", "legalRepresentative": "王五", "licenceDocument": "files/l.pdf"}))).await)?;
    ok(
        "verify",
        mesh.call(
            Method::POST,
            &format!("/v1/{company}:reviewVerification"),
            Some(&admin),
            Some(json!({"approve": true})),
        )
        .await,
    )?;
    let job = ok("create job", mesh.call(Method::POST, &format!("/v1/{company}/jobs"), Some(&boss), Some(json!({"title": "高级Rust后端工程师", "description": "负责高并发服务的设计与开发。", "requiredSkills": ["Rust", "PostgreSQL"], "preferredSkills": ["Kubernetes"], "salaryMin": 30000, "salaryMax": 50000, "cityCode": "310000", "recruitType": "RECRUIT_TYPE_SOCIAL", "headcount": 2}))).await)?["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ok(
        "publish",
        mesh.call(
            Method::POST,
            &format!("/v1/{job}:publish"),
            Some(&boss),
            Some(json!({})),
        )
        .await,
    )?;
    // Wait until the read cache holds the published job.
    let cache_key = format!(
        "{}jobcache:{}",
        mesh.job_env
            .as_ref()
            .map_or("", |e| e.redis_prefix.as_str()),
        job.rsplit('/').next().unwrap_or_default()
    );
    let cached = talentmesh_testkit::eventually(Duration::from_secs(30), || async {
        let mut conn = match mesh.job_env.as_ref() {
            Some(env) => env.redis().await,
            None => return false,
        };
        let state: Option<i32> = redis::cmd("HGET")
            .arg(&cache_key)
            .arg("state")
            .query_async(&mut conn)
            .await
            .unwrap_or(None);
        state == Some(2)
    })
    .await;
    if !cached {
        anyhow::bail!("the published job never reached the read cache ({cache_key})");
    }

    println!("## Job and resume benchmark\n");
    println!(
        "{} cores; the mesh (identity, company, job, resume, gateway) and the load generator in one \
         process on the local servers; {concurrency} closed-loop HTTP/1.1 keep-alive connections to \
         the gateway; {secs} s per measurement after a 1 s warm-up.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // 1. Cached job GET against the bare gateway hop, interleaved round by round.
    let hop = HttpCall::get(&mesh.url("/v1/publicKeys"))?;
    let get = HttpCall::get(&mesh.url(&format!("/v1/{job}")))?;
    let mut ratios = Vec::new();
    let (mut hops, mut gets) = (Vec::new(), Vec::new());
    println!("### Cached GET of a published job vs the bare gateway hop\n");
    println!("| round | bare hop req/s | hop p99 ms | job GET req/s | job GET p99 ms | ratio |");
    println!("|---|---|---|---|---|---|");
    for r in 1..=rounds {
        // The order alternates, so a drift of the machine's speed favours neither path.
        let (h, g) = if r % 2 == 1 {
            let h = load_http(concurrency, secs, |_| vec![hop.clone()]).await;
            (h, load_http(concurrency, secs, |_| vec![get.clone()]).await)
        } else {
            let g = load_http(concurrency, secs, |_| vec![get.clone()]).await;
            (load_http(concurrency, secs, |_| vec![hop.clone()]).await, g)
        };
        let (h, g) = (h.summary(), g.summary());
        let ratio = g.rps / h.rps;
        println!(
            "| {r} | {:.0} | {:.2} | {:.0} | {:.2} | {ratio:.3} |",
            h.rps,
            f64::from(h.p99_us) / 1e3,
            g.rps,
            f64::from(g.p99_us) / 1e3
        );
        if h.errors + g.errors > 0 {
            println!("|   | {} errors | | {} errors | | |", h.errors, g.errors);
        }
        ratios.push(ratio);
        hops.push((h.rps, h.p99_us));
        gets.push((g.rps, g.p99_us));
    }
    println!(
        "\nMedians: bare hop {:.0} req/s (p99 {:.2} ms), job GET {:.0} req/s (p99 {:.2} ms); \
         median per-round ratio **{:.3}** (target ≥ 0.8).\n",
        median(hops.iter().map(|h| h.0).collect()),
        median(hops.iter().map(|h| f64::from(h.1) / 1e3).collect()),
        median(gets.iter().map(|g| g.0).collect()),
        median(gets.iter().map(|g| f64::from(g.1) / 1e3).collect()),
        median(ratios)
    );

    // 2. Search over `jobs` published jobs, seeded only now: writing them keeps MySQL and
    // PostgreSQL busy in the background for a while, which would blur the comparison above.
    let company_id = company.trim_start_matches("companies/").to_string();
    let seeded = Instant::now();
    seed_jobs(&mesh, &company_id, jobs).await?;
    println!(
        "### Job search over {jobs} published jobs\n\n{jobs} jobs seeded into MySQL and the \
         search index in {:.1} s.\n",
        seeded.elapsed().as_secs_f64()
    );
    let q = |query: &str| -> anyhow::Result<HttpCall> {
        let mut url = reqwest::Url::parse(&mesh.url("/v1/jobs:search"))?;
        url.set_query(Some(query));
        HttpCall::get(url.as_str())
    };
    // A second page continues from its first page's token (tokens are bound to their search).
    let mut second_pages = Vec::new();
    for query in ["query=engineer", "query=%E5%B7%A5%E7%A8%8B%E5%B8%88"] {
        let (status, body) = mesh.get(&format!("/v1/jobs:search?{query}"), None).await;
        let token = body["nextPageToken"].as_str().unwrap_or_default();
        if status != 200 || token.is_empty() {
            anyhow::bail!("search {query}: HTTP {status}, no second page: {body}");
        }
        second_pages.push(q(&format!("{query}&pageToken={token}"))?);
    }
    let mixes: [(&str, Vec<HttpCall>); 4] = [
        (
            "text, relevance (Rust工程师, rust engineer, 数据分析, product designer, …)",
            vec![
                q("query=Rust%E5%B7%A5%E7%A8%8B%E5%B8%88")?,
                q("query=rust%20engineer")?,
                q("query=%E6%95%B0%E6%8D%AE%E5%88%86%E6%9E%90")?,
                q("query=product%20designer")?,
                q("query=%E5%90%8E%E7%AB%AF")?,
                q("query=kubernetes")?,
            ],
        ),
        (
            "text + city + salary overlap",
            vec![
                q("query=%E5%B7%A5%E7%A8%8B%E5%B8%88&cityCode=310000&salaryMin=20000&salaryMax=30000")?,
                q("query=engineer&cityCode=440300&salaryMin=15000")?,
                q("query=java&cityCode=110000&salaryMax=20000")?,
            ],
        ),
        (
            "filters only (skill, recruit type), newest first",
            vec![
                q("skill=Rust&orderBy=recency")?,
                q("skill=Redis&recruitType=RECRUIT_TYPE_CAMPUS&orderBy=recency")?,
                q("cityCode=510100&orderBy=recency")?,
            ],
        ),
        (
            "text, second page",
            second_pages,
        ),
    ];
    for (what, calls) in &mixes {
        // Every query answers with jobs before it is measured: a refusal would only be counted.
        for c in calls {
            let (status, body) = mesh
                .get(c.uri.path_and_query().map_or("/", |p| p.as_str()), None)
                .await;
            let found = body["jobs"].as_array().map_or(0, Vec::len);
            if status != 200 || found == 0 {
                anyhow::bail!("search {}: HTTP {status}, {found} jobs: {body}", c.uri);
            }
        }
        // A few callers show the latency of one search; all of them, the throughput.
        for callers in [4, concurrency] {
            let s = load_http(callers, secs, |w| {
                // Each worker starts at a different query of the mix.
                let mut c = calls.clone();
                c.rotate_left(w % calls.len());
                c
            })
            .await
            .summary();
            println!("- {}", line(&format!("{what}, {callers} callers"), &s));
        }
    }
    println!("\nEvery search returns a page of 20.\n");

    // 3. Resume saves: every worker updates a resume of its own; each save is a new version,
    // analysed (skills from the text, years, completeness) in the same request.
    let mut resumes = Vec::new();
    for w in 0..concurrency {
        let r = ok("create resume", mesh.call(Method::POST, "/v1/resumes", Some(&cand), Some(json!({"title": format!("简历 {w}"), "fullName": "韩梅梅", "contact": {"email": "mei@example.com"}, "summary": "五年Rust和k8s经验"}))).await)?;
        resumes.push(r["name"].as_str().unwrap_or_default().to_string());
    }
    let save = |name: &str, n: usize| -> anyhow::Result<HttpCall> {
        let body = json!({
            "title": format!("简历 {n}"),
            "fullName": "韩梅梅",
            "contact": {"email": "mei@example.com", "phone": "13800000000"},
            "summary": "八年后端经验：Rust、Go、JS 和 k8s；负责过高并发交易系统与数据平台。Built payment services in Java and PostgreSQL.",
            "skills": [{"name": "Rust", "level": 4, "years": 5}, {"name": "PostgreSQL", "level": 3, "years": 6}],
            "experience": [
                {"company": "星河科技", "title": "高级工程师", "start": {"year": 2019, "month": 3}, "description": "设计并实现订单系统，使用 Kafka 与 Redis。"},
                {"company": "Acme", "title": "Software Engineer", "start": {"year": 2016, "month": 7}, "end": {"year": 2019, "month": 2}, "description": "Java services on Kubernetes."}
            ],
            "education": [{"school": "浙江大学", "degree": "本科", "major": "计算机科学", "start": {"year": 2012, "month": 9}, "end": {"year": 2016, "month": 6}}]
        });
        let mut c = HttpCall::get(&mesh.url(&format!("/v1/{name}")))?;
        c.method = http::Method::PUT;
        c.bearer = Some(cand.clone());
        c.json = Some(bytes::Bytes::from(body.to_string()));
        Ok(c)
    };
    // Check the body once before measuring: a refused save would be counted as an error only.
    let probe = save(&resumes[0], 0)?;
    ok(
        "save resume",
        mesh.call(
            Method::PUT,
            probe.uri.path(),
            Some(&cand),
            probe
                .json
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok()),
        )
        .await,
    )?;
    let mut calls = Vec::new();
    for r in &resumes {
        calls.push(
            (0..4)
                .map(|n| save(r, n))
                .collect::<anyhow::Result<Vec<_>>>()?,
        );
    }
    let s = load_http(concurrency, secs, |w| calls[w % calls.len()].clone())
        .await
        .summary();
    println!(
        "\n### Resume saves\n\n- {}",
        line("PUT /v1/resumes/{id}, a new version with analysis each", &s)
    );

    mesh.stop().await;
    Ok(())
}
