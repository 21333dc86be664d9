//! Vocabulary embedders: one dimension per canonical name of a vocabulary — the skills of
//! [`crate::skills`] or the career stages of [`crate::seniority`].
//!
//! A text's vector says which names it mentions and how often, whatever the language or
//! spelling (`k8s`, `Kubernetes` and `容器编排` are one dimension; `实习生` and `intern` another),
//! so a Chinese resume and an English job that name the same stack or stage meet here even
//! where a small multilingual model keeps them apart. On its own such a vector is a poor ranker
//! (many texts share a few common skills, and it knows nothing else); it is meant as a block of
//! a [`HybridEmbedder`](crate::HybridEmbedder).

use crate::vector::l2_normalise;
use crate::{seniority, skills, EmbedError, EmbedRole, Embedder};

/// (canonical name, aliases in normal form), as in [`skills`] and [`seniority`].
type Vocabulary = &'static [(&'static str, &'static [&'static str])];

/// An [`Embedder`] whose dimension `i` is the `i`-th canonical name of its vocabulary: its value
/// is `1 + ln(mentions)` (sublinear term frequency, as the builtin embedder weighs features) for
/// a mentioned name, 0 otherwise, and the vector is L2-normalised. A text that mentions no name
/// gets the zero vector. The role is ignored (queries and passages are embedded alike). Never
/// fails; no I/O.
///
/// Its [`Embedder::name`] is `{kind}-{count}-{fingerprint}`, the fingerprint a hash of every
/// canonical name and alias in order, so any change to the vocabulary (which moves vectors)
/// changes the name by itself.
#[derive(Debug, Clone)]
pub struct VocabularyEmbedder {
    vocabulary: Vocabulary,
    name: String,
}

impl VocabularyEmbedder {
    /// The skills of [`skills::vocabulary`], name `skills-{count}-{fingerprint}`.
    pub fn skills() -> VocabularyEmbedder {
        VocabularyEmbedder::new("skills", skills::VOCABULARY)
    }

    /// The career stages of [`seniority`], name `seniority-{count}-{fingerprint}`.
    pub fn seniority() -> VocabularyEmbedder {
        VocabularyEmbedder::new("seniority", seniority::VOCABULARY)
    }

    fn new(kind: &str, vocabulary: Vocabulary) -> VocabularyEmbedder {
        let mut key = String::new();
        for (canon, aliases) in vocabulary {
            key.push_str(canon);
            key.push('\u{1}');
            for alias in *aliases {
                key.push_str(alias);
                key.push('\u{2}');
            }
            key.push('\u{3}');
        }
        let fingerprint = crate::builtin::hash(&key) >> 32;
        VocabularyEmbedder {
            vocabulary,
            name: format!("{kind}-{}-{fingerprint:08x}", vocabulary.len()),
        }
    }

    /// The vector of one text: [`Embedder::dimensions`] values, L2 norm 1, or all zeros when
    /// it mentions no name of the vocabulary. The synchronous form of [`Embedder::embed`].
    pub fn embed_text(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.vocabulary.len()];
        for (name, n) in skills::count_mentions(self.vocabulary, text) {
            if let Some(i) = self.vocabulary.iter().position(|(c, _)| *c == name) {
                v[i] = 1.0 + (n as f32).ln();
            }
        }
        l2_normalise(&mut v);
        v
    }
}

impl Embedder for VocabularyEmbedder {
    async fn embed(&self, _role: EmbedRole, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.embed_text(t)).collect())
    }

    fn dimensions(&self) -> usize {
        self.vocabulary.len()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{cosine, dot};

    #[test]
    fn one_dimension_per_skill_whatever_the_language() {
        let e = VocabularyEmbedder::skills();
        assert_eq!(e.dimensions(), skills::vocabulary().count());
        let zh = e.embed_text("熟悉容器编排与微服务");
        let en = e.embed_text("Kubernetes and microservices");
        assert!((cosine(&zh, &en) - 1.0).abs() < 1e-6);
        assert_eq!(zh.iter().filter(|x| **x != 0.0).count(), 2);
        assert!((dot(&zh, &zh) - 1.0).abs() < 1e-6);
        // Mentioned twice weighs 1 + ln 2 against once.
        let v = e.embed_text("k8s k8s rust");
        let k = skills::vocabulary()
            .position(|(c, _)| c == "kubernetes")
            .unwrap();
        let r = skills::vocabulary().position(|(c, _)| c == "rust").unwrap();
        assert!((v[k] / v[r] - (1.0 + 2f32.ln())).abs() < 1e-6);
    }

    #[test]
    fn stages_are_one_dimension_each() {
        let e = VocabularyEmbedder::seniority();
        assert_eq!(e.dimensions(), 3);
        assert_eq!(
            e.embed_text("Go后端开发实习生"),
            e.embed_text("Go Backend Intern")
        );
        assert!(
            cosine(
                &e.embed_text("高级Java工程师"),
                &e.embed_text("Java Intern")
            ) == 0.0
        );
    }

    #[test]
    fn nothing_named_is_the_zero_vector_and_names_are_stable() {
        let e = VocabularyEmbedder::skills();
        assert!(e.embed_text("喜欢爬山").iter().all(|x| *x == 0.0));
        assert_eq!(e.name(), VocabularyEmbedder::skills().name());
        assert!(e.name().starts_with(&format!("skills-{}-", e.dimensions())));
        assert!(VocabularyEmbedder::seniority()
            .name()
            .starts_with("seniority-3-"));
    }
}
