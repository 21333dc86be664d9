//! The labelled set: (job, resume) pairs read from `tests/eval/data/*.jsonl`, one JSON object a
//! line, written by hand for this project (see `data/README.md`).
//!
//! The jobs of all pairs form the corpus. For each resume the relevant job is its own pair's job;
//! every other job is a distractor, and the set holds near misses on purpose (the same title on
//! another stack, the same stack at another level).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// The language a job or resume is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Simplified Chinese (with English skill names mixed in, as people write them).
    Zh,
    /// English.
    En,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        })
    }
}

/// A job posting of the corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    /// Unique within the set, e.g. `j001`.
    pub id: String,
    /// Language of the posting.
    pub lang: Lang,
    /// Job title.
    pub title: String,
    /// Free-text description: duties and requirements.
    pub description: String,
    /// Required skills, non-empty.
    pub skills: Vec<String>,
    /// City of the job.
    pub city: String,
}

/// A candidate's resume.
#[derive(Debug, Clone, Deserialize)]
pub struct Resume {
    /// Unique within the set, e.g. `r001`.
    pub id: String,
    /// Language of the resume.
    pub lang: Lang,
    /// Summary / self-introduction.
    pub summary: String,
    /// Experience lines (work, internships, projects, education).
    pub experience: Vec<String>,
    /// Listed skills.
    pub skills: Vec<String>,
}

/// One labelled pair: the resume fits the job.
#[derive(Debug, Clone, Deserialize)]
pub struct Pair {
    /// Unique within the set, e.g. `p001`.
    pub id: String,
    /// Role family the pair was written for (e.g. `backend-go`); informative only.
    pub role: String,
    /// Seniority of the pair (`intern`, `campus`, `mid`, `senior`); informative only.
    pub level: String,
    /// The job the resume belongs to.
    pub job: Job,
    /// The resume.
    pub resume: Resume,
}

impl Pair {
    /// The query → target direction of the pair, resume language first (`zh→en` is a Chinese
    /// resume for an English job).
    pub fn direction(&self) -> Direction {
        Direction {
            resume: self.resume.lang,
            job: self.job.lang,
        }
    }

    /// The number in the pair id (`p017` → 17); an error names an id without one.
    pub fn number(&self) -> anyhow::Result<u32> {
        self.id
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .with_context(|| format!("pair id {} has no number", self.id))
    }

    /// Whether the pair is in the tuning half (even ids); the odd ids are held out: no weight
    /// is chosen on them.
    pub fn is_tuning(&self) -> anyhow::Result<bool> {
        Ok(self.number()? % 2 == 0)
    }
}

/// Resume language → job language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Direction {
    /// Language of the resume (the query).
    pub resume: Lang,
    /// Language of the job (the target).
    pub job: Lang,
}

impl Direction {
    /// The four directions in report order: zh→zh, en→en, zh→en, en→zh.
    pub const ALL: [Direction; 4] = [
        Direction {
            resume: Lang::Zh,
            job: Lang::Zh,
        },
        Direction {
            resume: Lang::En,
            job: Lang::En,
        },
        Direction {
            resume: Lang::Zh,
            job: Lang::En,
        },
        Direction {
            resume: Lang::En,
            job: Lang::Zh,
        },
    ];

    /// Whether resume and job are in different languages.
    pub fn is_cross(&self) -> bool {
        self.resume != self.job
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}→{}", self.resume, self.job)
    }
}

/// The directory of the set: `tests/eval/data` of this crate.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Loads every `*.jsonl` file of `dir`, in file-name order, skipping blank lines.
///
/// Errors name the file and line of a line that is not a valid [`Pair`], and fail when the
/// directory holds no pair at all.
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<Pair>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut pairs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let pair: Pair = serde_json::from_str(line)
                .with_context(|| format!("{}:{}", file.display(), i + 1))?;
            pairs.push(pair);
        }
    }
    if pairs.is_empty() {
        bail!("no pairs in {}", dir.display());
    }
    Ok(pairs)
}

/// The text of a job that is embedded: title, city, skills and description, one per line.
pub fn job_text(job: &Job) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        job.title,
        job.city,
        job.skills.join(", "),
        job.description
    )
}

/// The text of a resume that is embedded: summary, skills and experience lines, one per line.
pub fn resume_text(resume: &Resume) -> String {
    format!(
        "{}\n{}\n{}",
        resume.summary,
        resume.skills.join(", "),
        resume.experience.join("\n")
    )
}
