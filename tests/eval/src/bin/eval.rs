//! `cargo run -p talentmesh-eval --bin eval --release`: scores each available embedder on the
//! labelled set and writes `tests/eval/RESULTS.md`.
//!
//! Every job text and resume text is embedded; for each resume the whole corpus of jobs is ranked
//! by cosine similarity and the rank of its pair's job gives top-1, MRR and NDCG@10 (see
//! `talentmesh_eval::metrics`), overall and split by direction (resume language → job language).
//!
//! Embedders:
//! - `builtin`: `talentmesh_embed::BuiltinEmbedder` (feature hashing, no server), always run.
//! - `http`: `talentmesh_embed::HttpEmbedder`, an OpenAI-compatible model server at
//!   `TALENTMESH_EVAL_EMBEDDINGS_URL` (base URL, e.g. `http://127.0.0.1:8090`), model
//!   `TALENTMESH_EVAL_EMBEDDINGS_MODEL` (default `intfloat/multilingual-e5-small`) of
//!   `TALENTMESH_EVAL_EMBEDDINGS_DIMENSIONS` (default 384); every text is sent with E5's
//!   `query: ` prefix (symmetric matching). Skipped, with a line saying so, when the URL is unset.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use talentmesh_embed::{BuiltinEmbedder, Embedder, HttpConfig, HttpEmbedder};
use talentmesh_eval::dataset::{self, Direction, Pair};
use talentmesh_eval::metrics::Summary;
use talentmesh_eval::rank::{cosine, rank_of};

/// The command this binary documents in RESULTS.md.
const COMMAND: &str = "cargo run -p talentmesh-eval --bin eval --release";
/// The environment variable that selects the HTTP embedder.
const URL_VAR: &str = "TALENTMESH_EVAL_EMBEDDINGS_URL";
/// Texts sent per embedding call.
const BATCH: usize = 32;

/// The scores of one embedder.
struct Report {
    name: String,
    overall: Summary,
    by_direction: Vec<(Direction, Summary)>,
    /// What ranked first when the relevant job did not.
    misses: Misses,
    seconds: f64,
}

/// The queries whose relevant job was not ranked first, by what was ranked first instead.
#[derive(Default)]
struct Misses {
    /// A job of the same role at another level (the deliberate near misses).
    same_role: usize,
    /// A job of another role.
    other_role: usize,
    /// Cross-language queries whose first job was in the resume's own language.
    cross_to_own_language: usize,
}

/// The vectors of `texts` (each prefixed with `prefix`), in order, sent `BATCH` at a time.
async fn embed_all<E: Embedder>(
    e: &E,
    prefix: &str,
    texts: &[String],
) -> anyhow::Result<Vec<Vec<f32>>> {
    let texts: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(BATCH) {
        let vectors = e.embed(chunk).await?;
        if vectors.len() != chunk.len() {
            bail!(
                "embedder returned {} vectors for {} texts",
                vectors.len(),
                chunk.len()
            );
        }
        out.extend(vectors);
    }
    Ok(out)
}

/// Ranks the corpus for every resume with `e` and summarises the ranks of the relevant jobs.
async fn evaluate<E: Embedder>(
    name: &str,
    e: &E,
    prefix: &str,
    pairs: &[Pair],
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let jobs: Vec<String> = pairs.iter().map(|p| dataset::job_text(&p.job)).collect();
    let resumes: Vec<String> = pairs
        .iter()
        .map(|p| dataset::resume_text(&p.resume))
        .collect();
    let job_vecs = embed_all(e, prefix, &jobs)
        .await
        .with_context(|| format!("{name}: jobs"))?;
    let resume_vecs = embed_all(e, prefix, &resumes)
        .await
        .with_context(|| format!("{name}: resumes"))?;
    let mut ranks = Vec::with_capacity(pairs.len());
    let mut misses = Misses::default();
    for (i, rv) in resume_vecs.iter().enumerate() {
        let scores: Vec<f32> = job_vecs.iter().map(|jv| cosine(rv, jv)).collect();
        let rank = rank_of(&scores, i).context("relevant job out of range")?;
        ranks.push((pairs[i].direction(), rank));
        if rank > 1 {
            let top = (0..scores.len())
                .filter(|&j| j != i)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .context("corpus of one job")?;
            if pairs[top].role == pairs[i].role {
                misses.same_role += 1;
            } else {
                misses.other_role += 1;
            }
            if pairs[i].direction().is_cross() && pairs[top].job.lang == pairs[i].resume.lang {
                misses.cross_to_own_language += 1;
            }
        }
    }
    let all: Vec<usize> = ranks.iter().map(|&(_, r)| r).collect();
    let by_direction = Direction::ALL
        .iter()
        .map(|d| {
            let rs: Vec<usize> = ranks
                .iter()
                .filter(|(x, _)| x == d)
                .map(|&(_, r)| r)
                .collect();
            (*d, Summary::from_ranks(&rs))
        })
        .collect();
    Ok(Report {
        name: name.to_string(),
        overall: Summary::from_ranks(&all),
        by_direction,
        misses,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One markdown table row per (embedder, split).
fn table(reports: &[Report]) -> String {
    let mut s = String::from(
        "| embedder | split | pairs | top-1 | MRR | NDCG@10 |\n|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let rows = std::iter::once(("all".to_string(), r.overall))
            .chain(r.by_direction.iter().map(|(d, m)| (d.to_string(), *m)));
        for (split, m) in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} |",
                r.name, split, m.queries, m.top1, m.mrr, m.ndcg10
            );
        }
    }
    s
}

/// One line on an embedder's top-1 misses and its time.
fn describe(r: &Report) -> String {
    let m = &r.misses;
    format!(
        "{}: top-1 misses {} ({} the same role at another level, {} another role; {} of the \
         cross-language misses put a job in the resume's own language first); embedding and \
         ranking took {:.1}s",
        r.name,
        m.same_role + m.other_role,
        m.same_role,
        m.other_role,
        m.cross_to_own_language,
        r.seconds
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = dataset::data_dir();
    let pairs = dataset::load_dir(&dir)?;
    let mut notes = Vec::new();
    let mut reports = Vec::new();

    let builtin = BuiltinEmbedder::new();
    reports.push(evaluate(builtin.name(), &builtin, "", &pairs).await?);

    match http_embedder()? {
        Some(e) => reports.push(evaluate(e.name(), &e, "query: ", &pairs).await?),
        None => notes.push(format!("http: skipped ({URL_VAR} is unset)")),
    }

    let counts: Vec<String> = Direction::ALL
        .iter()
        .map(|d| {
            format!(
                "{d} {}",
                pairs.iter().filter(|p| p.direction() == *d).count()
            )
        })
        .collect();
    let table = table(&reports);
    println!(
        "{} pairs ({}), corpus of {} jobs\n",
        pairs.len(),
        counts.join(", "),
        pairs.len()
    );
    println!("{table}");
    for r in &reports {
        println!("{}", describe(r));
    }
    for n in &notes {
        println!("{n}");
    }

    let mut md = String::from("# Matching evaluation results\n\n");
    let _ = writeln!(md, "Command: `{COMMAND}` (2 cores).");
    let _ = writeln!(
        md,
        "Date: {} UTC.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M")
    );
    let _ = writeln!(
        md,
        "Set: `tests/eval/data/*.jsonl`, {} hand-written (job, resume) pairs ({}; resume language → \
         job language). Each resume is ranked against all {} jobs by cosine similarity; the \
         relevant job is its pair's job, ties count against it.\n",
        pairs.len(),
        counts.join(", "),
        pairs.len()
    );
    md.push_str(&table);
    md.push('\n');
    for r in &reports {
        let _ = writeln!(md, "- {}", describe(r));
    }
    for n in &notes {
        let _ = writeln!(md, "- {n}");
    }
    let out = dir
        .parent()
        .map(|p| p.join("RESULTS.md"))
        .context("data dir has no parent")?;
    std::fs::write(&out, md).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// The HTTP embedder configured by the environment, `None` when `TALENTMESH_EVAL_EMBEDDINGS_URL`
/// is unset or empty. Errors on a malformed dimension count or configuration.
fn http_embedder() -> anyhow::Result<Option<HttpEmbedder>> {
    let url = match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => return Ok(None),
    };
    let model = std::env::var("TALENTMESH_EVAL_EMBEDDINGS_MODEL")
        .unwrap_or_else(|_| "intfloat/multilingual-e5-small".to_string());
    let dimensions = match std::env::var("TALENTMESH_EVAL_EMBEDDINGS_DIMENSIONS") {
        Ok(d) => d
            .trim()
            .parse()
            .context("TALENTMESH_EVAL_EMBEDDINGS_DIMENSIONS")?,
        Err(_) => 384,
    };
    let config = HttpConfig {
        base_url: url,
        model,
        dimensions,
        timeout: Duration::from_secs(120),
        max_batch: BATCH,
    };
    Ok(Some(HttpEmbedder::new(config)?))
}
