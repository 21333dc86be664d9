//! The corpus under one embedder: every job embedded as a passage and every resume as a
//! query, ranked by cosine; and the weighted hybrids of several embedders' vectors, with the
//! grid that picks their weights on the even pair ids.

use std::time::Instant;

use anyhow::{bail, Context};
use talentmesh_embed::{concat_weighted, EmbedRole, Embedder, HybridEmbedder, VocabularyEmbedder};

use crate::dataset::{self, Pair};
use crate::metrics::Summary;
use crate::rank::cosine_scores;
use crate::report::{ranks, report, summary_where, Report};

/// The vectors of the corpus under one embedder, and how long they took.
pub struct Embedded {
    pub jobs: Vec<Vec<f32>>,
    pub resumes: Vec<Vec<f32>>,
    pub job_seconds: f64,
    pub resume_seconds: f64,
}

/// The job texts and resume texts of the set, in pair order.
pub fn texts(pairs: &[Pair]) -> (Vec<String>, Vec<String>) {
    let jobs = pairs.iter().map(|p| dataset::job_text(&p.job)).collect();
    let resumes = pairs
        .iter()
        .map(|p| dataset::resume_text(&p.resume))
        .collect();
    (jobs, resumes)
}

/// Embeds every job as a passage and every resume as a query, timing each side.
pub async fn embed_corpus<E: Embedder>(e: &E, pairs: &[Pair]) -> anyhow::Result<Embedded> {
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
pub async fn embed_checked<E: Embedder>(
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

/// Ranks the corpus for every resume by cosine and summarises the ranks of the relevant jobs.
pub fn score(name: &str, pairs: &[Pair], v: &Embedded) -> anyhow::Result<Report> {
    let cosines = cosine_scores(&v.jobs, &v.resumes);
    report(name, pairs, &cosines, v.job_seconds + v.resume_seconds)
}

/// Embeds and scores with `e`.
pub async fn evaluate<E: Embedder>(e: &E, pairs: &[Pair]) -> anyhow::Result<(Report, Embedded)> {
    let v = embed_corpus(e, pairs).await?;
    Ok((score(e.name(), pairs, &v)?, v))
}

/// Milliseconds per text of one side of the corpus with the model server, and the mean length.
pub fn speed_line(side: &str, texts: &[String], seconds: f64) -> String {
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    format!(
        "{side}: {} texts (mean {:.0} characters) in {seconds:.1}s = {:.0} ms/text",
        texts.len(),
        chars as f64 / texts.len().max(1) as f64,
        1000.0 * seconds / texts.len().max(1) as f64
    )
}

/// The vectors [`HybridEmbedder`]s nest to: `[[a, ws·s], wl·l]`, each level L2-normalised.
pub fn combine(a: &Embedded, s: &Embedded, l: &Embedded, ws: f32, wl: f32) -> Embedded {
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
pub type Blocks3<'a> = (&'a [Vec<f32>], &'a [Vec<f32>], &'a [Vec<f32>]);

/// Picks the (skill, stage) weights over the grids on the even pair ids: best top-1, then best
/// MRR, then the first tried (smaller weights). Returns them with one grid line per pair of
/// weights tried (even-id metrics only), labelled `what`.
pub fn tune(
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
            let ranks = ranks(&cosine_scores(&v.jobs, &v.resumes))?;
            let t = summary_where(pairs, &ranks, Pair::is_tuning)?;
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
pub async fn evaluate_hybrid<A: Embedder + Sync + Clone>(
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
