//! Related skills: a skill the job asks for that the candidate lacks, but a close one they
//! have, counts in part (a Go developer for a Rust job). The service learns the strengths
//! from co-occurrence in jobs and resumes (`(:Skill)-[:RELATED_TO]->(:Skill)` in Neo4j).

use std::collections::HashMap;

use talentmesh_embed::skills::canonical;

/// What a related skill is worth against the one asked for: `strength × RELATED_CREDIT`, so
/// even the strongest relation (1.0) counts half a match.
pub const RELATED_CREDIT: f64 = 0.5;

/// Symmetric map from a canonical skill to related canonical skills with a strength in 0..=1.
/// Names are canonicalised on the way in, so `k8s` and `Kubernetes` are one key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelatedSkills {
    links: HashMap<String, Vec<(String, f64)>>,
}

impl RelatedSkills {
    /// No relations: every skill counts only as itself.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `a` and `b` are related with `strength` (clamped to 0..=1; not finite or
    /// not positive is ignored, as is a skill related to itself). Both directions are kept,
    /// and a pair recorded twice keeps its larger strength.
    pub fn insert(&mut self, a: &str, b: &str, strength: f64) {
        if !(strength.is_finite() && strength > 0.0) {
            return;
        }
        let (a, b) = (canonical(a), canonical(b));
        if a.is_empty() || b.is_empty() || a == b {
            return;
        }
        let strength = strength.min(1.0);
        self.link(&a, &b, strength);
        self.link(&b, &a, strength);
    }

    fn link(&mut self, from: &str, to: &str, strength: f64) {
        let list = self.links.entry(from.to_string()).or_default();
        match list.iter_mut().find(|(s, _)| s == to) {
            Some(entry) => entry.1 = entry.1.max(strength),
            None => list.push((to.to_string(), strength)),
        }
        // Strongest first, then by name: the order partial matches are tried in, fixed.
        list.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    }

    /// Skills related to `skill` (canonical), strongest first.
    pub fn related(&self, skill: &str) -> &[(String, f64)] {
        self.links.get(skill).map_or(&[], Vec::as_slice)
    }

    /// How strongly two canonical skills are related; 0 when not at all.
    pub fn strength(&self, a: &str, b: &str) -> f64 {
        self.related(a)
            .iter()
            .find(|(s, _)| s == b)
            .map_or(0.0, |(_, w)| *w)
    }
}

/// From the shape the service reads from Neo4j: skill → [(related skill, strength)].
impl From<HashMap<String, Vec<(String, f64)>>> for RelatedSkills {
    fn from(map: HashMap<String, Vec<(String, f64)>>) -> Self {
        let mut pairs: Vec<_> = map
            .into_iter()
            .flat_map(|(a, list)| list.into_iter().map(move |(b, w)| (a.clone(), b, w)))
            .collect();
        // Insertion order does not change the result, but sorting keeps it obviously so.
        pairs.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
        let mut out = Self::new();
        for (a, b, w) in pairs {
            out.insert(&a, &b, w);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_are_symmetric_canonical_and_clamped() {
        let mut r = RelatedSkills::new();
        r.insert("Go", "Rust", 0.8);
        r.insert("rust", "golang", 0.6);
        r.insert("k8s", "Docker", 3.0);
        r.insert("rust", "rust", 1.0);
        r.insert("rust", "c++", f64::NAN);
        r.insert("rust", "c++", -1.0);
        assert_eq!(r.strength("rust", "go"), 0.8);
        assert_eq!(r.strength("go", "rust"), 0.8);
        assert_eq!(r.strength("docker", "kubernetes"), 1.0);
        assert_eq!(r.strength("rust", "rust"), 0.0);
        assert_eq!(r.strength("rust", "c++"), 0.0);
        assert_eq!(r.related("unknown"), &[]);
    }

    #[test]
    fn built_from_a_map_strongest_first() {
        let map = HashMap::from([
            (
                "Rust".to_string(),
                vec![("Go".to_string(), 0.4), ("C++".to_string(), 0.7)],
            ),
            ("Java".to_string(), vec![("Rust".to_string(), 0.4)]),
        ]);
        let r = RelatedSkills::from(map);
        let names: Vec<&str> = r.related("rust").iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["c++", "go", "java"]);
    }
}
