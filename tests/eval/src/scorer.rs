//! The matching service's full score on the labelled set: each (job, resume) of the set as the
//! service would see such a posting and resume ([`job_profile`], [`candidate_profile`]),
//! scored by `talentmesh_matching::domain::score` with the embedder's cosine mapped to the
//! semantic component's 0..1 the way the service does ([`service_calibration`]).
//!
//! The set holds no structured conditions (years asked, degree, salary, city code, recruit
//! type, preferred skills, dated positions), so those components are unknown and score 0 for
//! every pair; with no preferences and no learned skill relations the score is the weighted
//! semantic value plus the weighted share of required skills the resume shows. The pair's
//! `role` and `level` labels are never read here.

use anyhow::{bail, Context};
use talentmesh_matching::domain::{
    self, CandidateProfile, ComponentKind, ExperienceItem, JobProfile, Match, Preferences,
    RelatedSkills, SkillItem, Weights,
};
use talentmesh_matching::service::Calibration;
use talentmesh_mesh::config::Env;

use crate::dataset::{Job, Pair, Resume};
use crate::report::{report, Report};

/// What the `scorer:` rows are, for RESULTS.md; `{bands}` is replaced by the cosine bands.
pub const METHOD: &str = "\
`scorer:<embedder>` ranks every resume against all jobs with `talentmesh_matching::domain::score`, \
the score the matching service returns, with `Weights::default()`, no preferences and no learned \
skill relations. The semantic component is the embedder's cosine of the vectors of its own row \
(not embedded again) mapped by the service's calibration (a logistic curve over its band; floor and \
ceiling read from the service's configuration loader: {bands}). Jobs enter as title, description \
and their skills as required skills, with no city code (the set names cities); resumes as \
summary, experience lines as undated position descriptions, and skills. The pairs' role and \
level labels are not read. The eval embeds its own texts (`dataset::job_text`, \
`dataset::resume_text`), not the service's `domain::job_text`/`candidate_text`.";

/// The RESULTS.md section on the scorer rows: [`METHOD`] with the `bands` filled in, then
/// what the numbers mean, citing each report's top-1 misses and ties.
pub fn section(bands: &str, scorer_reports: &[Report]) -> String {
    let ties: Vec<String> = scorer_reports
        .iter()
        .map(|r| {
            format!(
                "{} {} of {}",
                r.name,
                r.misses.tied,
                r.misses.same_role + r.misses.other_role
            )
        })
        .collect();
    format!(
        "## The service's full score (`scorer:` rows)\n\n{}\n\n\
         What the numbers mean: the set's postings and resumes state their conditions in \
         text only (no structured field is filled), so four components (preferred skills, \
         education, salary, distance) are unknown and add 0 to every pair, and so is the recruit \
         type (no type set, no school dates). The experience component is known: the service \
         reads a posting's level and years from its title and requirements (`高级…`, \
         `Graduate …`, `8年以上…经验`, `3+ years`) and a resume's stage and years from its \
         wording (`大三在读`, `2026届应届毕业生`, `9年…经验`, `leading a team of 6`) when the \
         fields are empty (`domain::job_level`, `domain::candidate_level`), and scores the \
         lesser of the years met and the stage fit. These rows measure semantic + required \
         skills + experience (0.28 / 0.20 / 0.20 by default). The skill share crosses \
         languages (the vocabulary knows both names) but says which stack a posting lists, not \
         its level; the level now comes from the experience component, so the remaining misses \
         are near misses of level across languages (see the misses lines: a miss for another \
         role would show content outweighed by level, and stays at 0–1 of 224 in the centered \
         rows). The semantic value is a logistic curve over the band, strictly increasing, so \
         no two cosines tie (top-1 misses that are ties, which would count against the \
         relevant job: {}); an earlier clipped linear map gave every pair above the ceiling 1 \
         and lost the centered model's scorer about a third of its top-1 to ties. The default \
         weights were set once, before this run, when experience began to carry the level \
         (0.12 → 0.20, taken from required skills 0.25 → 0.20 and the semantic 0.30 → 0.28); \
         they were not searched on this set. The `scorer-tuned:` rows use the weights learned \
         from the replayed outcomes of the even pair ids (below); their odd-id rows are held \
         out.\n",
        METHOD.replace("{bands}", bands),
        ties.join("; ")
    )
}

/// A job of the set as the service sees a published posting with only these fields: name
/// `companies/eval/jobs/{id}`, title, description, the job's skills as required skills. The
/// city is a name, not a GB/T 2260 code, so the job has no city code; every other condition
/// is absent (unknown).
pub fn job_profile(job: &Job) -> JobProfile {
    JobProfile {
        name: format!("companies/eval/jobs/{}", job.id),
        company: "companies/eval".to_string(),
        version: 1,
        published: true,
        title: job.title.clone(),
        description: job.description.clone(),
        required_skills: job.skills.clone(),
        ..JobProfile::default()
    }
}

/// A resume of the set as the service sees one with only these fields: name
/// `resumes/{id}`, the summary, each experience line as the description of an undated
/// position, the listed skills (no years or level).
pub fn candidate_profile(resume: &Resume) -> CandidateProfile {
    CandidateProfile {
        name: format!("resumes/{}", resume.id),
        owner: "users/eval".to_string(),
        version: 1,
        summary: resume.summary.clone(),
        experience: resume
            .experience
            .iter()
            .map(|line| ExperienceItem {
                description: line.clone(),
                ..ExperienceItem::default()
            })
            .collect(),
        skills: resume
            .skills
            .iter()
            .map(|s| SkillItem {
                name: s.clone(),
                ..SkillItem::default()
            })
            .collect(),
        ..CandidateProfile::default()
    }
}

/// The embedder configurations of the matching service, each with its own cosine band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceEmbedder {
    /// `TALENTMESH_MATCHING_EMBEDDINGS_URL=builtin`.
    Builtin,
    /// The model server, raw (`TALENTMESH_MATCHING_CENTER_LANGUAGES=false`).
    Model,
    /// The model server centered on the shipped language means (the service's default).
    CenteredModel,
}

/// The cosine band the matching service uses by default for `embedder`, read from the
/// service's own configuration loader with only the variables that pick the embedder set, so
/// the eval follows the service when its defaults change. Errors when that configuration is
/// refused.
pub fn service_calibration(embedder: ServiceEmbedder) -> anyhow::Result<Calibration> {
    let vars: Vec<(&str, &str)> = match embedder {
        ServiceEmbedder::Builtin => vec![("TALENTMESH_MATCHING_EMBEDDINGS_URL", "builtin")],
        ServiceEmbedder::Model => vec![("TALENTMESH_MATCHING_CENTER_LANGUAGES", "false")],
        ServiceEmbedder::CenteredModel => Vec::new(),
    };
    let config = talentmesh_matching::Config::load(Env::from_map(vars))
        .context("the matching service's default configuration")?;
    Ok(Calibration {
        floor: config.semantic_floor,
        ceiling: config.semantic_ceiling,
    })
}

/// The profiles of the set, in pair order, built once and scored many times.
#[derive(Debug, Clone)]
pub struct Profiles {
    pub jobs: Vec<JobProfile>,
    pub candidates: Vec<CandidateProfile>,
}

impl Profiles {
    /// The job and candidate profile of every pair.
    pub fn of(pairs: &[Pair]) -> Self {
        Self {
            jobs: pairs.iter().map(|p| job_profile(&p.job)).collect(),
            candidates: pairs.iter().map(|p| candidate_profile(&p.resume)).collect(),
        }
    }
}

/// The service's full score of one (job, candidate) with the embedders' `cosine` of their
/// vectors: no preferences, no learned skill relations.
pub fn score_pair(
    job: &JobProfile,
    candidate: &CandidateProfile,
    cosine: f32,
    calibration: Calibration,
    weights: &Weights,
) -> Match {
    domain::score(
        job,
        candidate,
        Some(calibration.value(cosine)),
        &RelatedSkills::new(),
        &Preferences::default(),
        weights,
    )
}

/// The component values of a match in `ComponentKind::ALL` order, unknown as 0 (as the
/// service stores feedback).
pub fn component_values(m: &Match) -> [f64; 8] {
    let mut values = [0.0; 8];
    for c in &m.components {
        values[c.kind.index()] = c.value.unwrap_or(0.0);
    }
    values
}

/// The components of every (resume, job) that do not depend on the embedder or the weights:
/// `domain::score` once per pair with no semantic value, so each embedder and each set of
/// weights costs a weighted sum instead of another skill search (the search is most of a
/// score's time). [`Components::score`] equals `domain::score(..).score` bit for bit (tested).
#[derive(Debug, Clone)]
pub struct Components {
    /// `values[r][j]`: resume `r` against job `j`, in `ComponentKind::ALL` order, clamped to
    /// 0..=1; `None` unknown. The semantic slot is always `None` here.
    values: Vec<Vec<[Option<f64>; 8]>>,
}

impl Components {
    /// Scores every candidate of `profiles` against every job once.
    pub fn of(profiles: &Profiles) -> Self {
        let (related, prefs, weights) = (
            RelatedSkills::new(),
            Preferences::default(),
            Weights::default(),
        );
        let values = profiles
            .candidates
            .iter()
            .map(|c| {
                profiles
                    .jobs
                    .iter()
                    .map(|j| {
                        let m = domain::score(j, c, None, &related, &prefs, &weights);
                        let mut v = [None; 8];
                        for comp in &m.components {
                            v[comp.kind.index()] = comp.value;
                        }
                        v
                    })
                    .collect()
            })
            .collect();
        Self { values }
    }

    /// The values of (resume `r`, job `j`) with the semantic value of `cosine`; `None` when
    /// either index is out of range.
    pub fn values(
        &self,
        r: usize,
        j: usize,
        cosine: f32,
        calibration: Calibration,
    ) -> Option<[Option<f64>; 8]> {
        let mut v = *self.values.get(r)?.get(j)?;
        let semantic = calibration.value(cosine);
        v[ComponentKind::Semantic.index()] =
            (!semantic.is_nan()).then(|| f64::from(semantic).clamp(0.0, 1.0));
        Some(v)
    }

    /// The full score of (resume `r`, job `j`) under `weights` with the embedders' `cosine`,
    /// summed as `domain::score` sums it (a negative or non-finite weight counts 0, unknown
    /// contributes 0, in component order); `None` when an index is out of range.
    pub fn score(
        &self,
        r: usize,
        j: usize,
        cosine: f32,
        calibration: Calibration,
        weights: &Weights,
    ) -> Option<f64> {
        let values = self.values(r, j, cosine, calibration)?;
        Some(
            values
                .iter()
                .zip(weights.to_array())
                .map(|(v, w)| {
                    let w = if w.is_finite() { w.max(0.0) } else { 0.0 };
                    v.map_or(0.0, |v| w * v)
                })
                .sum(),
        )
    }

    /// The full score of every resume against every job: `scores[r][j]`, from the embedders'
    /// `cosines[r][j]` (`crate::rank::cosine_scores`). Errors when the shapes disagree.
    pub fn score_matrix(
        &self,
        cosines: &[Vec<f64>],
        calibration: Calibration,
        weights: &Weights,
    ) -> anyhow::Result<Vec<Vec<f64>>> {
        if cosines.len() != self.values.len()
            || cosines
                .iter()
                .zip(&self.values)
                .any(|(c, v)| c.len() != v.len())
        {
            bail!(
                "{} cosine rows for {} resumes",
                cosines.len(),
                self.values.len()
            );
        }
        cosines
            .iter()
            .enumerate()
            .map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(|(j, &cos)| {
                        self.score(r, j, cos as f32, calibration, weights)
                            .context("index out of range")
                    })
                    .collect()
            })
            .collect()
    }
}

/// The ranking rows of the full score: every resume against every job by
/// [`Components::score_matrix`],
/// named `name`; the time is the scoring alone (the cosines are the embedder's, reused).
pub fn scorer_report(
    name: &str,
    pairs: &[Pair],
    components: &Components,
    cosines: &[Vec<f64>],
    calibration: Calibration,
    weights: &Weights,
) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    let scores = components.score_matrix(cosines, calibration, weights)?;
    report(name, pairs, &scores, started.elapsed().as_secs_f64())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dataset::{self, Lang};

    fn job() -> Job {
        Job {
            id: "j1".into(),
            lang: Lang::En,
            title: "Backend Engineer (Rust)".into(),
            description: "Build services in Rust with PostgreSQL.".into(),
            skills: vec!["Rust".into(), "PostgreSQL".into(), "Kafka".into()],
            city: "Shanghai".into(),
        }
    }

    fn resume(skills: &[&str]) -> Resume {
        Resume {
            id: "r1".into(),
            lang: Lang::En,
            summary: "Backend engineer.".into(),
            experience: vec!["2021–2024 Acme: wrote services".into()],
            skills: skills.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_service_calibrations_differ_per_embedder_and_spread_the_band() {
        let all = [
            ServiceEmbedder::Builtin,
            ServiceEmbedder::Model,
            ServiceEmbedder::CenteredModel,
        ]
        .map(|e| service_calibration(e).unwrap());
        assert_ne!(all[0], all[1]);
        assert_ne!(all[1], all[2]);
        for c in all {
            assert!(c.ceiling > c.floor, "{c:?}");
            assert!((c.value(c.floor) - 0.05).abs() < 1e-4, "{c:?}");
            assert!((c.value(c.ceiling) - 0.95).abs() < 1e-4, "{c:?}");
            let mid = (c.floor + c.ceiling) / 2.0;
            assert!(c.value(mid - 0.001) < c.value(mid) && c.value(mid) < c.value(mid + 0.001));
        }
    }

    #[test]
    fn only_semantic_and_required_skills_are_known_and_they_make_the_score() {
        let calibration = service_calibration(ServiceEmbedder::Model).unwrap();
        let weights = Weights::default();
        let (j, c) = (
            job_profile(&job()),
            candidate_profile(&resume(&["Rust", "Kafka"])),
        );
        let mid = (calibration.floor + calibration.ceiling) / 2.0;
        let m = score_pair(&j, &c, mid, calibration, &weights);
        let known: Vec<ComponentKind> = m
            .components
            .iter()
            .filter(|c| c.value.is_some())
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            known,
            [ComponentKind::Semantic, ComponentKind::RequiredSkills]
        );
        let values = component_values(&m);
        assert!((values[0] - 0.5).abs() < 1e-6, "{values:?}");
        assert!((values[1] - 2.0 / 3.0).abs() < 1e-9, "{values:?}");
        let expected = weights.semantic * values[0] + weights.required_skills * values[1];
        assert!((m.score - expected).abs() < 1e-12);
    }

    #[test]
    fn the_matrix_is_resumes_by_jobs_and_checks_its_shape() {
        let jobs = [
            job(),
            Job {
                id: "j2".into(),
                skills: vec!["Go".into()],
                ..job()
            },
        ];
        let profiles = Profiles {
            jobs: jobs.iter().map(job_profile).collect(),
            candidates: vec![candidate_profile(&resume(&["Go"]))],
        };
        let components = Components::of(&profiles);
        let calibration = service_calibration(ServiceEmbedder::Model).unwrap();
        let weights = Weights::default();
        let m = components
            .score_matrix(&[vec![0.9, 0.9]], calibration, &weights)
            .unwrap();
        assert_eq!(m.len(), 1);
        assert!(m[0][1] > m[0][0], "the Go resume fits the Go job: {m:?}");
        assert!(components
            .score_matrix(&[vec![0.9]], calibration, &weights)
            .is_err());
        assert!(components.score(1, 0, 0.9, calibration, &weights).is_none());
    }

    #[test]
    fn the_shared_components_score_exactly_as_the_service_does() {
        let pairs = dataset::load_dir(&dataset::data_dir()).unwrap();
        // Eight pairs spread over the set (roles, levels and languages).
        let some: Vec<Pair> = pairs.into_iter().step_by(29).take(8).collect();
        let profiles = Profiles::of(&some);
        let components = Components::of(&profiles);
        let odd = Weights::from_array([0.1, 0.5, -1.0, f64::NAN, 0.2, 0.0, 0.3, 0.05]);
        let calibrations = [
            service_calibration(ServiceEmbedder::Builtin).unwrap(),
            service_calibration(ServiceEmbedder::Model).unwrap(),
        ];
        for (r, c) in profiles.candidates.iter().enumerate() {
            for (j, job) in profiles.jobs.iter().enumerate() {
                for cosine in [-0.2, 0.3, 0.86, 0.99, f32::NAN] {
                    for calibration in calibrations {
                        for weights in [Weights::default(), odd] {
                            let m = score_pair(job, c, cosine, calibration, &weights);
                            let fast = components
                                .score(r, j, cosine, calibration, &weights)
                                .unwrap();
                            assert_eq!(fast.to_bits(), m.score.to_bits(), "{r} {j} {cosine}");
                            let values = components.values(r, j, cosine, calibration).unwrap();
                            let slow: Vec<Option<f64>> =
                                m.components.iter().map(|c| c.value).collect();
                            assert_eq!(values.to_vec(), slow);
                        }
                    }
                }
            }
        }
    }
}
