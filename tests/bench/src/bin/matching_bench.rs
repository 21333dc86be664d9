//! The vector index benchmark (issue 14): top-20 jobs for a resume over JOBS jobs with
//! `talentmesh_vector::VectorIndex`, in process, no servers.
//!
//! Jobs and resumes are texts from a small grammar of titles, skills, cities and phrasing
//! (Chinese and English), embedded with the builtin embedder (512 dimensions), so the vectors
//! cluster and collide the way real job postings do rather than being uniform noise. Printed:
//! the bulk build time (start-up rebuild), searches at several `ef_search` values, unfiltered,
//! with a city filter a third of the jobs pass and with a one-company filter (0.2%), each as
//! p50/p95/p99/max latency and recall@20 against the exact scan; exact-scan latency for
//! comparison; ingest (upserts/s after the build) and searches while ingesting; memory.
//!
//! A second sweep varies the filter widening exponent (`IndexConfig::filter_widening`) at the
//! chosen `ef_search` for the city filter.
//!
//!   matching-bench [JOBS] [QUERIES] [EF_LIST] [CHOSEN_EF] [WIDENING_LIST] [CHOSEN_WIDENING]
//!       (defaults 100000, 1000, "64,96,128,160,192", 160, "1,0.5,0.35,0.25", the default 0.35)

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use talentmesh_bench::Latency;
use talentmesh_embed::{BuiltinEmbedder, BUILTIN_DIMENSIONS};
use talentmesh_vector::{Hit, IndexConfig, VectorIndex};

const K: usize = 20;

const TITLES: [&str; 24] = [
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
    "算法工程师",
    "Android Developer",
    "前端开发工程师",
    "Site Reliability Engineer",
    "大数据开发工程师",
    "QA Automation Engineer",
    "UI设计师",
    "Full Stack Developer",
];
const SKILLS: [&str; 32] = [
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
    "深度学习",
    "PyTorch",
    "Flink",
    "Vue",
    "Kotlin",
    "C++",
    "Elasticsearch",
    "Figma",
    "数据可视化",
    "微服务",
    "分布式系统",
    "SQL",
    "Hadoop",
    "AWS",
    "Terraform",
];
/// Cities as postings write them (names, not codes, so the embedder sees them).
const CITIES: [&str; 12] = [
    "北京", "上海", "深圳", "杭州", "广州", "成都", "Beijing", "Shanghai", "南京", "武汉", "西安",
    "苏州",
];
const LEVELS: [&str; 8] = [
    "初级", "中级", "高级", "资深", "Junior", "Senior", "Staff", "Lead",
];
const DOMAINS: [&str; 12] = [
    "电商",
    "金融科技",
    "在线教育",
    "游戏",
    "企业服务",
    "医疗健康",
    "fintech",
    "e-commerce",
    "SaaS",
    "logistics",
    "自动驾驶",
    "社交",
];
const PHRASES: [&str; 10] = [
    "负责高并发服务的设计与开发，参与架构评审。",
    "Build and run services used by millions of people; own them end to end.",
    "与产品、设计紧密合作，推动需求落地。",
    "Work on data pipelines and the platform around them.",
    "有开源项目经验者优先。",
    "You will mentor engineers and review designs.",
    "五险一金，弹性工作，年终奖。",
    "Remote-friendly team, flexible hours.",
    "参与核心系统重构，提升稳定性与性能。",
    "Ship features weekly with a small, senior team.",
];
const COMPANIES: u64 = 500;

struct Job {
    text: String,
    city: usize,
    company: u64,
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

fn skills(rng: &mut StdRng, n: usize) -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::with_capacity(n);
    while out.len() < n {
        let s = pick(rng, &SKILLS);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn job(rng: &mut StdRng) -> Job {
    let city = rng.gen_range(0..CITIES.len());
    let title = pick(rng, &TITLES);
    let n = rng.gen_range(2..6);
    let s = skills(rng, n);
    let text = format!(
        "{} {}（{}） {}，{}-{}年经验。技能：{}。{} {}",
        pick(rng, &LEVELS),
        title,
        CITIES[city],
        pick(rng, &DOMAINS),
        rng.gen_range(1..4),
        rng.gen_range(4..10),
        s.join("、"),
        pick(rng, &PHRASES),
        pick(rng, &PHRASES),
    );
    Job {
        text,
        city,
        company: rng.gen_range(0..COMPANIES),
    }
}

fn resume(rng: &mut StdRng) -> String {
    let n = rng.gen_range(3..7);
    let s = skills(rng, n);
    if rng.gen_bool(0.5) {
        format!(
            "{}年{}经验，熟悉{}，做过{}项目，期望城市：{}",
            rng.gen_range(1..12),
            pick(rng, &TITLES),
            s.join("、"),
            pick(rng, &DOMAINS),
            pick(rng, &CITIES),
        )
    } else {
        format!(
            "{} years as {}; skills: {}; industry {}; based in {}",
            rng.gen_range(1..12),
            pick(rng, &TITLES),
            s.join(", "),
            pick(rng, &DOMAINS),
            pick(rng, &CITIES),
        )
    }
}

/// Percentiles in ms of latencies in µs.
fn latency(us: Vec<f64>) -> Latency {
    Latency::of(us.into_iter().map(|u| u / 1e3).collect())
}

fn ms(l: &Latency) -> String {
    l.cells()
}

/// Recall@K of `got` against the exact answer, counting a hit whose score ties the exact K-th
/// score (within float noise) as found: near-duplicate postings score the same, and which of
/// them fills the last places is arbitrary.
fn recall(got: &[Hit], exact: &[Hit]) -> (f64, f64) {
    if exact.is_empty() {
        return (1.0, 1.0);
    }
    let want: HashSet<u64> = exact.iter().map(|h| h.key).collect();
    let strict = got.iter().filter(|h| want.contains(&h.key)).count();
    let floor = exact[exact.len() - 1].score - 1e-5;
    let tied = got
        .iter()
        .filter(|h| want.contains(&h.key) || h.score >= floor)
        .count()
        .min(exact.len());
    (
        strict as f64 / exact.len() as f64,
        tied as f64 / exact.len() as f64,
    )
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

type Filter<'a> = Box<dyn Fn(u64) -> bool + 'a>;

/// One filter per query, so every query gets its own city set or company.
struct Case<'a> {
    name: &'static str,
    filters: Vec<Filter<'a>>,
}

fn run(
    index: &VectorIndex,
    queries: &[Vec<f32>],
    case: &Case<'_>,
    exact: bool,
) -> anyhow::Result<(Latency, Vec<Vec<Hit>>)> {
    let mut us = Vec::with_capacity(queries.len());
    let mut out = Vec::with_capacity(queries.len());
    for (q, f) in queries.iter().zip(&case.filters) {
        let t = Instant::now();
        let hits = if exact {
            index.search_exact(q, K, f)?
        } else {
            index.search(q, K, f)?
        };
        us.push(t.elapsed().as_secs_f64() * 1e6);
        out.push(hits);
    }
    Ok((latency(us), out))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let jobs: u64 = args.get(1).map_or(Ok(100_000), |s| s.parse())?;
    let nq: usize = args.get(2).map_or(Ok(1_000), |s| s.parse())?;
    let efs: Vec<usize> = args
        .get(3)
        .map_or("64,96,128,160,192", |s| s.as_str())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let chosen_ef: usize = args.get(4).map_or(Ok(160), |s| s.parse())?;
    let widenings: Vec<f64> = args
        .get(5)
        .map_or("1,0.5,0.35,0.25", |s| s.as_str())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let chosen_widening: f64 = args
        .get(6)
        .map_or(Ok(IndexConfig::default().filter_widening), |s| s.parse())?;
    let config = IndexConfig {
        ef_search: chosen_ef,
        filter_widening: chosen_widening,
        ..IndexConfig::default()
    };

    let embedder = BuiltinEmbedder::new();
    let mut rng = StdRng::seed_from_u64(14);
    let t = Instant::now();
    let postings: Vec<Job> = (0..jobs + 10_000).map(|_| job(&mut rng)).collect();
    let vectors: Vec<Vec<f32>> = postings
        .iter()
        .map(|j| embedder.embed_text(&j.text))
        .collect();
    let queries: Vec<Vec<f32>> = (0..nq)
        .map(|_| embedder.embed_text(&resume(&mut rng)))
        .collect();
    let embed_time = t.elapsed();
    let distinct: HashSet<&str> = postings.iter().map(|j| j.text.as_str()).collect();

    let rss_before = rss_bytes();
    let index = VectorIndex::new(BUILTIN_DIMENSIONS, config.clone())?;
    let t = Instant::now();
    index.bulk_load((0..jobs).map(|key| (key, vectors[key as usize].as_slice())))?;
    let build = t.elapsed();
    let rss_after = rss_bytes();
    let stats = index.stats();

    // Filters: a third of the cities per query (a candidate's acceptable cities), and one
    // company's jobs (0.2%: "this company's openings").
    let city_sets: Vec<[usize; 4]> = (0..nq)
        .map(|_| {
            let mut c = [0; 4];
            for (i, slot) in c.iter_mut().enumerate() {
                *slot = (rng.gen_range(0..3) + 3 * i) % CITIES.len();
            }
            c
        })
        .collect();
    let companies: Vec<u64> = (0..nq).map(|_| rng.gen_range(0..COMPANIES)).collect();
    let postings = &postings;
    let unfiltered = Case {
        name: "unfiltered",
        filters: (0..nq).map(|_| Box::new(|_| true) as Filter).collect(),
    };
    let cities = Case {
        name: "city filter (1/3 pass)",
        filters: city_sets
            .iter()
            .map(|set| {
                Box::new(move |key: u64| set.contains(&postings[key as usize].city)) as Filter
            })
            .collect(),
    };
    let company = Case {
        name: "one company (0.2% pass)",
        filters: companies
            .iter()
            .map(|c| Box::new(move |key: u64| postings[key as usize].company == *c) as Filter)
            .collect(),
    };
    let cases = [unfiltered, cities, company];
    let passing: f64 = (0..jobs)
        .filter(|k| city_sets[0].contains(&postings[*k as usize].city))
        .count() as f64
        / jobs as f64;

    let line = |s: String| println!("{s}");
    line("## Vector index benchmark".to_owned());
    line(String::new());
    line(format!(
        "{jobs} job vectors ({} dimensions, builtin embedder; {} distinct texts), {nq} resume queries, top-{K}; \
         M = {}, ef_construction = {}, filter widening exponent {} (filtered graph searches walk \
         ef / pass-rate^exponent candidates), exact below {} vectors; rayon on {} threads.",
        BUILTIN_DIMENSIONS,
        distinct.len().min(jobs as usize),
        config.m,
        config.ef_construction,
        config.filter_widening,
        config.exact_below,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    ));
    line(format!(
        "Texts generated and embedded in {:.1} s (not part of the index).",
        embed_time.as_secs_f64()
    ));
    line(String::new());
    line("### Build and memory".to_owned());
    line(String::new());
    line(format!(
        "- bulk load of {jobs} vectors with the HNSW build: **{:.1} s** ({:.0} vectors/s)",
        build.as_secs_f64(),
        jobs as f64 / build.as_secs_f64()
    ));
    line(format!(
        "- memory: index estimate {:.0} MB (`IndexStats::approx_bytes`), process RSS grew {:.0} MB during the load; \
         the vectors alone are {:.0} MB in the f32 arena, the graph's 8-bit copy a quarter of that",
        stats.approx_bytes as f64 / 1e6,
        rss_after.saturating_sub(rss_before) as f64 / 1e6,
        (jobs as usize * BUILTIN_DIMENSIONS * 4) as f64 / 1e6
    ));
    line(String::new());

    // Exact answers (also the exact-scan latency).
    line("### Search latency (ms, one caller) and recall@20 against the exact scan".to_owned());
    line(String::new());
    line(format!(
        "City filter: {:.1}% of jobs pass for the first query's city set.",
        passing * 100.0
    ));
    line(String::new());
    line("| filter | mode | p50 | p95 | p99 | max | recall@20 | recall@20 (ties) |".to_owned());
    line("|---|---|---|---|---|---|---|---|".to_owned());
    let mut exact_answers = Vec::new();
    for case in &cases {
        let (l, hits) = run(&index, &queries, case, true)?;
        line(format!(
            "| {} | exact scan | {} | 1 | 1 |",
            case.name,
            ms(&l)
        ));
        exact_answers.push(hits);
    }
    let mut summary: Vec<(usize, &str, f64, f64)> = Vec::new();
    for &ef in &efs {
        index.set_ef_search(ef);
        for (case, exact) in cases.iter().zip(&exact_answers) {
            let (l, hits) = run(&index, &queries, case, false)?;
            let (mut strict, mut tied) = (0.0, 0.0);
            for (h, e) in hits.iter().zip(exact) {
                let (s, t) = recall(h, e);
                strict += s;
                tied += t;
            }
            strict /= nq as f64;
            tied /= nq as f64;
            line(format!(
                "| {} | HNSW ef={ef} | {} | {strict:.4} | **{tied:.4}** |",
                case.name,
                ms(&l)
            ));
            summary.push((ef, case.name, l.p99, tied));
        }
    }
    line(String::new());
    index.set_ef_search(chosen_ef);

    // The filter widening sweep: the city filter at the chosen ef_search, candidates
    // ef / pass-rate^w for each exponent w.
    line(format!(
        "### Filter widening (city filter, 1/3 pass, ef_search = {chosen_ef})"
    ));
    line(String::new());
    line("| widening exponent | candidates walked | p50 | p95 | p99 | max | recall@20 | recall@20 (ties) |".to_owned());
    line("|---|---|---|---|---|---|---|---|".to_owned());
    for &w in &widenings {
        index.set_filter_widening(w);
        let (l, hits) = run(&index, &queries, &cases[1], false)?;
        let (mut strict, mut tied) = (0.0, 0.0);
        for (h, e) in hits.iter().zip(&exact_answers[1]) {
            let (s, t) = recall(h, e);
            strict += s;
            tied += t;
        }
        strict /= nq as f64;
        tied /= nq as f64;
        line(format!(
            "| {w} | {:.0} | {} | {strict:.4} | **{tied:.4}** |",
            (chosen_ef as f64 / passing.powf(w)).ceil(),
            ms(&l)
        ));
    }
    line(String::new());
    index.set_filter_widening(chosen_widening);

    // Ingest after the build: new jobs, then replaced vectors (each an HNSW insert).
    line("### Ingest after the build (one writer)".to_owned());
    line(String::new());
    let extra = 5_000u64;
    let t = Instant::now();
    for key in jobs..jobs + extra {
        index.upsert(key, &vectors[key as usize])?;
    }
    let new_rate = extra as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..extra {
        let key = (i * 7919) % jobs;
        index.upsert(key, &vectors[(jobs + extra + i % extra) as usize])?;
    }
    let replace_rate = extra as f64 / t.elapsed().as_secs_f64();
    line(format!(
        "- {extra} new jobs: **{new_rate:.0} upserts/s**; {extra} replaced vectors: **{replace_rate:.0} upserts/s**"
    ));
    let s = index.stats();
    line(format!(
        "- after: {} keys, {} graph nodes, {} tombstones (rebuild at {:.0}%)",
        s.len,
        s.graph_nodes,
        s.tombstones,
        config.rebuild_tombstone_fraction * 100.0
    ));

    // Searches while a writer upserts at full speed (both cores busy).
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (l, writes) = std::thread::scope(|scope| -> anyhow::Result<(Latency, u64)> {
        let writer = scope.spawn(|| -> anyhow::Result<u64> {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = (n * 104_729) % jobs;
                index.upsert(key, &vectors[((n + 3) % (jobs + extra)) as usize])?;
                n += 1;
            }
            Ok(n)
        });
        let started = Instant::now();
        let result = run(&index, &queries, &cases[1], false);
        let elapsed = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let writes = writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer panicked"))??;
        let (l, _) = result?;
        Ok((
            l,
            (writes as f64 / elapsed.max(Duration::from_millis(1)).as_secs_f64()) as u64,
        ))
    })?;
    line(format!(
        "- city-filtered searches (ef={chosen_ef}) while a writer upserts ({writes} upserts/s meanwhile): p50 {:.2} ms, p95 {:.2} ms, p99 **{:.2} ms**, max {:.2} ms",
        l.p50, l.p95, l.p99, l.max
    ));
    line(String::new());

    line("### Chosen".to_owned());
    line(String::new());
    for (ef, name, p99, tied) in summary.iter().filter(|s| s.0 == chosen_ef) {
        line(format!(
            "- ef_search = {ef}, filter widening {chosen_widening}, {name}: p99 {p99:.2} ms (target ≤ 5), recall@20 {tied:.4} (target ≥ 0.98)"
        ));
    }
    Ok(())
}
