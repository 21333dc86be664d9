//! How alike two jobs are ("similar jobs"): the same eight components as a candidate's match,
//! of which two jobs can be compared on three — text similarity and the overlap of required
//! and of preferred skills (Jaccard, canonical names so synonyms count as one).

use super::profile::JobProfile;
use super::score::{ComponentKind, Match, Weights};

/// The canonical required and preferred skills of a job.
fn skills_of(job: &JobProfile) -> (Vec<String>, Vec<String>) {
    let canonical = |list: &[String]| -> Vec<String> {
        let mut out: Vec<String> = list
            .iter()
            .map(|s| talentmesh_embed::skills::canonical(s))
            .collect();
        out.sort();
        out.dedup();
        out
    };
    (
        canonical(&job.required_skills),
        canonical(&job.preferred_skills),
    )
}

/// Jaccard similarity of two skill sets (`None` when both are empty).
fn overlap(a: &[String], b: &[String]) -> Option<(f64, usize, usize)> {
    let union = a
        .iter()
        .chain(b)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if union == 0 {
        return None;
    }
    let shared = a.iter().filter(|s| b.contains(s)).count();
    Some((shared as f64 / union as f64, shared, union))
}

/// How alike two jobs are, as a score of the same eight components: the text similarity and
/// the overlap (Jaccard) of required and of preferred skills; the others compare a candidate
/// with a job and are unknown between two jobs.
pub fn job_similarity(
    a: &JobProfile,
    b: &JobProfile,
    semantic: Option<f32>,
    weights: &Weights,
) -> Match {
    let (a_required, a_preferred) = skills_of(a);
    let (b_required, b_preferred) = skills_of(b);
    let skills = |x: &[String], y: &[String], what: &str| match overlap(x, y) {
        Some((v, shared, union)) => (Some(v), format!("{shared} of {union} {what} skills shared")),
        None => (None, format!("unknown: neither job lists {what} skills")),
    };
    let outcomes = ComponentKind::ALL.map(|kind| match kind {
        ComponentKind::Semantic => match semantic.filter(|c| !c.is_nan()) {
            Some(c) => {
                let v = f64::from(c).clamp(0.0, 1.0);
                (Some(v), format!("text similarity {v:.2}"))
            }
            None => (
                None,
                "unknown: no embedding for one of the jobs".to_string(),
            ),
        },
        ComponentKind::RequiredSkills => skills(&a_required, &b_required, "required"),
        ComponentKind::PreferredSkills => skills(&a_preferred, &b_preferred, "preferred"),
        _ => (
            None,
            "unknown: compares a candidate with a job, not two jobs".to_string(),
        ),
    });
    Match::of(outcomes, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(required: &[&str], preferred: &[&str]) -> JobProfile {
        JobProfile {
            required_skills: required.iter().map(|s| (*s).to_string()).collect(),
            preferred_skills: preferred.iter().map(|s| (*s).to_string()).collect(),
            ..JobProfile::default()
        }
    }

    #[test]
    fn synonyms_overlap_and_the_rest_is_unknown() {
        let w = Weights::default();
        let m = job_similarity(
            &job(&["k8s", "Go"], &[]),
            &job(&["Kubernetes", "Rust"], &[]),
            Some(0.5),
            &w,
        );
        let required = &m.components[ComponentKind::RequiredSkills.index()];
        assert_eq!(required.value, Some(1.0 / 3.0));
        assert_eq!(
            m.components[ComponentKind::PreferredSkills.index()].value,
            None
        );
        assert_eq!(m.components[ComponentKind::Experience.index()].value, None);
        let sum: f64 = m.components.iter().map(|c| c.contribution).sum();
        assert_eq!(m.score, sum);
    }
}
